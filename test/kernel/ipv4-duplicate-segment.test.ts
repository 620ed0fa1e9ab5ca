// Real kernel: why validation refuses one IPv4 address in two namespaces on one L2 segment. The
// kernel takes both (IPv4 has no duplicate detection). A node of the segment gets an ARP reply
// from each holder and sends everything to the first, so the other holder's replies go astray;
// and each holder drops ARP sent from its own address (a martian source), so two veth ends with
// one address reach each other at no address at all. The legal shares (a gateway on veths into
// other namespaces, anycast on lo, one namespace on two links, a standby behind a link declared
// down) apply and verify.
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Sandbox } from '../support/sandbox';

const CONFIG = `
namespaces: [ { name: a }, { name: b }, { name: c }, { name: r }, { name: s } ]
links:
  - { name: ab, namespace: a, type: veth, peer: { name: ba, namespace: b } }
  - { name: br0, namespace: r, type: bridge }
  - { name: ra, namespace: r, type: veth, master: br0, peer: { name: ar, namespace: a } }
  - { name: rc, namespace: r, type: veth, master: br0, peer: { name: cr, namespace: c } }
  - { name: sa, namespace: s, type: veth, peer: { name: as, namespace: a } }
  - { name: sb, namespace: s, type: veth, peer: { name: bs, namespace: b } }
  - { name: sc, namespace: s, type: veth, peer: { name: cs, namespace: c, state: down } }
addresses:
  - { address: 10.0.0.1/24, dev: ab, namespace: a }
  - { address: 10.0.0.2/24, dev: ba, namespace: b }
  - { address: 10.1.0.1/24, dev: br0, namespace: r }
  - { address: 10.1.0.2/24, dev: ar, namespace: a }
  - { address: 10.1.0.3/24, dev: cr, namespace: c }
  - { address: 169.254.1.1/32, dev: sa, namespace: s }
  - { address: 169.254.1.1/32, dev: sb, namespace: s }
  - { address: 169.254.1.1/32, dev: sc, namespace: s }
  - { address: 169.254.1.1/32, dev: cs, namespace: c }
  - { address: 192.0.2.53/32, dev: lo, namespace: a }
  - { address: 192.0.2.53/32, dev: lo, namespace: b }
  - { address: 10.2.0.1/24, dev: ab, namespace: a }
  - { address: 10.2.0.1/16, dev: ab, namespace: a }
  - { address: 10.2.0.1/24, dev: as, namespace: a }
`;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('one IPv4 address in two namespaces on one L2 segment (real kernel)', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'voltron-v4dup-'));
  const file = path.join(dir, 'net.yaml');
  fs.writeFileSync(file, CONFIG);
  const sb = new Sandbox('v4d', dir);
  const children: ChildProcess[] = [];
  after(() => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGTERM');
    sb.cleanup();
    fs.rmSync(dir, { recursive: true, force: true });
  });
  const ping = (ns: string, to: string, from: string[] = []) => sb.exec(ns, ['ping', '-c', '1', '-W', '1', ...from, to]).code;

  it('the legal shares apply and verify; every holder on a segment reaches the others', () => {
    const r = sb.run(['apply', '--auto-approve']);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.equal(sb.pingUntil('a', ['10.0.0.2']).code, 0);
    assert.equal(sb.pingUntil('c', ['10.1.0.1']).code, 0);
    assert.equal(sb.pingUntil('c', ['10.1.0.2']).code, 0);
  });

  it('validation refuses the duplicates, each at its address naming the first', () => {
    fs.writeFileSync(file, CONFIG.replace('10.0.0.2/24, dev: ba', '10.0.0.1/24, dev: ba').replace('10.1.0.2/24, dev: ar', '10.1.0.1/24, dev: ar'));
    try {
      const v = sb.run(['plan']);
      assert.equal(v.code, 1, v.stdout + v.stderr);
      assert.match(v.stderr, /\/addresses\/1\/address: IPv4 address 10\.0\.0\.1 is already declared on link 'ab' in namespace a \(first declared at \S+:\d+:\d+ \/addresses\/0\/address\): 'ba' and 'ab' are on one L2 segment/);
      assert.match(v.stderr, /\/addresses\/3\/address: IPv4 address 10\.1\.0\.1 is already declared on link 'br0' in namespace r .*'ar' and 'br0' are on one L2 segment/);
    } finally {
      fs.writeFileSync(file, CONFIG);
    }
  });

  it('on two veth ends, neither reaches the other at any address (ARP from its own address is dropped)', () => {
    sb.ip('b', ['addr', 'add', '10.0.0.1/24', 'dev', 'ba']); // the kernel takes it
    sb.ip('a', ['neigh', 'flush', 'dev', 'ab']);
    assert.notEqual(ping('a', '10.0.0.2'), 0, 'a reaches b at its other address');
    assert.equal(ping('a', '10.0.0.1'), 0, 'a answers for the address itself');
    sb.ip('b', ['addr', 'del', '10.0.0.1/24', 'dev', 'ba']);
  });

  it('behind a bridge, both holders answer ARP; the one answering second loses its replies', async () => {
    sb.ip('a', ['addr', 'add', '10.1.0.1/24', 'dev', 'ar']);
    sb.ip('c', ['neigh', 'flush', 'dev', 'cr']);
    const td = spawn('ip', ['netns', 'exec', sb.ns('c'), 'timeout', '10', 'tcpdump', '-i', 'cr', '-Q', 'in', '-n', '-l', '-e', '-c', '2', 'arp[6:2] == 2'], { stdio: ['ignore', 'pipe', 'pipe'] });
    children.push(td);
    let out = '';
    let err = '';
    td.stdout!.on('data', (d) => (out += d));
    td.stderr!.on('data', (d) => (err += d));
    for (let i = 0; i < 50 && !/listening on/.test(err); i++) await sleep(100);
    assert.match(err, /listening on/, 'tcpdump started');
    assert.equal(ping('c', '10.1.0.1'), 0);
    await new Promise<void>((res) => (td.exitCode !== null || td.signalCode !== null ? res() : td.once('exit', () => res())));
    const macOf = (ns: string, dev: string): string => sb.ipj(ns, ['link', 'show', dev])[0].address;
    const holders = { r: macOf('r', 'br0'), a: macOf('a', 'ar') };
    const replies = out.split('\n').filter((l) => /Reply 10\.1\.0\.1 is-at/.test(l));
    assert.deepEqual(new Set(replies.map((l) => /is-at (\S+),/.exec(l)![1])), new Set(Object.values(holders)), out);
    const chosen = sb.ipj('c', ['neigh', 'show', '10.1.0.1', 'dev', 'cr'])[0].lladdr;
    const loser = chosen === holders.r ? 'a' : 'r';
    // c's echo replies to 10.1.0.1 go to the chosen holder, which owns the address too: dropped.
    assert.notEqual(ping(loser, '10.1.0.3', ['-I', '10.1.0.1']), 0, `${loser} reaches c from 10.1.0.1`);
    assert.equal(ping(loser === 'a' ? 'r' : 'a', '10.1.0.3', ['-I', '10.1.0.1']), 0, 'the chosen holder reaches c');
    sb.ip('a', ['addr', 'del', '10.1.0.1/24', 'dev', 'ar']);
  });

  it('destroy leaves nothing', () => {
    const d = sb.run(['destroy', '--auto-approve']);
    assert.equal(d.code, 0, d.stdout + d.stderr);
  });
});
