// Real kernel: links are created with ifindexes chosen by Voltron (no NLM_F_ECHO needed), so
// every later request that names a link by index (master, addresses, routes) must land on the
// right one — including a veth's peer in another namespace, and when another process has
// taken the index Voltron was about to use.
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { AddressRes, LinkRes, NamespaceRes } from '../../src/model/types';
import { createAddress } from '../../src/kernel/address';
import { createLink } from '../../src/kernel/link';
import { createNamespace } from '../../src/kernel/namespace';
import { KernelSession } from '../../src/kernel/session';
import { Sandbox } from '../support/sandbox';

const CONFIG = `
namespaces:
  - name: ia
  - name: ib
links:
  - { name: br0, namespace: ia, type: bridge }
  - { name: v0, namespace: ia, type: veth, master: br0, peer: { name: v1, namespace: ib } }
  - { name: w0, namespace: ib, type: veth, peer: { name: w1, namespace: ib } }
  - { name: br1, namespace: ib, type: bridge }
  - { name: vx1, namespace: ib, type: vxlan, master: br1, vxlan: { vni: 42, dstport: 4789 } }
addresses:
  - { namespace: ia, dev: br0, address: 10.61.0.1/24 }
  - { namespace: ib, dev: v1, address: 10.61.0.2/24 }
  - { namespace: ib, dev: w1, address: 10.62.0.1/24 }
  - { namespace: ib, dev: br1, address: 10.63.0.1/24 }
routes:
  - { namespace: ib, to: 10.64.0.0/16, dev: w0 }
`;

interface IpLink {
  ifindex: number;
  ifname: string;
  master?: string;
}
interface IpAddr extends IpLink {
  addr_info: { local: string; prefixlen: number }[];
}

function addrsByName(sb: Sandbox, ns: string): Map<string, string[]> {
  const list = sb.ipj(ns, ['addr', 'show']) as IpAddr[];
  return new Map(list.map((l) => [l.ifname, l.addr_info.filter((a) => !a.local.startsWith('fe80')).map((a) => `${a.local}/${a.prefixlen}`)]));
}

describe('ifindexes chosen by Voltron on the real kernel', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'voltron-ifindex-'));
  fs.writeFileSync(path.join(dir, 'net.yaml'), CONFIG);
  const sb = new Sandbox('ifx', dir);
  after(() => {
    sb.cleanup();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('masters, addresses and routes land on the right links, veth peers in other namespaces included', () => {
    const r = sb.run(['apply', '--auto-approve']);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    const a = addrsByName(sb, 'ia');
    const b = addrsByName(sb, 'ib');
    assert.deepEqual(a.get('br0'), ['10.61.0.1/24']);
    assert.deepEqual(a.get('v0'), []);
    assert.deepEqual(b.get('v1'), ['10.61.0.2/24']);
    assert.deepEqual(b.get('w1'), ['10.62.0.1/24']);
    assert.deepEqual(b.get('w0'), []);
    assert.deepEqual(b.get('br1'), ['10.63.0.1/24']);
    const linksA = sb.ipj('ia', ['link', 'show']) as IpLink[];
    assert.equal(linksA.find((l) => l.ifname === 'v0')?.master, 'br0');
    const linksB = sb.ipj('ib', ['link', 'show']) as IpLink[];
    assert.equal(linksB.find((l) => l.ifname === 'vx1')?.master, 'br1');
    // Indexes are unique per namespace (a chosen index never collided silently).
    for (const l of [linksA, linksB]) assert.equal(new Set(l.map((x) => x.ifindex)).size, l.length);
    const [route] = sb.ipj('ib', ['route', 'show', '10.64.0.0/16']) as { dev: string }[];
    assert.equal(route?.dev, 'w0');
    const again = sb.run(['plan', '--detailed-exitcode']);
    assert.equal(again.code, 0, again.stdout + again.stderr);
  });

  it('falls back to a kernel-chosen index when another process took the chosen one', () => {
    const session = new KernelSession({ sandbox: `${sb.prefix}race-` });
    const phys = `${sb.prefix}race-n`;
    try {
      createNamespace(session, { kind: 'namespace', name: 'n' } as NamespaceRes);
      // Squat the next few indexes behind Voltron's back.
      const max = Math.max(...(JSON.parse(execFileSync('ip', ['-j', '-n', phys, 'link', 'show'], { encoding: 'utf8' })) as IpLink[]).map((l) => l.ifindex));
      for (let k = 1; k <= 3; k++) execFileSync('ip', ['-n', phys, 'link', 'add', `sq${k}`, 'index', String(max + k), 'type', 'bridge']);
      const br = { kind: 'link', namespace: 'n', name: 'brx', type: 'bridge', state: 'up' } as LinkRes;
      createLink(session, br);
      const port = { kind: 'link', namespace: 'n', name: 'vxx', type: 'vxlan', master: 'brx', vxlan: { vni: 7, dstport: 4789 } } as LinkRes;
      createLink(session, port);
      createAddress(session, { kind: 'address', namespace: 'n', dev: 'brx', address: '10.65.0.1/24' } as AddressRes);
      const links = JSON.parse(execFileSync('ip', ['-j', '-n', phys, 'addr', 'show'], { encoding: 'utf8' })) as (IpAddr & IpLink)[];
      const brx = links.find((l) => l.ifname === 'brx')!;
      assert.equal(session.ns('n').ifindex('brx'), brx.ifindex);
      assert.ok(brx.addr_info.some((a) => a.local === '10.65.0.1'), 'address on the new bridge');
      for (let k = 1; k <= 3; k++) assert.ok(!links.find((l) => l.ifname === `sq${k}`)!.addr_info.some((a) => a.local === '10.65.0.1'));
      assert.equal(links.find((l) => l.ifname === 'vxx')?.master, 'brx');
    } finally {
      session.close();
      spawnSync('ip', ['netns', 'del', phys]);
    }
  });
});
