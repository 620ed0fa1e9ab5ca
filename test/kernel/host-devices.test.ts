// Real kernel: links the config names in the root namespace without declaring them (an address's
// or route's dev, a macvlan's parent, a VXLAN's underlay) are host devices (eth0, a host bridge). Only the live root says whether they are there: one that is not
// is refused at plan time, naming the file, line and field, before any kernel write (it used to
// fail mid-apply, ENODEV, and roll back). Once the devices exist, the same config applies, and
// destroy leaves them.
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Sandbox } from '../support/sandbox';

const CONFIG = [
  'links:',
  '  - { name: m0, type: macvlan, macvlan: { parent: eth9, mode: bridge } }',
  '  - { name: vx0, type: vxlan, vxlan: { vni: 7, dev: hostbr, remote: 10.91.0.2 } }',
  // Not host devices: a link the plan creates, and lo (the sandbox root does not exist yet).
  '  - { name: br9, type: bridge }',
  '  - { name: m9, type: macvlan, macvlan: { parent: br9, mode: bridge } }',
  'addresses:',
  '  - { address: 10.91.0.1/24, dev: eth9 }',
  '  - { address: 10.94.0.1/24, dev: br9 }',
  'routes:',
  '  - { to: 10.92.0.0/16, dev: eth9 }',
  '  - { to: 10.93.0.0/24, dev: lo }',
  '',
].join('\n');

describe('host devices named in the root namespace', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'voltron-hd-'));
  fs.writeFileSync(path.join(dir, 'network.yaml'), CONFIG);
  const sb = new Sandbox('hdv', dir);
  after(() => {
    sb.cleanup();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('a host device that is not there is refused at plan time with file:line and field, before any write; once it is, the config applies and destroy leaves it', () => {
    for (const cmd of [['plan'], ['apply', '--auto-approve']]) {
      const r = sb.run(cmd);
      assert.equal(r.code, 1, r.stdout + r.stderr);
      assert.match(r.stderr, /refusing to plan/);
      assert.match(r.stderr, /network\.yaml:2:\d+: \/links\/0\/macvlan\/parent: link \(root\)\/m0 \(macvlan\): link 'eth9' is neither declared nor in the root namespace.*\(ENODEV\)/);
      assert.match(r.stderr, /network\.yaml:3:\d+: \/links\/1\/vxlan\/dev: link \(root\)\/vx0 \(vxlan\): link 'hostbr' is neither declared/);
      assert.match(r.stderr, /network\.yaml:7:\d+: \/addresses\/0\/dev: address \(root\)\/eth9 10\.91\.0\.1\/24: link 'eth9'/);
      assert.match(r.stderr, /network\.yaml:10:\d+: \/routes\/0\/dev: route \(root\) 10\.92\.0\.0\/16: link 'eth9'/);
      assert.doesNotMatch(r.stderr, /link '(br9|lo)'/, 'a declared link and lo are no host devices');
      assert.deepEqual(sb.namespaces(), [], 'nothing was written: not even the sandbox namespace');
    }
    // The host: its uplink and its bridge exist, made by someone else.
    execFileSync('ip', ['netns', 'add', sb.ns('')]);
    sb.ip('', ['link', 'add', 'eth9', 'type', 'veth', 'peer', 'name', 'eth9p']);
    sb.ip('', ['link', 'add', 'hostbr', 'type', 'bridge']);
    for (const l of ['lo', 'eth9', 'eth9p', 'hostbr']) sb.ip('', ['link', 'set', l, 'up']);
    const a = sb.run(['apply', '--auto-approve']);
    assert.equal(a.code, 0, a.stdout + a.stderr);
    assert.deepEqual(sb.ipj('', ['-4', 'addr', 'show', 'eth9']).flatMap((l: { addr_info: { local: string }[] }) => l.addr_info.map((x) => x.local)), ['10.91.0.1']);
    assert.equal(sb.ipj('', ['-d', 'link', 'show', 'vx0'])[0].linkinfo.info_data.link, 'hostbr');
    assert.equal(sb.ipj('', ['-d', 'link', 'show', 'm0'])[0].link, 'eth9');
    assert.equal(sb.run(['plan', '--detailed-exitcode']).code, 0);
    const d = sb.run(['destroy', '--auto-approve']);
    assert.equal(d.code, 0, d.stdout + d.stderr);
    assert.equal(sb.ipj('', ['link', 'show', 'eth9']).length, 1, 'the host devices stay');
    assert.equal(sb.ipj('', ['link', 'show', 'hostbr']).length, 1);
    assert.deepEqual(sb.ipj('', ['-4', 'addr', 'show', 'eth9']).flatMap((l: { addr_info: unknown[] }) => l.addr_info), [], 'Voltron\'s address is gone');
  });
});

