// Real kernel: every link kind, rules and sysctls round-trip; an immutable field (VXLAN VNI)
// is replaced with its dependents restored; the kernel's errors carry errno and extack.
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFileSync, spawnSync } from 'node:child_process';
import { editableSandbox, Sandbox } from '../support/sandbox';

const BASE = `
namespaces:
  - name: kx
    sysctls:
      net.ipv4.conf.all.rp_filter: 2
      net.ipv6.conf.all.forwarding: 1
links:
  - { name: br0, namespace: kx, type: bridge, mtu: 1400, bridge: { stp: false, forward_delay: 400 } }
  - { name: vx0, namespace: kx, type: vxlan, master: br0, vxlan: { vni: VNI, local: 192.0.2.1, remote: 192.0.2.2, dstport: 4789, learning: false, ttl: 16 } }
  - { name: up0, namespace: kx, type: veth, peer: { name: up1, namespace: kx } }
  - { name: mv0, namespace: kx, type: macvlan, macvlan: { parent: up0, mode: bridge }, mac: "02:00:00:00:00:aa" }
addresses:
  - { namespace: kx, dev: br0, address: 10.20.0.1/24 }
  - { namespace: kx, dev: up0, address: 192.0.2.1/24 }
  - { namespace: kx, dev: mv0, address: "2001:db8:5::1/64" }
routes:
  - { namespace: kx, to: 10.30.0.0/16, via: 10.20.0.2, table: 100, metric: 5 }
  - { namespace: kx, to: 10.40.0.0/16, type: unreachable }
  - { namespace: kx, to: "2001:db8:6::/64", via: "2001:db8:5::2", dev: mv0 }
rules:
  - { namespace: kx, priority: 1000, fwmark: 7, fwmask: 255, table: 100 }
  - { namespace: kx, priority: 1001, from: 10.20.0.0/24, to: 10.30.0.0/16, table: 100 }
  - { namespace: kx, priority: 1002, action: blackhole, iif: up1, family: 4 }
`;

