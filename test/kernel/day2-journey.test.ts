// Real kernel: day-2 pull requests on a VXLAN overlay, each applied and re-planned empty, the
// kernel checked with `ip -j`. VNIs moving between devices: the kernel keeps one VXLAN per VNI
// and UDP port, so the device taking a VNI must wait for the one giving it up (whatever their
// names), and a swap, which no order can apply, is refused by the plan before any write.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { editableSandbox } from '../support/sandbox';

const BASE = `
namespaces:
  - name: dj
links:
  - { name: up0, namespace: dj, type: veth, peer: { name: tor0 } }
  - { name: br-a, namespace: dj, type: bridge }
  - { name: br-b, namespace: dj, type: bridge }
  - { name: vx-a, namespace: dj, type: vxlan, master: br-a, vxlan: { vni: 1001, local: 192.0.2.7, remote: 192.0.2.254, dev: up0 } }
  - { name: vx-b, namespace: dj, type: vxlan, master: br-b, vxlan: { vni: 1002, local: 192.0.2.7, remote: 192.0.2.254, dev: up0 } }
  - { name: evpn0, namespace: dj, type: vxlan, vxlan: { external: true, vnifilter: true, dstport: 4790, local: 192.0.2.7 }, vnis: [ 300 ] }
  - { name: evpn1, namespace: dj, type: vxlan, vxlan: { external: true, vnifilter: true, dstport: 4790, local: 192.0.2.7 }, vnis: [ 100, "200-210" ] }
addresses:
  - { namespace: dj, dev: up0, address: 192.0.2.7/24 }
  - { namespace: dj, dev: br-a, address: 10.1.0.1/24 }
`;

describe('day-2 journeys: VNIs moving between VXLANs on the real kernel', () => {
  const { sb, edit } = editableSandbox('dj', BASE);
  const vni = (name: string): number => sb.ipj('dj', ['-d', 'link', 'show', name])[0].linkinfo.info_data.id;
  const filter = (name: string): string => {
    const r = sb.exec('dj', ['bridge', '-j', 'vni', 'show', 'dev', name]);
    const vnis: { vni: number; vniEnd?: number }[] = JSON.parse(r.stdout)[0]?.vnis ?? [];
    return vnis.map((v) => (v.vniEnd ? `${v.vni}-${v.vniEnd}` : `${v.vni}`)).join(',');
  };
  const apply = () => {
    const p = sb.run(['plan', '--detailed-exitcode']);
    assert.equal(p.code, 2, p.stdout + p.stderr);
    const a = sb.run(['apply', '--auto-approve']);
    assert.equal(a.code, 0, a.stdout + a.stderr);
    const q = sb.run(['plan', '--detailed-exitcode']);
    assert.equal(q.code, 0, q.stdout + q.stderr);
  };

  it('creates the base state', () => {
    apply();
    assert.deepEqual([vni('vx-a'), vni('vx-b')], [1001, 1002]);
  });

  it('moves a VNI to a device whose name sorts first (a chain: vx-b moves on, vx-a takes its VNI)', () => {
    edit('vni: 1002,', 'vni: 1004,');
    edit('vni: 1001,', 'vni: 1002,');
    const p = sb.run(['plan']);
    assert.ok(p.stdout.indexOf('-/+ link dj/vx-b') < p.stdout.indexOf('-/+ link dj/vx-a'), p.stdout);
    apply();
    assert.deepEqual([vni('vx-a'), vni('vx-b')], [1002, 1004]);
    assert.equal(sb.ipj('dj', ['link', 'show', 'vx-a'])[0].master, 'br-a', 'the recreated VXLAN is a port again');
  });

  it('moves VNIs from one VNI filter to another on the same port', () => {
    edit('vnis: [ 300 ]', 'vnis: [ "205-206", 300 ]');
    edit('vnis: [ 100, "200-210" ]', 'vnis: [ 100, "200-204", "207-210" ]');
    apply();
    assert.equal(filter('evpn0'), '205-206,300');
    assert.equal(filter('evpn1'), '100,200-204,207-210');
  });

  it('refuses a VNI swap at plan time, before any kernel write, and says how to do it', () => {
    const before = sb.ipj('dj', ['-d', 'link', 'show', 'type', 'vxlan']).map((l: { ifname: string; ifindex: number }) => `${l.ifname}@${l.ifindex}`);
    edit('vni: 1004,', 'vni: 1002,');
    edit('vni: 1002, local: 192.0.2.7, remote: 192.0.2.254, dev: up0 } }\n  - { name: vx-b', 'vni: 1004, local: 192.0.2.7, remote: 192.0.2.254, dev: up0 } }\n  - { name: vx-b');
    const p = sb.run(['plan', '--detailed-exitcode']);
    assert.equal(p.code, 1, p.stdout + p.stderr);
    assert.match(p.stderr, /VNI 100[24] on dstport 4789 is still held by link dj\/vx-[ab] \(vxlan\).*two applies/);
    const a = sb.run(['apply', '--auto-approve']);
    assert.equal(a.code, 1, a.stdout + a.stderr);
    assert.doesNotMatch(a.stdout + a.stderr, /Rolling back/, 'refused before the first write');
    const after = sb.ipj('dj', ['-d', 'link', 'show', 'type', 'vxlan']).map((l: { ifname: string; ifindex: number }) => `${l.ifname}@${l.ifindex}`);
    assert.deepEqual(after, before);
    assert.deepEqual([vni('vx-a'), vni('vx-b')], [1002, 1004]);
  });
});