describe('host devices: ignored, deleted by the plan, a BPF attach', () => {
  const dirs: string[] = [];
  const sandboxes: Sandbox[] = [];
  const make = (tag: string, config: string, host: boolean): Sandbox => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'voltron-hd-'));
    fs.writeFileSync(path.join(dir, 'network.yaml'), config);
    dirs.push(dir);
    const sb = new Sandbox(tag, dir);
    sandboxes.push(sb);
    if (host) {
      execFileSync('ip', ['netns', 'add', sb.ns('')]);
      sb.ip('', ['link', 'set', 'lo', 'up']);
    }
    return sb;
  };
  after(() => {
    for (const sb of sandboxes) sb.cleanup();
    for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
  });

  it('a host device the config ignores is judged too: refused while it is not there (ENODEV), applied once it is', () => {
    const sb = make('hig', 'ignore: [ "hbr*" ]\nlinks:\n  - { name: m0, type: macvlan, macvlan: { parent: hbr0, mode: bridge } }\n', true);
    const r = sb.run(['apply', '--auto-approve']);
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.match(r.stderr, /network\.yaml:3:\d+: \/links\/0\/macvlan\/parent: link \(root\)\/m0 \(macvlan\): link 'hbr0' is neither declared nor in the root namespace/);
    assert.match(r.stderr, /refusing to plan/);
    sb.ip('', ['link', 'add', 'hbr0', 'type', 'bridge']);
    sb.ip('', ['link', 'set', 'hbr0', 'up']);
    const a = sb.run(['apply', '--auto-approve']);
    assert.equal(a.code, 0, a.stdout + a.stderr);
    assert.equal(sb.ipj('', ['-d', 'link', 'show', 'm0'])[0].link, 'hbr0');
    const d = sb.run(['destroy', '--auto-approve']);
    assert.equal(d.code, 0, d.stdout + d.stderr);
    assert.equal(sb.ipj('', ['link', 'show', 'hbr0']).length, 1, 'the ignored device stays');
  });

  it('a link the plan deletes is no host device: a new address on it is refused before any write', () => {
    const sb = make('hdl', 'links:\n  - { name: br9, type: bridge }\naddresses:\n  - { address: 10.94.0.1/24, dev: br9 }\n', false);
    const a = sb.run(['apply', '--auto-approve']);
    assert.equal(a.code, 0, a.stdout + a.stderr);
    fs.writeFileSync(path.join(sb.configDir, 'network.yaml'), 'addresses:\n  - { address: 10.95.0.1/24, dev: br9 }\n');
    const r = sb.run(['apply', '--auto-approve']);
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.match(r.stderr, /network\.yaml:2:\d+: \/addresses\/0\/dev: address \(root\)\/br9 10\.95\.0\.1\/24: link 'br9' is neither declared nor in the root namespace/);
    assert.deepEqual(sb.ipj('', ['-4', 'addr', 'show', 'br9']).flatMap((l: { addr_info: { local: string }[] }) => l.addr_info.map((x) => x.local)), ['10.94.0.1'], 'nothing was written');
  });

  it('a BPF program attached to a host device that is not there is refused with file:line and field', () => {
    const obj = path.join(__dirname, '..', '..', 'bpf', 'counter.bpf.o');
    const sb = make(
      'hbp',
      `bpf:\n  programs:\n    - { name: c0, object: ${obj}, program: count_packets, attach: { type: tcx, dev: eth8, direction: ingress }, maps: [ counters ] }\n`,
      true,
    );
    const r = sb.run(['plan']);
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.match(r.stderr, /network\.yaml:3:\d+: \/bpf\/programs\/0\/attach\/dev: .*link 'eth8' is neither declared nor in the root namespace/);
  });
});
