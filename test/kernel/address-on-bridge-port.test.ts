// Real kernel: why validation refuses an address on a bridge port. The kernel takes it, but the
// bridge takes every frame the port receives: the ARP reply (IPv4) or neighbour advertisement
// (IPv6) for the port's own request goes up the bridge, so the port never resolves a neighbour;
// a request for the address is answered by the namespace all the same, and its reply goes out
// through the port, whose neighbour stays unresolved. Nothing gets through, either way. On the
// bridge, the same addresses work.
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
`;
const ADDRS = ['10.5.0.1/24', '2001:db8:5::1/64'];

describe('an address on a bridge port (real kernel)', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'voltron-portaddr-'));
  const file = path.join(dir, 'net.yaml');
  fs.writeFileSync(file, CONFIG);
  const sb = new Sandbox('bpa', dir);
  after(() => {
    sb.cleanup();
    fs.rmSync(dir, { recursive: true, force: true });
  });
  const ping = (ns: string, to: string) => sb.exec(ns, ['ping', '-c', '1', '-W', '1', to]).code;

  it('on the bridge, both ends reach each other (IPv4 and IPv6)', () => {
    const r = sb.run(['apply', '--auto-approve']);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    for (const [ns, to] of [['a', '10.5.0.1'], ['r', '10.5.0.2'], ['a', '2001:db8:5::1'], ['r', '2001:db8:5::2']] as const) assert.equal(sb.pingUntil(ns, [to]).code, 0, `${ns} -> ${to}`);
  });

  it('validation refuses them on the port, each at its dev, naming the master', () => {
    fs.writeFileSync(file, CONFIG.replace(/dev: br0, namespace: r/g, 'dev: ra, namespace: r'));
    try {
      const p = sb.run(['plan']);
      assert.equal(p.code, 1, p.stdout + p.stderr);
      for (const [i, a] of ADDRS.entries())
        assert.match(p.stderr, new RegExp(`/addresses/${i}/dev: address ${a.replace(/\./g, '\\.')} is on 'ra' in namespace r, a port of bridge 'br0' \\(master declared at \\S+:\\d+:\\d+ /links/1/master\\): the bridge takes every frame`));
    } finally {
      fs.writeFileSync(file, CONFIG);
    }
  });

  it('moved to the port by hand, nothing gets through in either direction', () => {
    for (const a of ADDRS) {
      sb.ip('r', ['addr', 'del', a, 'dev', 'br0']);
      sb.ip('r', ['addr', 'add', a, 'dev', 'ra', ...(a.includes(':') ? ['nodad'] : [])]);
    }
    for (const ns of ['a', 'r']) sb.ip(ns, ['neigh', 'flush', 'all']);
    for (const [ns, to] of [['a', '10.5.0.1'], ['r', '10.5.0.2'], ['a', '2001:db8:5::1'], ['r', '2001:db8:5::2']] as const) assert.notEqual(ping(ns, to), 0, `${ns} reaches ${to}`);
    for (const a of ADDRS) sb.ip('r', ['addr', 'del', a, 'dev', 'ra']);
  });

  it('apply puts them back on the bridge; destroy leaves nothing', () => {
    const r = sb.run(['apply', '--auto-approve']);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.equal(sb.pingUntil('a', ['10.5.0.1']).code, 0);
    const d = sb.run(['destroy', '--auto-approve']);
    assert.equal(d.code, 0, d.stdout + d.stderr);
  });
});
