// Real kernel: namespaces as objects. Pruning a namespace removes the veths crossing out of it
// at once (their peers in namespaces that stay are gone when apply returns), in one kernel
// teardown rather than one per veth. Per-device sysctls of a device whose name has a '.'
// (written `/` in the key, as for sysctl(8)), on a device the same apply creates. The per-device
// sysctls and disable_ipv6 combinations validation accepts (bad inputs 110-112 hold the refused).
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Sandbox } from '../support/sandbox';
import type { LinkRes } from '../../src/model/types';
import { readState } from '../../src/kernel/read';
import { NetlinkSocket } from '../../src/kernel/netlink/socket';
import { KernelSession } from '../../src/kernel/session';

const CROSSING = 100;

function yaml(withSpoke: boolean): string {
  const lines = ['namespaces:', '  - name: hub'];
  if (withSpoke) lines.push('  - name: spoke');
  lines.push('links:', '  - { name: br0, type: bridge, namespace: hub }');
  if (withSpoke) {
    for (let i = 0; i < CROSSING; i++) lines.push(`  - { name: s${i}, type: veth, namespace: spoke, peer: { name: h${i}, namespace: hub } }`);
  }
  return `${lines.join('\n')}\n`;
}

describe('namespaces', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'voltron-ns-'));
  const file = path.join(dir, 'network.yaml');
  const sb = new Sandbox('ns', dir);
  after(() => {
    sb.cleanup();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('a file in /run/netns that is no namespace is named in a clear error, not a bare EINVAL', () => {
    fs.writeFileSync(file, yaml(false));
    const stale = `/run/netns/${sb.ns('hub')}`;
    fs.writeFileSync(stale, '');
    try {
      const p = sb.run(['plan']);
      assert.equal(p.code, 1, p.stdout + p.stderr);
      assert.match(p.stderr, new RegExp(`${stale} is not a network namespace .*ip netns del ${sb.ns('hub')}`));
      assert.doesNotMatch(p.stderr, /\n\s+at /, 'no stack trace');
    } finally {
      fs.rmSync(stale, { force: true });
    }
  });

  it(`pruning a namespace removes its ${CROSSING} crossing veths at once, peers included`, () => {
    fs.writeFileSync(file, yaml(true));
    const a = sb.run(['apply', '--auto-approve']);
    assert.equal(a.code, 0, a.stdout + a.stderr);
    assert.equal(sb.ipj('hub', ['link', 'show', 'type', 'veth']).length, CROSSING);
    fs.writeFileSync(file, yaml(false));
    const p = sb.run(['apply', '--auto-approve']);
    assert.equal(p.code, 0, p.stdout + p.stderr);
    assert.match(p.stdout, /deleted: namespace spoke/);
    // Gone when apply returns (the kernel tears a deleted namespace down later, asynchronously).
    assert.deepEqual(sb.ipj('hub', ['link', 'show', 'type', 'veth']), []);
    assert.deepEqual(sb.namespaces(), [sb.ns(''), sb.ns('hub')].sort());
    // One teardown (~30 ms) instead of one per veth (16-30 ms each: 1.6 s and more).
    const ms = Number(/Apply complete: .*?, (\d+) ms\./.exec(p.stdout)?.[1]);
    assert.ok(ms < 800, `apply took ${ms} ms`);
    const d = sb.run(['destroy', '--auto-approve']);
    assert.equal(d.code, 0, d.stdout + d.stderr);
    assert.deepEqual(sb.namespaces(), []);
  });
});