// b reaches a's loopback addresses through gateways on l1; a pull request moves both ends'
// addresses to l2 (l1 keeps another IPv4 address, so the kernel removes no IPv4 route over it).
// The routes, declared without dev, must follow their gateways to l2, as a fresh apply puts them:
// the kernel keeps a route on the link it found the gateway on when the route was added.
const MOVE = `
namespaces: [ { name: a }, { name: b } ]
links:
  - { name: l1, namespace: a, type: veth, peer: { name: l1, namespace: b } }
  - { name: l2, namespace: a, type: veth, peer: { name: l2, namespace: b } }
addresses:
  - { namespace: a, dev: lo, address: 10.60.0.1/32 }
  - { namespace: a, dev: lo, address: "2001:db8:60::1/128" }
  - { namespace: a, dev: l1, address: 10.8.0.1/24 }
  - { namespace: a, dev: l1, address: "2001:db8:5::1/64" }
  - { namespace: b, dev: l1, address: 10.8.0.2/24 }
  - { namespace: b, dev: l1, address: "2001:db8:5::2/64" }
  - { namespace: b, dev: l1, address: 10.11.0.2/24 }
routes:
  - { namespace: b, to: 10.60.0.0/16, via: 10.8.0.1 }
  - { namespace: b, to: "2001:db8:60::/64", via: "2001:db8:5::1" }
`;

