// Real kernel: an address written with what Voltron never writes (`noprefixroute`: no subnet
// route, the neighbours unreachable; another scope; a lifetime: it goes when it expires; a prefix
// route metric), or that failed DAD (`dadfailed`: never usable, for good), is not the declared
// address, though it has its device and CIDR. Read as that address, it made the declared one
// look in sync ("No changes"). Now `plan` refuses, naming it
// and the `ip addr del` that frees it; `show` lists it under x-unmanaged-addresses; once it is
// deleted, Voltron adds its own, with the subnet route (`ip -j` is the oracle).
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Sandbox } from '../support/sandbox';

/** Declared address, the ip options that make it another one, the form plan and show name. */
const CASES = [
  { address: '10.1.0.1/24', opts: ['noprefixroute'], form: 'noprefixroute' },
  { address: '10.3.0.1/24', opts: ['scope', 'link'], form: 'scope link' },
  { address: '10.4.0.1/24', opts: ['valid_lft', '3000', 'preferred_lft', '3000'], form: 'dynamic' },
  { address: '10.6.0.1/24', opts: ['metric', '50'], form: 'metric 50' },
  { address: '2001:db8:1::1/64', opts: ['nodad', 'noprefixroute'], form: 'noprefixroute' },
  { address: '2001:db8:2::1/64', opts: ['nodad', 'valid_lft', '3000', 'preferred_lft', '3000'], form: 'dynamic' },
  // Added with DAD while the other veth end has it: dadfailed, never usable.
  { address: '2001:db8:3::1/64', opts: [], form: 'dadfailed' },
];
/** The duplicate on d1 that makes DAD fail for d0's 2001:db8:3::1. */
const DUPLICATE = ['2001:db8:3::1/64', 'dev', 'd1', 'nodad'];

describe('addresses with what Voltron never writes are foreign (real kernel)', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'voltron-addr-unmodelled-'));
  fs.writeFileSync(
    path.join(dir, 'net.yaml'),
    `links:\n  - { name: d0, type: veth, peer: { name: d1 } }\naddresses:\n${CASES.map((c) => `  - { address: "${c.address}", dev: d0 }\n`).join('')}`,
  );
  const sb = new Sandbox('aum', dir);
  after(() => {
    sb.cleanup();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('plan refuses each, naming it and the ip addr del that frees it; show lists them', () => {
    execFileSync('ip', ['netns', 'add', sb.ns('')]);
    for (const c of [['link', 'set', 'lo', 'up'], ['link', 'add', 'd0', 'type', 'veth', 'peer', 'name', 'd1'], ['link', 'set', 'd0', 'up'], ['link', 'set', 'd1', 'up']]) sb.ip('', c);
    sb.ip('', ['addr', 'add', ...DUPLICATE]);
    for (const c of CASES) sb.ip('', ['addr', 'add', c.address, 'dev', 'd0', ...c.opts]);
    // DAD takes about a second (one probe, then the answer from d1).
    for (let i = 0; i < 50 && !sb.ip('', ['-6', 'addr', 'show', 'dev', 'd0', 'dadfailed']).includes('2001:db8:3::1'); i++) execFileSync('sleep', ['0.2']);
    const p = sb.run(['plan']);
    assert.equal(p.code, 1, p.stdout + p.stderr);
    for (const c of CASES) assert.ok(p.stderr.includes(`address (root)/d0 ${c.address}: the address is there with what Voltron never writes (${c.form})`), `${c.form}\n${p.stderr}`);
    assert.match(p.stderr, /delete it yourself: ip -n \S+ addr del 10\.1\.0\.1\/24 dev d0/);
    const s = sb.run(['show']);
    assert.equal(s.code, 0, s.stderr);
    for (const c of CASES) assert.match(s.stdout, new RegExp(`address: ${c.address.replace(/\./g, '\\.')}\\n\\s+dev: d0\\n\\s+form: ${c.form}\\n`));
  });

  it('deleted by hand, they are added as declared, with their subnet routes', () => {
    for (const c of CASES) sb.ip('', ['addr', 'del', c.address, 'dev', 'd0']);
    sb.ip('', ['addr', 'del', ...DUPLICATE.slice(0, 3)]);
    const a = sb.run(['apply', '--auto-approve']);
    assert.equal(a.code, 0, a.stdout + a.stderr);
    const [d0] = sb.ipj('', ['addr', 'show', 'dev', 'd0']);
    for (const c of CASES) {
      const [ip, len] = c.address.split('/');
      const info = d0.addr_info.find((x: any) => x.local === ip && String(x.prefixlen) === len);
      assert.ok(info, c.address);
      assert.equal(info.noprefixroute, undefined, c.address);
      assert.equal(info.scope, 'global', c.address);
      assert.equal(info.valid_life_time, 4294967295, c.address);
    }
    assert.equal(sb.ipj('', ['route', 'show', '10.1.0.0/24']).length, 1, 'the subnet route is back');
    const p = sb.run(['plan', '--detailed-exitcode']);
    assert.equal(p.code, 0, p.stdout + p.stderr);
  });
});
