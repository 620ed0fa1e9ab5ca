// Real kernel: why validation refuses a route out of a bridge port, as it refuses an address on
// one. The kernel takes the route, but the bridge takes every frame the port receives: the ARP
// reply (IPv4) or neighbour advertisement (IPv6) for the port's request goes up the bridge, so
// the port never resolves the destination and nothing goes out. Over the bridge, the same
// routes work.
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Sandbox } from '../support/sandbox';

const CONFIG = `
namespaces: [ { name: a }, { name: r } ]
links:
  - { name: br0, namespace: r, type: bridge }
  - { name: ra, namespace: r, type: veth, master: br0, peer: { name: ar, namespace: a } }
addresses:
  - { address: 10.5.0.1/24, dev: br0, namespace: r }
  - { address: "2001:db8:5::1/64", dev: br0, namespace: r }
  - { address: 10.5.0.2/24, dev: ar, namespace: a }
  - { address: "2001:db8:5::2/64", dev: ar, namespace: a }
  - { address: 10.6.0.5/24, dev: ar, namespace: a }
  - { address: "2001:db8:6::5/64", dev: ar, namespace: a }
routes:
  - { to: 10.6.0.0/24, dev: br0, namespace: r }
  - { to: "2001:db8:6::/64", dev: br0, namespace: r }
`;
const ROUTES = ['10.6.0.0/24', '2001:db8:6::/64'];
const FAR = ['10.6.0.5', '2001:db8:6::5'];
const fam = (to: string) => (to.includes(':') ? '-6' : '-4');

describe('a route out of a bridge port (real kernel)', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'voltron-portroute-'));
  const file = path.join(dir, 'net.yaml');
  fs.writeFileSync(file, CONFIG);
  const sb = new Sandbox('bpr', dir);
  after(() => {
    sb.cleanup();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('over the bridge, the routes carry traffic (IPv4 and IPv6)', () => {
    const r = sb.run(['apply', '--auto-approve']);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    for (const to of FAR) assert.equal(sb.pingUntil('r', [to]).code, 0, `r -> ${to}`);
  });

  it('validation refuses them on the port, each at its dev, naming the master; nothing changes', () => {
    fs.writeFileSync(file, CONFIG.replace(/dev: br0, namespace: r \}/g, 'dev: ra, namespace: r }'));
    try {
      const p = sb.run(['apply', '--auto-approve']);
      assert.equal(p.code, 1, p.stdout + p.stderr);
      for (const i of [0, 1]) assert.match(p.stderr, new RegExp(`/routes/${i}/dev: 'ra' is a port of bridge 'br0' in namespace r \\(master declared at \\S+:\\d+:\\d+ /links/1/master\\): the kernel takes the route`));
      for (const to of ROUTES) assert.match(sb.ip('r', [fam(to), 'route', 'show', to]), /dev br0/);
    } finally {
      fs.writeFileSync(file, CONFIG);
    }
  });

  it('moved to the port by hand, the kernel takes them and nothing gets through', () => {
    // With Voltron's protocol: as if it had made them there.
    for (const to of ROUTES) sb.ip('r', [fam(to), 'route', 'replace', to, 'dev', 'ra', 'proto', '194']);
    sb.ip('r', ['neigh', 'flush', 'all']);
    for (const to of FAR) assert.notEqual(sb.exec('r', ['ping', '-c', '2', '-W', '1', to]).code, 0, `r reaches ${to} over the port`);
    assert.match(sb.ip('r', ['neigh', 'show', 'dev', 'ra']), /FAILED|INCOMPLETE/);
  });

  it('apply puts them back on the bridge; destroy leaves nothing', () => {
    const r = sb.run(['apply', '--auto-approve']);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    for (const to of ROUTES) assert.match(sb.ip('r', [fam(to), 'route', 'show', to]), /dev br0/);
    for (const to of FAR) assert.equal(sb.pingUntil('r', [to]).code, 0, `r -> ${to}`);
    const d = sb.run(['destroy', '--auto-approve']);
    assert.equal(d.code, 0, d.stdout + d.stderr);
  });
});
