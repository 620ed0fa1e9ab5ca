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