describe('link kinds, rules and sysctls on the real kernel', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'voltron-kinds-'));
  const write = (vni: number) => fs.writeFileSync(path.join(dir, 'net.yaml'), BASE.replace('VNI', String(vni)));
  const sb = new Sandbox('knd', dir);
  after(() => {
    sb.cleanup();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('creates every kind as declared (ip -j as oracle) and replans empty', () => {
    write(100);
    const r = sb.run(['apply', '--auto-approve']);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    const [br] = sb.ipj('kx', ['-d', 'link', 'show', 'br0']);
    assert.equal(br.mtu, 1400);
    assert.equal(br.linkinfo.info_data.stp_state, 0);
    assert.equal(br.linkinfo.info_data.forward_delay, 400);
    const [vx] = sb.ipj('kx', ['-d', 'link', 'show', 'vx0']);
    assert.equal(vx.linkinfo.info_data.id, 100);
    assert.equal(vx.linkinfo.info_data.local, '192.0.2.1');
    assert.equal(vx.linkinfo.info_data.remote, '192.0.2.2');
    assert.equal(vx.linkinfo.info_data.learning, false);
    assert.equal(vx.linkinfo.info_data.ttl, 16);
    assert.equal(vx.master, 'br0');
    const [mv] = sb.ipj('kx', ['-d', 'link', 'show', 'mv0']);
    assert.equal(mv.linkinfo.info_kind, 'macvlan');
    assert.equal(mv.linkinfo.info_data.mode, 'bridge');
    assert.equal(mv.address, '02:00:00:00:00:aa');
    assert.equal(mv.link, 'up0');
    const t100 = sb.ipj('kx', ['route', 'show', 'table', '100']);
    assert.equal(t100[0].dst, '10.30.0.0/16');
    assert.equal(t100[0].metric, 5);
    assert.equal(t100[0].protocol, '194');
    assert.equal(sb.ipj('kx', ['route', 'show', '10.40.0.0/16'])[0].type, 'unreachable');
    const rules = sb.ipj('kx', ['rule', 'show']);
    const r1000 = rules.find((x: { priority: number }) => x.priority === 1000);
    assert.equal(r1000.fwmark, '0x7');
    assert.equal(r1000.table, '100');
    const r1001 = rules.find((x: { priority: number }) => x.priority === 1001);
    assert.equal(r1001.src, '10.20.0.0');
    assert.equal(r1001.dst, '10.30.0.0');
    assert.equal(rules.find((x: { priority: number }) => x.priority === 1002).action, 'blackhole');
    assert.equal(sb.exec('kx', ['cat', '/proc/sys/net/ipv4/conf/all/rp_filter']).stdout.trim(), '2');
    const p = sb.run(['plan', '--detailed-exitcode']);
    assert.equal(p.code, 0, p.stdout);
  });

  it('a declared bridge MTU holds when a port with a smaller MTU joins, and the bridge has IPv6', () => {
    // The bridge is created below IPv6's minimum MTU and stepped to the declared one (the step
    // is what makes the kernel keep it): IPv6 must still be set up on it.
    const six = sb.ipj('kx', ['-6', 'addr', 'show', 'dev', 'br0']);
    assert.ok(six[0]?.addr_info.some((a: { local: string; scope: string }) => a.scope === 'link' && a.local.startsWith('fe80:')), JSON.stringify(six));
    assert.ok(sb.ipj('kx', ['-6', 'route', 'show', 'table', 'local', 'dev', 'br0']).some((r: { dst: string }) => r.dst === 'ff00::/8'));
    sb.ip('kx', ['link', 'add', 'fp0', 'mtu', '1300', 'type', 'veth', 'peer', 'name', 'fp1']);
    try {
      sb.ip('kx', ['link', 'set', 'fp0', 'master', 'br0']);
      assert.equal(sb.ipj('kx', ['link', 'show', 'br0'])[0].mtu, 1400);
      const p = sb.run(['plan', '--detailed-exitcode']);
      assert.equal(p.code, 0, p.stdout + p.stderr);
    } finally {
      sb.ip('kx', ['link', 'del', 'fp0']);
    }
  });

  it('replaces a VXLAN whose VNI changed and re-enslaves it', () => {
    write(200);
    const p = sb.run(['plan', '--detailed-exitcode']);
    assert.equal(p.code, 2, p.stdout + p.stderr);
    assert.match(p.stdout, /-\/\+ link kx\/vx0/);
    assert.match(p.stdout, /vxlan\.vni/);
    const j = sb.run(['plan', '-o', 'json']);
    const changes = JSON.parse(j.stdout).changes as { action: string; key: string; disruptive: boolean }[];
    const vx = changes.find((c) => c.key === 'link:kx/vx0');
    assert.equal(vx?.action, 'replace');
    assert.equal(vx?.disruptive, true);
    const a = sb.run(['apply', '--auto-approve']);
    assert.equal(a.code, 0, a.stdout + a.stderr);
    const [v] = sb.ipj('kx', ['-d', 'link', 'show', 'vx0']);
    assert.equal(v.linkinfo.info_data.id, 200);
    assert.equal(v.master, 'br0');
    assert.equal(sb.run(['plan', '--detailed-exitcode']).code, 0);
  });

  it('renders a markdown plan for pull requests', () => {
    write(300);
    const m = sb.run(['plan', '-o', 'markdown']);
    assert.equal(m.code, 0);
    assert.match(m.stdout, /```diff/);
    assert.match(m.stdout, /vx0/);
  });

  it('reports kernel errors with errno and extended ack, and verify catches nothing else', () => {
    // A route via the broadcast address of a connected subnet: the kernel refuses it (EINVAL).
    // In the root namespace (the sandbox's root here) neither the config nor the plan judges
    // that (the host may have a device route for it in the route's table), so the kernel does.
    fs.writeFileSync(
      path.join(dir, 'bad-route.yaml'),
      'links:\n  - { name: bx0, type: bridge }\naddresses:\n  - { address: 172.31.255.1/24, dev: bx0 }\nroutes:\n  - { to: 10.50.0.0/16, via: 172.31.255.255 }\n',
    );
    const r = sb.run(['apply', '--auto-approve']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /ENETUNREACH|EINVAL/);
    assert.match(r.stderr, /Nexthop has invalid gateway|unreachable|gateway/i);
    fs.rmSync(path.join(dir, 'bad-route.yaml'));
  });

  it('destroy leaves nothing', () => {
    const d = sb.run(['destroy', '--auto-approve']);
    assert.equal(d.code, 0, d.stdout + d.stderr);
    assert.deepEqual(sb.namespaces(), []);
  });
});

// Values the kernel stores in another form: bridge timers through jiffies (HZ=250 turns 12345
// into 12344), an IPv6 route metric 0 (stored as 1024), rules on a bare address (a /32, /128).
const KERNEL_FORMS = `
namespaces: [ { name: kf } ]
links:
  - { name: br0, namespace: kf, type: bridge, bridge: { ageing_time: 12345, forward_delay: 401 } }
  - { name: br1, namespace: kf, type: bridge, bridge: { ageing_time: 1001, forward_delay: 1501 } }
addresses:
  - { namespace: kf, dev: br0, address: 10.60.0.1/24 }
  - { namespace: kf, dev: br0, address: "2001:db8:60::1/64" }
routes:
  - { namespace: kf, to: "2001:db8:61::/64", via: "2001:db8:60::2", metric: 0 }
  - { namespace: kf, to: 10.61.0.0/16, via: 10.60.0.2, metric: 0 }
rules:
  - { namespace: kf, priority: 1100, to: 10.0.0.5, table: 100 }
  - { namespace: kf, priority: 1101, from: 10.0.0.6, to: 10.9.0.0/16, table: 100 }
  - { namespace: kf, priority: 1102, from: "2001:db8::6", to: "2001:db8::7", table: 100 }
`;

describe('values the kernel stores in another form converge on the real kernel', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'voltron-forms-'));
  fs.writeFileSync(path.join(dir, 'net.yaml'), KERNEL_FORMS);
  const sb = new Sandbox('kfm', dir);
  after(() => {
    sb.cleanup();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('applies, verifies and replans empty', () => {
    const r = sb.run(['apply', '--auto-approve']);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    const timers = (name: string) => sb.ipj('kf', ['-d', 'link', 'show', name])[0].linkinfo.info_data;
    // The kernel's round trip for its HZ: the declared value, or slightly below it.
    for (const [got, want] of [
      [timers('br0').ageing_time, 12345],
      [timers('br0').forward_delay, 401],
      [timers('br1').ageing_time, 1001],
      [timers('br1').forward_delay, 1501],
    ]) assert.ok(got <= want && got >= want - 2, `bridge timer ${got} for declared ${want}`);
    const [r6] = sb.ipj('kf', ['-6', 'route', 'show', '2001:db8:61::/64']);
    assert.equal(r6.metric, 1024);
    const [r4] = sb.ipj('kf', ['route', 'show', '10.61.0.0/16']);
    assert.equal(r4.metric ?? 0, 0);
    const rules = [...sb.ipj('kf', ['rule', 'show']), ...sb.ipj('kf', ['-6', 'rule', 'show'])];
    const rule = (p: number) => rules.find((x: { priority: number }) => x.priority === p);
    assert.equal(rule(1100).dst, '10.0.0.5');
    assert.equal(rule(1101).src, '10.0.0.6');
    assert.equal(rule(1102).src, '2001:db8::6');
    assert.equal(rule(1102).dst, '2001:db8::7');
    const p = sb.run(['plan', '--detailed-exitcode']);
    assert.equal(p.code, 0, p.stdout + p.stderr);
    const again = sb.run(['apply', '--auto-approve']);
    assert.equal(again.code, 0, again.stdout + again.stderr);
    assert.match(again.stdout, /No changes/);
  });

  it('destroy leaves nothing', () => {
    const d = sb.run(['destroy', '--auto-approve']);
    assert.equal(d.code, 0, d.stdout + d.stderr);
    assert.deepEqual(sb.namespaces(), []);
  });
});

// Edits that used to be silent no-ops or never converged: each is applied, checked with ip -j and
// must replan empty; `show -o yaml` of the result must load back and plan empty.
const EDITS = `
namespaces:
  - name: ke
    sysctls:
      net.ipv4.conf.all.rp_filter: 2
      net.ipv4.conf.u0.rp_filter: 2
links:
  - { name: u0, namespace: ke, type: veth, peer: { name: u1 } }
  - { name: br0, namespace: ke, type: bridge }
  - { name: mp0, namespace: ke, type: macvlan, macvlan: { parent: u1, mode: passthru } }
  - { name: vx0, namespace: ke, type: vxlan, vxlan: { vni: 5, local: 10.70.0.1, remote: 10.70.0.2, dstport: 4790 } }
  - { name: vf0, namespace: ke, type: vxlan, vxlan: { external: true, vnifilter: true }, vnis: [ 100, 101 ] }
addresses:
  - { namespace: ke, dev: u0, address: 10.70.0.1/24 }
routes:
  - { namespace: ke, to: 10.71.0.0/16, via: 10.70.0.2, mtu: 1400 }
  - { namespace: ke, to: "2001:db8:71::/64", type: blackhole }
  - { namespace: ke, to: 10.73.0.0/16, dev: u0 }
  - { namespace: ke, to: 10.74.0.0/16, dev: u0, src: 10.70.0.1, table: 100 }
rules:
  - { namespace: ke, priority: 1200, fwmark: 0, fwmask: 255, table: 100 }
  - { namespace: ke, priority: 1201, fwmark: 1, fwmask: 255, table: 100 }
`;

describe('edits converge on the real kernel and show loads back', () => {
  const { sb, edit } = editableSandbox('ked', EDITS);
  const converge = () => {
    const a = sb.run(['apply', '--auto-approve']);
    assert.equal(a.code, 0, a.stdout + a.stderr);
    const p = sb.run(['plan', '--detailed-exitcode']);
    assert.equal(p.code, 0, p.stdout + p.stderr);
  };
  const showLoadsBack = () => {
    const s = sb.run(['show', '-o', 'yaml']);
    assert.equal(s.code, 0, s.stderr);
    const back = fs.mkdtempSync(path.join(os.tmpdir(), 'voltron-edits-show-'));
    try {
      fs.writeFileSync(path.join(back, 'show.yaml'), s.stdout);
      const p = sb.run(['plan', '--detailed-exitcode'], { config: back });
      assert.equal(p.code, 0, p.stdout + p.stderr + s.stdout);
    } finally {
      fs.rmSync(back, { recursive: true, force: true });
    }
  };
  const sysctl = (key: string) => sb.exec('ke', ['cat', `/proc/sys/net/${key}`]).stdout.trim();
  const rule = (prio: number) => sb.ipj('ke', ['rule', 'show']).find((x: { priority: number }) => x.priority === prio);

  it('applies fwmark 0/0xff, a passthru macvlan, an IPv6 blackhole and a port-less bridge; show loads back', () => {
    converge();
    assert.equal(rule(1200).fwmask, '0xff');
    assert.equal(sb.ipj('ke', ['-d', 'link', 'show', 'mp0'])[0].linkinfo.info_data.mode, 'passthru');
    showLoadsBack();
  });

  it('vnis: [] empties the VNI filter', () => {
    edit('vnis: [ 100, 101 ]', 'vnis: []');
    converge();
    const vnis = JSON.parse(execFileSync('bridge', ['-j', '-n', sb.ns('ke'), 'vni', 'show'], { encoding: 'utf8' }) || '[]');
    assert.deepEqual(vnis, []);
  });

  it("a VXLAN's mtu and ttl change in one apply (vxlan_changelink refuses a request carrying IFLA_MTU)", () => {
    edit('dstport: 4790 } }', 'dstport: 4790, ttl: 9 }, mtu: 1350 }');
    converge();
    const [vx] = sb.ipj('ke', ['-d', 'link', 'show', 'vx0']);
    assert.deepEqual([vx.mtu, vx.linkinfo.info_data.ttl], [1350, 9]);
  });

  it('dropping fwmask, a VXLAN remote and a route mtu removes them', () => {
    edit('fwmark: 1, fwmask: 255,', 'fwmark: 1,');
    edit('remote: 10.70.0.2, ', '');
    edit(', mtu: 1400 }', ' }');
    converge();
    assert.equal(rule(1201).fwmask, undefined, 'ip prints no mask for 0xffffffff');
    assert.equal(sb.ipj('ke', ['-d', 'link', 'show', 'vx0'])[0].linkinfo.info_data.remote, undefined);
    assert.equal(sb.ipj('ke', ['route', 'show', '10.71.0.0/16'])[0].metrics, undefined);
    showLoadsBack();
  });

  it('a removed sysctl of a namespace and device Voltron created goes back to its default', () => {
    const before = { all: sysctl('ipv4/conf/all/rp_filter'), dev: sysctl('ipv4/conf/u0/rp_filter') };
    assert.deepEqual(before, { all: '2', dev: '2' });
    edit('    sysctls:\n      net.ipv4.conf.all.rp_filter: 2\n      net.ipv4.conf.u0.rp_filter: 2\n', '');
    converge();
    // A new namespace's defaults: what a fresh one has (not Voltron's own earlier value).
    const fresh = `${sb.prefix}fresh`;
    execFileSync('ip', ['netns', 'add', fresh]);
    try {
      const want = spawnSync('ip', ['netns', 'exec', fresh, 'cat', '/proc/sys/net/ipv4/conf/all/rp_filter'], { encoding: 'utf8' }).stdout.trim();
      assert.equal(sysctl('ipv4/conf/all/rp_filter'), want);
    } finally {
      execFileSync('ip', ['netns', 'del', fresh]);
    }
    assert.notEqual(sysctl('ipv4/conf/u0/rp_filter'), '2');
  });

  it("renumbering a link's only IPv4 address: the routes the kernel removes with it are recreated", () => {
    edit('address: 10.70.0.1/24', 'address: 10.72.0.1/24');
    edit('via: 10.70.0.2', 'via: 10.72.0.2');
    edit('src: 10.70.0.1', 'src: 10.72.0.1');
    edit('local: 10.70.0.1', 'local: 10.72.0.1'); // a VXLAN's local must be an address of its namespace
    const p = sb.run(['plan', '--no-color']);
    assert.match(p.stdout, /\+ route ke 10\.73\.0\.0\/16[^\n]*\n\s+# \(recreated with address ke\/u0 10\.70\.0\.1\/24\)/, p.stdout);
    converge();
    const routes = (table: string) => sb.ipj('ke', ['route', 'show', 'table', table]).map((r: { dst: string; gateway?: string; prefsrc?: string }) => [r.dst, r.gateway ?? r.prefsrc ?? '']);
    assert.deepEqual(routes('main').filter(([d]: string[]) => d !== '10.72.0.0/24'), [['10.71.0.0/16', '10.72.0.2'], ['10.73.0.0/16', '']]);
    assert.deepEqual(routes('100'), [['10.74.0.0/16', '10.72.0.1']]);
  });

  it('removing a primary IPv4 address keeps its declared secondary (the kernel removes it with the primary)', () => {
    edit('  - { namespace: ke, dev: u0, address: 10.72.0.1/24 }\n', '  - { namespace: ke, dev: u0, address: 10.72.0.1/24 }\n  - { namespace: ke, dev: u0, address: 10.72.0.9/24 }\n');
    converge();
    const addrs = () => sb.ipj('ke', ['-4', 'addr', 'show', 'dev', 'u0'])[0].addr_info.map((a: { local: string; secondary?: boolean }) => `${a.local}${a.secondary ? ' secondary' : ''}`);
    assert.deepEqual(addrs(), ['10.72.0.1', '10.72.0.9 secondary']);
    edit('  - { namespace: ke, dev: u0, address: 10.72.0.1/24 }\n', '');
    edit('src: 10.72.0.1', 'src: 10.72.0.9');
    edit('local: 10.72.0.1', 'local: 10.72.0.9');
    const p = sb.run(['plan', '--no-color']);
    assert.match(p.stdout, /\+ address ke\/u0 10\.72\.0\.9\/24[^\n]*\n\s+# \(recreated with address ke\/u0 10\.72\.0\.1\/24\)/, p.stdout);
    converge();
    assert.deepEqual(addrs(), ['10.72.0.9']);
    assert.equal(sb.ipj('ke', ['route', 'show', '10.71.0.0/16'])[0].gateway, '10.72.0.2');
  });

  it('destroy leaves nothing', () => {
    const d = sb.run(['destroy', '--auto-approve']);
    assert.equal(d.code, 0, d.stdout + d.stderr);
    assert.deepEqual(sb.namespaces(), []);
  });
});
