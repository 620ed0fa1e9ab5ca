// Real kernel: an SRH the kernel inserts into the packet (seg6 `mode: inline`, seg6local End.B6)
// has its segments[0] overwritten with the packet's destination, so it must hold a reserved slot
// after the declared segments, as iproute2 writes it. Without it the last declared segment was
// lost: packets skipped it (proven here with a capture), and a route iproute2 wrote with the
// same segments read back as different.
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Sandbox } from '../support/sandbox';
import { srhsFromPcap } from '../support/pcap';

const CONFIG = `namespaces:
  - { name: na, sysctls: { net.ipv6.conf.all.forwarding: 1 } }
links:
  - { name: va0, type: veth, peer: { name: vb0, namespace: na } }
addresses:
  - { address: 2001:db8:1::1/64, dev: va0 }
  - { address: 2001:db8:1::2/64, dev: vb0, namespace: na }
routes:
  - { to: "fc00::/16", via: "2001:db8:1::2", dev: va0 }
  - { to: "2001:db8:22::/64", via: "2001:db8:1::2", dev: va0, encap: { type: seg6, mode: inline, segments: [ "fc00:b6::1" ] } }
  - { namespace: na, to: "fc00:b::/32", via: "2001:db8:1::1", dev: vb0 }
  - { to: "2001:db8:21::/64", via: "2001:db8:1::2", dev: va0, encap: { type: seg6, mode: inline, segments: [ "fc00:9::e", "fc00:8::e" ] } }
  - { namespace: na, to: "fc00:b6::1/128", dev: vb0, encap: { type: seg6local, action: End.B6, segments: [ "fc00:b::1", "fc00:b::2" ] } }
`;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('an inserted SRH (seg6 inline, End.B6) keeps every declared segment (real kernel)', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'voltron-srv6-inline-'));
  fs.writeFileSync(path.join(dir, 'net.yaml'), CONFIG);
  const sb = new Sandbox('sin', dir);
  const children: ChildProcess[] = [];
  after(() => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null && c.pid) process.kill(c.pid, 'SIGKILL');
    sb.cleanup();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('applies, and the kernel holds the SRHs as iproute2 writes them (a reserved slot last)', () => {
    const a = sb.run(['apply', '--auto-approve']);
    assert.equal(a.code, 0, a.stdout + a.stderr);
    const [inline] = sb.ipj('', ['-6', 'route', 'show', '2001:db8:21::/64']);
    assert.deepEqual(inline.segs, ['fc00:9::e', 'fc00:8::e', '::']);
    const [b6] = sb.ipj('na', ['-6', 'route', 'show', 'fc00:b6::1']);
    assert.deepEqual(b6.srh.segs, ['fc00:b::1', 'fc00:b::2', '::']);
    const p = sb.run(['plan', '--detailed-exitcode']);
    assert.equal(p.code, 0, p.stdout + p.stderr);
  });

  /** The first SR packet received on `ns`/`dev` while a ping (never answered) goes from the root to `to`. */
  async function captureOne(ns: string, dev: string, to: string) {
    assert.equal(sb.pingUntil('', ['-6', '2001:db8:1::2']).code, 0, 'the gateway answers');
    const file = path.join(dir, `${ns}-${dev}.pcap`);
    const td = spawn('ip', ['netns', 'exec', sb.ns(ns), 'timeout', '10', 'tcpdump', '-i', dev, '-Q', 'in', '-n', '-U', '-c', '1', '-w', file, 'ip6[6] == 43'], { stdio: ['ignore', 'ignore', 'pipe'] });
    children.push(td);
    let err = '';
    td.stderr!.on('data', (d) => (err += d));
    for (let i = 0; i < 50 && !/listening on/.test(err); i++) await sleep(100);
    assert.match(err, /listening on/, 'tcpdump started');
    sb.exec('', ['ping', '-6', '-c', '1', '-W', '1', to]); // no answer: only the request matters
    await new Promise<void>((r) => (td.exitCode !== null || td.signalCode !== null ? r() : td.once('exit', () => r())));
    const [srh] = srhsFromPcap(file);
    assert.ok(srh, `an SR packet was captured on ${ns}/${dev}`);
    return srh;
  }

  it('a packet on the inline route visits both declared segments, then its destination', async () => {
    const srh = await captureOne('na', 'vb0', '2001:db8:21::5');
    assert.equal(srh.dst, 'fc00:9::e', 'first hop: the first declared segment');
    assert.deepEqual(srh.segments, ['fc00:9::e', 'fc00:8::e', '2001:db8:21::5']);
    assert.equal(srh.segmentsLeft, 2);
  });

  it('End.B6 inserts an SRH that visits both its segments, then the SID (back in the root)', async () => {
    // Root -> (inline, SID fc00:b6::1) -> na: End.B6 inserts its SRH and forwards to fc00:b::1 via the root.
    const srh = await captureOne('', 'va0', '2001:db8:22::5');
    assert.equal(srh.dst, 'fc00:b::1');
    assert.deepEqual(srh.segments, ['fc00:b::1', 'fc00:b::2', 'fc00:b6::1']);
    assert.equal(srh.segmentsLeft, 2);
  });

  it('a route iproute2 wrote in inline mode reads back with the segments it was given', () => {
    // With an mtu: `show` lists a seg6 route without one apart (the config derives one for every seg6 route).
    sb.ip('', ['-6', 'route', 'add', '2001:db8:23::/64', 'via', '2001:db8:1::2', 'dev', 'va0', 'mtu', '1500', 'encap', 'seg6', 'mode', 'inline', 'segs', 'fc00:9::e,fc00:8::e']);
    const s = sb.run(['show', '-o', 'json']);
    assert.equal(s.code, 0, s.stdout + s.stderr);
    const routes = JSON.parse(s.stdout).routes as { to: string; encap?: { segments?: string[] } }[];
    const r = routes.find((x) => x.to === '2001:db8:23::/64');
    assert.ok(r, `show lists the foreign route\n${s.stdout}`);
    assert.deepEqual(r.encap?.segments, ['fc00:9::e', 'fc00:8::e']);
  });

  it('a route iproute2 wrote in a reduced mode (encap.red) reads as such, and a declared encap repairs it', () => {
    sb.ip('', ['-6', 'route', 'add', '2001:db8:24::/64', 'via', '2001:db8:1::2', 'dev', 'va0', 'mtu', '1500', 'encap', 'seg6', 'mode', 'encap.red', 'segs', 'fc00:9::e']);
    const s = sb.run(['show', '-o', 'json']);
    assert.equal(s.code, 0, s.stdout + s.stderr);
    const r = (JSON.parse(s.stdout).routes as { to: string; encap?: { mode?: string } }[]).find((x) => x.to === '2001:db8:24::/64');
    assert.equal(r?.encap?.mode, 'encap.red', s.stdout);
    // Declared with mode encap (and the MTU it implies): before, the live route passed for it.
    const declared = `  - { to: "2001:db8:24::/64", via: "2001:db8:1::2", dev: va0, mtu: 1500, encap: { type: seg6, mode: encap, segments: [ "fc00:9::e" ] } }\n`;
    sb.ip('', ['-6', 'route', 'change', '2001:db8:24::/64', 'via', '2001:db8:1::2', 'dev', 'va0', 'mtu', '1500', 'encap', 'seg6', 'mode', 'encap.red', 'segs', 'fc00:9::e']);
    fs.writeFileSync(path.join(dir, 'net.yaml'), CONFIG + declared);
    const p = sb.run(['plan']);
    assert.match(p.stdout, /encap\.mode: encap\.red → encap/, p.stdout + p.stderr);
    assert.equal(sb.run(['apply', '--auto-approve']).code, 0);
    const [after] = sb.ipj('', ['-6', 'route', 'show', '2001:db8:24::/64']);
    assert.equal(after.mode, 'encap', JSON.stringify(after));
  });

  it('a route with an SRH Voltron does not model (hmac) never passes for the declared one: the plan names it', () => {
    const to = '2001:db8:25::/64';
    sb.ip('', ['-6', 'route', 'add', to, 'via', '2001:db8:1::2', 'dev', 'va0', 'mtu', '1452', 'encap', 'seg6', 'mode', 'encap', 'segs', 'fc00:9::e', 'hmac', '5']);
    const declared = `  - { to: "${to}", via: "2001:db8:1::2", dev: va0, mtu: 1452, encap: { type: seg6, mode: encap, segments: [ "fc00:9::e" ] } }\n`;
    const before = fs.readFileSync(path.join(dir, 'net.yaml'), 'utf8');
    fs.writeFileSync(path.join(dir, 'net.yaml'), before + declared);
    // Before: read without its HMAC, it matched the declaration ("No changes").
    const p = sb.run(['plan']);
    assert.notEqual(p.code, 0, p.stdout + p.stderr);
    assert.match(p.stderr, /a foreign route \(encap seg6 hmac via 2001:db8:1::2 dev va0 proto boot\) holds its destination/, p.stdout + p.stderr);
    sb.ip('', ['-6', 'route', 'del', to]);
    fs.writeFileSync(path.join(dir, 'net.yaml'), before);
  });

  it('destroy leaves nothing', () => {
    const d = sb.run(['destroy', '--auto-approve']);
    assert.equal(d.code, 0, d.stdout + d.stderr);
    assert.deepEqual(sb.namespaces(), []);
  });
});