describe('many namespaces, each with a veth to the root (and a chain between them)', () => {
  // Each namespace asked every other one for its nsid to find its veth's peer: n² requests,
  // 1.9 s of a no-op plan's 2 s at 400 namespaces.
  const N = 40;
  const lines = ['namespaces:', ...Array.from({ length: N }, (_, i) => `  - { name: t${i} }`), 'links:'];
  for (let i = 0; i < N; i++) lines.push(`  - { name: h${i}, type: veth, peer: { name: eth0, namespace: t${i} } }`);
  for (let i = 0; i + 1 < N; i++) lines.push(`  - { name: up, type: veth, namespace: t${i}, peer: { name: down, namespace: t${i + 1} } }`);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'voltron-nsmany-'));
  fs.writeFileSync(path.join(dir, 'network.yaml'), `${lines.join('\n')}\n`);
  const sb = new Sandbox('nsm', dir);
  after(() => {
    sb.cleanup();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('the read finds every peer with a number of requests linear in the namespaces', () => {
    const a = sb.run(['apply', '--auto-approve']);
    assert.equal(a.code, 0, a.stdout + a.stderr);
    const session = new KernelSession({ sandbox: sb.prefix });
    const request = NetlinkSocket.prototype.request;
    let asked = 0;
    NetlinkSocket.prototype.request = function (this: NetlinkSocket, ...args: Parameters<NetlinkSocket['request']>) {
      if (args[0] === 90 || args[0] === 18) asked++; // RTM_GETNSID, RTM_GETLINK (of one link)
      return request.apply(this, args);
    };
    try {
      const names = ['', ...Array.from({ length: N }, (_, i) => `t${i}`)];
      const state = readState(session, { namespaces: names, sysctls: new Map(), tunsrc: [] });
      const peer = (key: string) => (state.get(key) as LinkRes | undefined)?.veth?.peer;
      for (let i = 0; i < N; i++) {
        assert.deepEqual(peer(`link:/h${i}`), { name: 'eth0', namespace: `t${i}` });
        assert.deepEqual(peer(`link:t${i}/eth0`), { name: `h${i}`, namespace: '' });
        if (i + 1 < N) assert.deepEqual(peer(`link:t${i}/up`), { name: 'down', namespace: `t${i + 1}` });
        if (i > 0) assert.deepEqual(peer(`link:t${i}/down`), { name: 'up', namespace: `t${i - 1}` });
      }
      assert.ok(asked <= 8 * N, `${asked} nsid and link requests for ${N} namespaces`);
    } finally {
      NetlinkSocket.prototype.request = request;
      session.close();
    }
    const d = sb.run(['destroy', '--auto-approve']);
    assert.equal(d.code, 0, d.stdout + d.stderr);
  });
});

describe('sysctls of a device with a dot in its name', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'voltron-ns-'));
  const file = path.join(dir, 'network.yaml');
  const sb = new Sandbox('nsd', dir);
  after(() => {
    sb.cleanup();
    fs.rmSync(dir, { recursive: true, force: true });
  });
  const config = (sysctls: string) => `namespaces:\n  - name: a\n${sysctls}links:\n  - { name: v.1, type: bridge, namespace: a }\n`;
  const rpFilter = () => sb.exec('a', ['sysctl', '-n', 'net.ipv4.conf.v/1.rp_filter']).stdout.trim();

  it('net.ipv4.conf.v/1.rp_filter is device v.1\'s, set in the apply that creates v.1 and restored on removal', () => {
    fs.writeFileSync(file, config('    sysctls:\n      net.ipv4.conf.v/1.rp_filter: 2\n'));
    const a = sb.run(['apply', '--auto-approve']);
    assert.equal(a.code, 0, a.stdout + a.stderr);
    assert.equal(rpFilter(), '2');
    const p = sb.run(['plan', '--detailed-exitcode']);
    assert.equal(p.code, 0, p.stdout + p.stderr);
    fs.writeFileSync(file, config(''));
    const r = sb.run(['apply', '--auto-approve']);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.equal(rpFilter(), '0');
    const d = sb.run(['destroy', '--auto-approve']);
    assert.equal(d.code, 0, d.stdout + d.stderr);
    assert.deepEqual(sb.namespaces(), []);
  });
});