describe('day-2 journeys: addresses moving to another link take the routes through their gateways along', () => {
  const { sb, edit } = editableSandbox('dg', MOVE);
  const devs = () => ({
    v4: sb.ipj('b', ['route', 'show', '10.60.0.0/16']).map((r: { dev: string }) => r.dev),
    v6: sb.ipj('b', ['-6', 'route', 'show', '2001:db8:60::/64']).map((r: { dev: string }) => r.dev),
  });
  const apply = () => {
    const a = sb.run(['apply', '--auto-approve']);
    assert.equal(a.code, 0, a.stdout + a.stderr);
    const q = sb.run(['plan', '--detailed-exitcode']);
    assert.equal(q.code, 0, q.stdout + q.stderr);
  };

  it('creates the base state: the routes go over l1', () => {
    apply();
    assert.deepEqual(devs(), { v4: ['l1'], v6: ['l1'] });
  });

  it('moves the gateways\' prefixes to l2: the routes are written again and go over l2', () => {
    for (const ns of ['a', 'b']) {
      for (const ip of ns === 'a' ? ['10.8.0.1/24', '"2001:db8:5::1/64"'] : ['10.8.0.2/24', '"2001:db8:5::2/64"']) {
        edit(`{ namespace: ${ns}, dev: l1, address: ${ip} }`, `{ namespace: ${ns}, dev: l2, address: ${ip} }`);
      }
    }
    const p = sb.run(['plan']);
    assert.match(p.stdout, /~ route b 10\.60\.0\.0\/16\n.*gateway 10\.8\.0\.1 is on-link on l2 now, not on l1.*\n\s+~ dev: l1 → l2/, p.stdout);
    assert.match(p.stdout, /~ route b 2001:db8:60::\/64\n.*gateway 2001:db8:5::1 is on-link on l2 now, not on l1/, p.stdout);
    apply();
    assert.deepEqual(devs(), { v4: ['l2'], v6: ['l2'] });
    assert.equal(sb.pingUntil('b', ['10.60.0.1'], 5).code, 0, 'IPv4 traffic through the moved gateway');
    assert.equal(sb.pingUntil('b', ['-6', '2001:db8:60::1'], 5).code, 0, 'IPv6 traffic through the moved gateway');
  });
});

// A namespace renamed: it is deleted and created anew, and the veths from it into another
// namespace come back from the new one. The old peers go with the old namespace (the kernel
// removes them, not a delete of Voltron's), so the new peers, which take their names, must not
// be taken for them (a stale ifindex: ENODEV, and a rollback that failed the same way). n3 got a
// link from a later apply first: the kernel chose its index, so a new peer gets a new index
// (in a namespace whose every index Voltron chose, the kernel would hand out the old one again).
const RENAME_NS = `
namespaces: [ { name: n1 }, { name: n3 } ]
links:
  - { name: v1, namespace: n1, type: veth, peer: { name: v1p, namespace: n3 } }
  - { name: mv0, namespace: n3, type: macvlan, macvlan: { parent: v1p, mode: bridge } }
addresses:
  - { namespace: n1, dev: v1, address: 10.1.0.1/24 }
  - { namespace: n3, dev: v1p, address: 10.1.0.2/24 }
  - { namespace: n3, dev: mv0, address: 10.9.0.1/24 }
routes:
  - { namespace: n3, to: 10.60.0.0/16, dev: mv0 }
`;

describe('day-2 journeys: a namespace renamed takes its veth pairs into another namespace along', () => {
  const { sb, edit } = editableSandbox('dn', RENAME_NS);

  it('creates the base state, then renames n1 to n9: the pairs into n3 come back from n9', () => {
    const a = sb.run(['apply', '--auto-approve']);
    assert.equal(a.code, 0, a.stdout + a.stderr);
    edit('links:\n', 'links:\n  - { name: br3, namespace: n3, type: bridge }\n');
    const a2 = sb.run(['apply', '--auto-approve']);
    assert.equal(a2.code, 0, a2.stdout + a2.stderr);
    for (let i = 0; i < 3; i++) edit('n1', 'n9');
    const b = sb.run(['apply', '--auto-approve']);
    assert.equal(b.code, 0, b.stdout + b.stderr);
    assert.doesNotMatch(b.stdout + b.stderr, /Rolling back/);
    const q = sb.run(['plan', '--detailed-exitcode']);
    assert.equal(q.code, 0, q.stdout + q.stderr);
    assert.deepEqual(sb.namespaces(), [sb.ns('n3'), sb.ns('n9'), sb.ns('')].sort());
    assert.equal(sb.ipj('n3', ['link', 'show', 'mv0'])[0]?.link, 'v1p', 'the macvlan is back on the new peer');
    assert.equal(sb.pingUntil('n9', ['10.1.0.2'], 5).code, 0);
    const d = sb.run(['destroy', '--auto-approve']);
    assert.equal(d.code, 0, d.stdout + d.stderr);
    assert.deepEqual(sb.namespaces(), []);
  });
});
