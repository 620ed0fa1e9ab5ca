// Real kernel: VXLANs with a link-local `local` on different devices may share a VNI (the kernel
// tells them apart by their device, vxlan_vni_in_use), and each one receives on its own device.
// Validation used to refuse the pair as a VNI clash.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { editableSandbox } from '../support/sandbox';

const CONFIG = `namespaces: [ { name: a }, { name: b } ]
links:
  - { name: a1, namespace: a, type: veth, peer: { name: b1, namespace: b } }
  - { name: a2, namespace: a, type: veth, peer: { name: b2, namespace: b } }
  - { name: vx1, namespace: a, type: vxlan, vxlan: { vni: 100, local: "fe80::1", remote: "fe80::2", dev: a1 } }
  - { name: vx2, namespace: a, type: vxlan, vxlan: { vni: 100, local: "fe80::1", remote: "fe80::2", dev: a2 } }
  - { name: vx1, namespace: b, type: vxlan, vxlan: { vni: 100, local: "fe80::2", remote: "fe80::1", dev: b1 } }
  - { name: vx2, namespace: b, type: vxlan, vxlan: { vni: 100, local: "fe80::2", remote: "fe80::1", dev: b2 } }
addresses:
  - { address: "fe80::1/64", dev: a1, namespace: a }
  - { address: "fe80::1/64", dev: a2, namespace: a }
  - { address: "fe80::2/64", dev: b1, namespace: b }
  - { address: "fe80::2/64", dev: b2, namespace: b }
  - { address: 10.61.0.1/24, dev: vx1, namespace: a }
  - { address: 10.62.0.1/24, dev: vx2, namespace: a }
  - { address: 10.61.0.2/24, dev: vx1, namespace: b }
  - { address: 10.62.0.2/24, dev: vx2, namespace: b }
`;

describe('link-local VXLANs sharing a VNI on different devices (real kernel)', () => {
  const { sb, edit } = editableSandbox('vll', CONFIG);
  const rx = (dev: string): number => sb.ipj('b', ['-s', 'link', 'show', dev])[0].stats64.rx.packets;

  it('apply takes both; each overlay carries its traffic over its own device; the re-plan is empty', () => {
    const a = sb.run(['apply', '--auto-approve']);
    assert.equal(a.code, 0, a.stdout + a.stderr);
    for (const [ip, dev, other] of [['10.61.0.2', 'b1', 'b2'], ['10.62.0.2', 'b2', 'b1']] as const) {
      assert.equal(sb.pingUntil('a', [ip]).code, 0, `overlay to ${ip}`);
      const [d0, o0] = [rx(dev), rx(other)];
      assert.equal(sb.exec('a', ['ping', '-c', '5', '-i', '0.05', '-W', '1', ip]).code, 0);
      assert.ok(rx(dev) - d0 >= 5, `${ip} crossed ${dev}`);
      assert.ok(rx(other) - o0 < 5, `${ip} did not cross ${other}`);
    }
    const p = sb.run(['plan', '--detailed-exitcode']);
    assert.equal(p.code, 0, p.stdout + p.stderr);
  });

  it('on the same device the pair is refused before any change, as the kernel would', () => {
    edit('{ vni: 100, local: "fe80::1", remote: "fe80::2", dev: a2 }', '{ vni: 100, local: "fe80::1", remote: "fe80::2", dev: a1 }');
    const p = sb.run(['plan']);
    assert.equal(p.code, 1, p.stdout + p.stderr);
    assert.match(p.stderr, /\/links\/3\/vxlan\/vni: VNI 100 on dstport 4789 \(IPv6\) on dev 'a1' already exists in namespace a: 'vx1'/);
    const k = sb.exec('a', ['ip', 'link', 'add', 'vx3', 'type', 'vxlan', 'id', '100', 'local', 'fe80::1', 'remote', 'fe80::2', 'dev', 'a1', 'dstport', '4789']);
    assert.notEqual(k.code, 0);
    assert.match(k.stderr, /VNI already exists/);
  });
});