describe('sysctls validation accepts apply and converge', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'voltron-ns-'));
  const sb = new Sandbox('nss', dir);
  after(() => {
    sb.cleanup();
    fs.rmSync(dir, { recursive: true, force: true });
  });
  // a: all=1 disables every device (lo too) and default, b1's own key (written after) keeps IPv6;
  // b: default=1 is inherited by the links Voltron creates, not by lo; c: a device's own key.
  // Per-device keys of lo, a veth peer and a device with a dot in its name exist when written.
  const config = `namespaces:
  - name: a
    sysctls:
      net.ipv6.conf.all.disable_ipv6: 1
      net.ipv6.conf.b1.disable_ipv6: 0
      net.ipv4.conf.lo.forwarding: 1
      net.ipv4.conf.p1.forwarding: 1
  - name: b
    sysctls:
      net.ipv6.conf.default.disable_ipv6: 1
      net.ipv4.neigh.p0.gc_stale_time: 120
  - name: c
    sysctls:
      net.ipv6.conf.v/1.disable_ipv6: 1
      net.ipv6.conf.c1.disable_ipv6: 0
links:
  - { name: b0, type: bridge, namespace: a }
  - { name: b1, type: bridge, namespace: a }
  - { name: b0, type: bridge, namespace: b }
  - { name: v.1, type: bridge, namespace: c }
  - { name: c1, type: bridge, namespace: c }
  - { name: p0, type: veth, namespace: b, peer: { name: p1, namespace: a } }
addresses:
  - { address: "2001:db8:2::1/64", dev: b1, namespace: a }
  - { address: "10.0.0.1/24", dev: b0, namespace: a }
  - { address: "2001:db8:5::1/128", dev: lo, namespace: b }
  - { address: "10.0.1.1/24", dev: b0, namespace: b }
  - { address: "10.0.2.1/24", dev: v.1, namespace: c }
  - { address: "2001:db8:7::1/64", dev: c1, namespace: c }
routes:
  - { to: "2001:db8:a::/64", dev: b1, namespace: a }
  - { to: "2001:db8:b::/64", type: blackhole, namespace: a }
  - { to: "10.9.0.0/16", dev: b0, namespace: a }
  - { to: "2001:db8:c::/64", dev: lo, namespace: b }
`;
  const disabled = (ns: string, dev: string) => sb.exec(ns, ['sysctl', '-n', `net.ipv6.conf.${dev}.disable_ipv6`]).stdout.trim();

  it('apply succeeds, the kernel holds what validation predicted, and the plan is empty after', () => {
    fs.writeFileSync(path.join(dir, 'network.yaml'), config);
    const a = sb.run(['apply', '--auto-approve']);
    assert.equal(a.code, 0, a.stdout + a.stderr);
    assert.deepEqual(['b0', 'b1', 'lo', 'p1'].map((d) => disabled('a', d)), ['1', '0', '1', '1']);
    assert.deepEqual(['b0', 'p0', 'lo'].map((d) => disabled('b', d)), ['1', '1', '0']);
    assert.deepEqual(['v/1', 'c1'].map((d) => disabled('c', d)), ['1', '0']);
    const p = sb.run(['plan', '--detailed-exitcode']);
    assert.equal(p.code, 0, p.stdout + p.stderr);
    const d = sb.run(['destroy', '--auto-approve']);
    assert.equal(d.code, 0, d.stdout + d.stderr);
    assert.deepEqual(sb.namespaces(), []);
  });
});

