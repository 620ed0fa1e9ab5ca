// Real kernel: a route whose encap holds what Voltron never writes (another tunnel type, an SRH
// with an HMAC, seg6local flavors) sends packets otherwise than the route its modelled fields
// describe. Read as that route, it made a declared plain route look in sync ("No changes") and
// `show` printed it as declarable. Like a multipath route it is foreign and holds the kernel key:
// `plan` refuses, naming it and the `ip route del` that frees the key; `show` lists it under
// x-unmanaged-routes. A route that only counts (`count`) stays the declared route.
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Sandbox } from '../support/sandbox';

/** Declared route, the ip command writing it with an unmodelled encap, the form show names. */
const CASES = [
  { route: '{ to: 10.60.0.0/16, dev: s0 }', ip: ['route', 'add', '10.60.0.0/16', 'encap', 'ip', 'id', '5', 'dst', '10.9.0.2', 'dev', 's0'], form: 'encap ip' },
  {
    route: '{ to: "2001:db8:e::/48", dev: s0, mtu: 1436, encap: { type: seg6, mode: encap, segments: [ "fc00:1::1" ] } }',
    ip: ['-6', 'route', 'add', '2001:db8:e::/48', 'encap', 'seg6', 'mode', 'encap', 'segs', 'fc00:1::1', 'hmac', '7', 'dev', 's0', 'mtu', '1436'],
    form: 'encap seg6 hmac',
  },
  {
    route: '{ to: "fc00:a::21", dev: s0, encap: { type: seg6local, action: End } }',
    ip: ['-6', 'route', 'add', 'fc00:a::21/128', 'encap', 'seg6local', 'action', 'End', 'flavors', 'next-csid', 'dev', 's0'],
    form: 'encap seg6local End flavors',
  },
];
const BASE = `links:
  - { name: s0, type: veth, peer: { name: s1 } }
addresses:
  - { address: "2001:db8:9::1/64", dev: s0 }
  - { address: 10.9.0.1/24, dev: s0 }
`;

describe('routes with an encap Voltron never writes are foreign (real kernel)', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'voltron-route-encap-'));
  const sb = new Sandbox('rue', dir);
  after(() => {
    sb.cleanup();
    fs.rmSync(dir, { recursive: true, force: true });
  });
  const write = (routes: readonly string[]) => fs.writeFileSync(path.join(dir, 'net.yaml'), `${BASE}routes:\n${routes.map((r) => `  - ${r}\n`).join('')}`);

  it('a route that only counts is the declared route: adopting it plans nothing', () => {
    // All made by hand, as an operator would, then adopted.
    execFileSync('ip', ['netns', 'add', sb.ns('')]);
    for (const c of [
      ['link', 'set', 'lo', 'up'],
      ['link', 'add', 's0', 'type', 'veth', 'peer', 'name', 's1'],
      ['link', 'set', 's0', 'up'],
      ['link', 'set', 's1', 'up'],
      ['addr', 'add', '2001:db8:9::1/64', 'dev', 's0', 'nodad'],
      ['addr', 'add', '10.9.0.1/24', 'dev', 's0'],
      ['-6', 'route', 'add', 'fc00:a::20/128', 'encap', 'seg6local', 'action', 'End', 'count', 'dev', 's0'],
    ])
      sb.ip('', c);
    write(['{ to: "fc00:a::20", dev: s0, encap: { type: seg6local, action: End } }']);
    const p = sb.run(['plan', '--detailed-exitcode']);
    assert.equal(p.code, 0, p.stdout + p.stderr);
  });

  it('plan refuses each declared route whose key such a route holds; show lists them', () => {
    // The kernel may lack one (HMAC, NEXT-C-SID flavors): only those it takes are checked.
    const taken = CASES.filter((c) => spawnSync('ip', ['-n', sb.ns(''), ...c.ip]).status === 0);
    assert.ok(taken.some((c) => c.form === 'encap ip'), 'the kernel takes an ip encap');
    write(taken.map((c) => c.route));
    const p = sb.run(['plan']);
    assert.equal(p.code, 1, p.stdout + p.stderr);
    for (const c of taken) assert.match(p.stderr, new RegExp(`a foreign route \\(${c.form} dev s0 proto boot\\) holds its destination`), c.form);
    const s = sb.run(['show']);
    assert.equal(s.code, 0, s.stderr);
    for (const c of taken) assert.match(s.stdout, new RegExp(`form: ${c.form}\\n`));
    // The oracle: the foreign routes are still there as written.
    assert.match(execFileSync('ip', ['-n', sb.ns(''), 'route', 'show', '10.60.0.0/16'], { encoding: 'utf8' }), /encap ip id 5/);
  });
});
