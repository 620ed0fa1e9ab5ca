// Real kernel: why validation refuses an IPv4 gateway that is an address of the route's own
// namespace. The kernel takes the route (IPv6 refuses it: "Gateway can not be a local address"),
// but as a nexthop of scope host, which has no gateway: the route sends to each destination
// directly on its device, asking ARP for it, so a host behind the router is never reached.
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Sandbox } from '../support/sandbox';

const CONFIG = `
namespaces:
  - { name: h }
  - { name: r, sysctls: { net.ipv4.ip_forward: 1 } }
  - { name: s }
links:
  - { name: u0, namespace: h, type: veth, peer: { name: u1, namespace: r } }
  - { name: w0, namespace: r, type: veth, peer: { name: w1, namespace: s } }
addresses:
  - { address: 10.7.0.1/24, dev: u0, namespace: h }
  - { address: 10.7.0.2/24, dev: u1, namespace: r }
  - { address: 10.9.0.1/24, dev: w0, namespace: r }
  - { address: 10.9.0.5/24, dev: w1, namespace: s }
routes:
  - { to: 10.9.0.0/24, via: 10.7.0.2, namespace: h }
  - { to: 0.0.0.0/0, via: 10.9.0.1, namespace: s }
`;

describe('an IPv4 route via an address of its own namespace (real kernel)', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'voltron-localgw-'));
  const file = path.join(dir, 'net.yaml');
  fs.writeFileSync(file, CONFIG);
  const sb = new Sandbox('lgw', dir);
  after(() => {
    sb.cleanup();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('via the router, h reaches the host behind it', () => {
    const r = sb.run(['apply', '--auto-approve']);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.equal(sb.pingUntil('h', ['10.9.0.5']).code, 0);
  });

  it('validation refuses its own address as the gateway, at the via; nothing changes', () => {
    fs.writeFileSync(file, CONFIG.replace('via: 10.7.0.2', 'via: 10.7.0.1'));
    try {
      const p = sb.run(['apply', '--auto-approve']);
      assert.equal(p.code, 1, p.stdout + p.stderr);
      assert.match(p.stderr, /\/routes\/0\/via: gateway '10\.7\.0\.1' is an address declared in namespace h on 'u0': the kernel takes the route but ignores a local gateway/);
      assert.match(sb.ip('h', ['route', 'show', '10.9.0.0/24']), /via 10\.7\.0\.2/);
    } finally {
      fs.writeFileSync(file, CONFIG);
    }
  });

  it('set by hand, the kernel takes it, shows no gateway for it, and the host is not reached', () => {
    // With Voltron's protocol: as if it had made it.
    sb.ip('h', ['route', 'replace', '10.9.0.0/24', 'via', '10.7.0.1', 'proto', '194']);
    assert.match(sb.ip('h', ['route', 'show', '10.9.0.0/24']), /via 10\.7\.0\.1 dev u0/);
    assert.doesNotMatch(sb.ip('h', ['route', 'get', '10.9.0.5']), /via/);
    sb.ip('h', ['neigh', 'flush', 'all']);
    assert.notEqual(sb.exec('h', ['ping', '-c', '2', '-W', '1', '10.9.0.5']).code, 0, 'h reaches 10.9.0.5');
    // It asked ARP for the destination itself, on u0: nobody there holds it.
    assert.match(sb.ip('h', ['neigh', 'show', '10.9.0.5']), /dev u0 .*(FAILED|INCOMPLETE)/);
  });

  it('apply puts the router back; destroy leaves nothing', () => {
    const r = sb.run(['apply', '--auto-approve']);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.equal(sb.pingUntil('h', ['10.9.0.5']).code, 0);
    const d = sb.run(['destroy', '--auto-approve']);
    assert.equal(d.code, 0, d.stdout + d.stderr);
  });
});