describe('sysctls the kernel broadcasts from `all` to every device', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'voltron-bcast-'));
  const file = path.join(dir, 'net.yaml');
  const sb = new Sandbox('bc', dir);
  after(() => {
    sb.cleanup();
    fs.rmSync(dir, { recursive: true, force: true });
  });
  const write = (fwd4: number, lo4: number, fwd6: number, lo6: number): void =>
    fs.writeFileSync(
      file,
      `namespaces:\n  - name: r1\n    sysctls:\n      net.ipv4.ip_forward: ${fwd4}\n      net.ipv4.conf.lo.forwarding: ${lo4}\n      net.ipv6.conf.all.forwarding: ${fwd6}\n      net.ipv6.conf.lo.forwarding: ${lo6}\n`,
    );
  const read = (key: string): string => sb.exec('r1', ['sysctl', '-n', key]).stdout.trim();
  const applyClean = (): void => {
    const a = sb.run(['apply', '--auto-approve']);
    assert.equal(a.code, 0, a.stdout + a.stderr);
    assert.equal(sb.run(['plan', '--detailed-exitcode']).code, 0);
  };

  it('a device key differing from ip_forward / conf.all.forwarding holds, on the first apply and when only `all` changes', () => {
    write(1, 0, 1, 0);
    applyClean();
    assert.deepEqual([read('net.ipv4.ip_forward'), read('net.ipv4.conf.lo.forwarding'), read('net.ipv6.conf.all.forwarding'), read('net.ipv6.conf.lo.forwarding')], ['1', '0', '1', '0']);
    write(0, 0, 0, 0); // the device keys stay as they are: only the broadcasts change
    const p = sb.run(['plan']);
    assert.match(p.stdout, /sysctl r1 net\.ipv4\.conf\.lo\.forwarding\n\s+# \(written again after net\.ipv4\.ip_forward/);
    applyClean();
    write(1, 0, 1, 0);
    applyClean();
    assert.equal(read('net.ipv4.conf.lo.forwarding'), '0');
    assert.equal(read('net.ipv6.conf.lo.forwarding'), '0');
  });

  it('destroy leaves nothing', () => {
    assert.equal(sb.run(['destroy', '--auto-approve']).code, 0);
    assert.deepEqual(sb.namespaces(), []);
  });
});

describe('IPv4 `default` sysctls the kernel copies into devices whose own key was never written', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'voltron-dflt4-'));
  const file = path.join(dir, 'net.yaml');
  const sb = new Sandbox('d4', dir);
  after(() => {
    sb.cleanup();
    fs.rmSync(dir, { recursive: true, force: true });
  });
  const links = `links:\n  - { name: a0, namespace: r1, type: veth, peer: { name: a1 } }\n`;
  const read = (key: string): string => sb.exec('r1', ['sysctl', '-n', key]).stdout.trim();

  it('a declared device key found in sync holds when default changes (it was overwritten: the apply failed to verify)', () => {
    fs.writeFileSync(file, `namespaces:\n  - name: r1\n${links}`);
    assert.equal(sb.run(['apply', '--auto-approve']).code, 0);
    assert.equal(read('net.ipv4.conf.a0.rp_filter'), '0');
    // a0's key is in sync (never written); default is written, and the kernel copies it into a0.
    fs.writeFileSync(file, `namespaces:\n  - name: r1\n    sysctls:\n      net.ipv4.conf.default.rp_filter: 1\n      net.ipv4.conf.a0.rp_filter: 0\n${links}`);
    const a = sb.run(['apply', '--auto-approve']);
    assert.equal(a.code, 0, a.stdout + a.stderr);
    assert.match(a.stdout, /sysctl r1 net\.ipv4\.conf\.a0\.rp_filter\n\s+# \(written again after net\.ipv4\.conf\.default\.rp_filter/);
    assert.equal(read('net.ipv4.conf.a0.rp_filter'), '0');
    assert.equal(read('net.ipv4.conf.a1.rp_filter'), '1'); // undeclared: follows default
    assert.equal(sb.run(['plan', '--detailed-exitcode']).code, 0);
  });

  it('destroy leaves nothing', () => {
    assert.equal(sb.run(['destroy', '--auto-approve']).code, 0);
    assert.deepEqual(sb.namespaces(), []);
  });
});

describe('net.ipv6.conf.all.disable_ipv6 turned on, with device keys that keep IPv6 on', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'voltron-off6-'));
  const file = path.join(dir, 'net.yaml');
  const sb = new Sandbox('o6', dir);
  after(() => {
    sb.cleanup();
    fs.rmSync(dir, { recursive: true, force: true });
  });
  // Writing all 1 turns IPv6 off on every device, lo included: the kernel removes their IPv6
  // addresses and routes (every table; lo's blackhole too). b1's and lo's own keys 0 turn it
  // back on; the plan re-adds what was removed (it took a second apply, the first failed to verify).
  const write = (all: number): void =>
    fs.writeFileSync(
      file,
      `namespaces:
  - name: r1
    sysctls:
      net.ipv6.conf.all.disable_ipv6: ${all}
      net.ipv6.conf.b1.disable_ipv6: 0
      net.ipv6.conf.lo.disable_ipv6: 0
links:
  - { name: b1, type: bridge, namespace: r1, state: up }
addresses:
  - { address: "2001:db8:2::1/64", dev: b1, namespace: r1 }
  - { address: "10.0.0.1/24", dev: b1, namespace: r1 }
  - { address: "2001:db8:5::1/128", dev: lo, namespace: r1 }
routes:
  - { to: "2001:db8:a::/64", dev: b1, namespace: r1 }
  - { to: "2001:db8:c::/64", via: "2001:db8:2::9", namespace: r1 }
  - { to: "2001:db8:d::/64", dev: b1, table: 100, namespace: r1 }
  - { to: "2001:db8:b::/64", type: blackhole, namespace: r1 }
  - { to: "10.9.0.0/16", dev: b1, namespace: r1 }
`,
    );
  const addrs = (): string[] =>
    (sb.ipj('r1', ['-6', 'addr', 'show', 'scope', 'global']) as { addr_info: { local?: string; prefixlen: number }[] }[])
      .flatMap((l) => l.addr_info.filter((a) => a.local !== undefined).map((a) => `${a.local}/${a.prefixlen}`))
      .sort();
  const routes = (): string[] =>
    (sb.ipj('r1', ['-6', 'route', 'show', 'table', 'all']) as { dst: string; type?: string; table?: string; protocol?: string }[])
      .filter((r) => r.protocol !== 'kernel' && r.table !== 'local')
      .map((r) => `${r.type ?? 'unicast'} ${r.dst}${r.table ? ` table ${r.table}` : ''}`)
      .sort();
  const declared = { addrs: ['2001:db8:2::1/64', '2001:db8:5::1/128'], routes: ['blackhole 2001:db8:b::/64', 'unicast 2001:db8:a::/64', 'unicast 2001:db8:c::/64', 'unicast 2001:db8:d::/64 table 100'] };

  it('one apply converges: the addresses and routes the kernel removed are re-added', () => {
    write(0);
    assert.equal(sb.run(['apply', '--auto-approve']).code, 0);
    assert.deepEqual({ addrs: addrs(), routes: routes() }, declared);
    write(1);
    const a = sb.run(['apply', '--auto-approve']);
    assert.equal(a.code, 0, a.stdout + a.stderr);
    assert.match(a.stdout, /address r1\/b1 2001:db8:2::1\/64 .*\n\s+# \(re-added after net\.ipv6\.conf\.b1\.disable_ipv6 turns IPv6 back on/);
    assert.equal(sb.run(['plan', '--detailed-exitcode']).code, 0);
    assert.deepEqual({ addrs: addrs(), routes: routes() }, declared);
    assert.equal(sb.exec('r1', ['sysctl', '-n', 'net.ipv6.conf.all.disable_ipv6']).stdout.trim(), '1');
    // Back to 0: nothing is removed, nothing re-added.
    write(0);
    const b = sb.run(['apply', '--auto-approve']);
    assert.equal(b.code, 0, b.stdout + b.stderr);
    assert.doesNotMatch(b.stdout, /re-added/);
    assert.deepEqual({ addrs: addrs(), routes: routes() }, declared);
  });

  it('destroy leaves nothing', () => {
    assert.equal(sb.run(['destroy', '--auto-approve']).code, 0);
    assert.deepEqual(sb.namespaces(), []);
  });
});
