// Real kernel, examples/srv6-lab: the declared SR path is the one packets take. Proven with the
// receive counters on r1's and r2's links, an SRH captured on the wire (decoded here from the
// pcap), and a pool/path edit that moves the traffic with an in-place route update.
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { REPO, Sandbox, copyConfig } from '../support/sandbox';
import { type Srh, srhsFromPcap } from '../support/pcap';

const H2 = '2001:db8:21::2';
const seg6Mtu = (n: number) => 1500 - 40 - 8 - 16 * n;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('examples/srv6-lab: SRv6 paths proven with packets', () => {
  const sb = new Sandbox('srv', path.join(REPO, 'examples/srv6-lab'));
  const cfg = copyConfig(path.join(REPO, 'examples/srv6-lab'));
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'voltron-srv6-'));
  const children: ChildProcess[] = [];
  after(() => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null && c.pid) process.kill(c.pid, 'SIGKILL');
    sb.cleanup();
    fs.rmSync(cfg, { recursive: true, force: true });
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  const rx = (ns: string, dev: string): { packets: number; bytes: number } => sb.ipj(ns, ['-s', 'link', 'show', dev])[0].stats64.rx;
  /** RX deltas on the forward-direction links of r1 and r2 (from r0), and on r1's link from h2 (replies). */
  const counters = () => ({ r1: rx('vlab-r1', 'r1-r0'), r2: rx('vlab-r2', 'r2-r0'), r1h2: rx('vlab-r1', 'r1-h2') });
  const delta = (a: ReturnType<typeof counters>, b: ReturnType<typeof counters>) => ({
    r1: b.r1.packets - a.r1.packets, r2: b.r2.packets - a.r2.packets, r1h2: b.r1h2.packets - a.r1h2.packets,
    r1Bytes: b.r1.bytes - a.r1.bytes, r2Bytes: b.r2.bytes - a.r2.bytes,
  });
  const editRoutes = (fn: (s: string) => string) => {
    const f = path.join(cfg, 'routes.yaml');
    const before = fs.readFileSync(f, 'utf8');
    const next = fn(before);
    assert.notEqual(next, before, 'edit applied to the config');
    fs.writeFileSync(f, next);
  };
  const pings = (n: number) => {
    const r = sb.exec('vlab-h1', ['ping', '-6', '-c', String(n), '-i', '0.01', '-W', '1', H2]);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, new RegExp(`${n} received`));
  };

  /** Start a child inside a namespace and remember it so after() can kill it by pid. */
  const start = (ns: string, cmd: string[]): ChildProcess & { err: () => string } => {
    const c = spawn('ip', ['netns', 'exec', sb.ns(ns), ...cmd], { stdio: ['ignore', 'pipe', 'pipe'] });
    let err = '';
    c.stderr!.on('data', (d) => (err += d));
    c.stdout!.resume();
    children.push(c);
    return Object.assign(c, { err: () => err });
  };
  const exited = (c: ChildProcess) => new Promise<void>((r) => (c.exitCode !== null || c.signalCode !== null ? r() : c.once('exit', () => r())));

  /** A bounded TCP transfer h1 → h2 (iperf3); returns the bytes h2 received. */
  async function tcpTransfer(seconds: number): Promise<number> {
    const srv = start('vlab-h2', ['iperf3', '-s', '-1', '-B', H2, '-p', '5299']);
    try {
      let res = { code: -1, stdout: '', stderr: '' };
      for (let i = 0; i < 20; i++) {
        await sleep(100);
        res = sb.exec('vlab-h1', ['timeout', String(seconds + 8), 'iperf3', '-c', H2, '-p', '5299', '-t', String(seconds), '-J'], (seconds + 10) * 1000);
        if (res.code === 0 || !/refused/.test(res.stdout + res.stderr)) break;
      }
      assert.equal(res.code, 0, res.stdout.slice(0, 2000) + res.stderr + srv.err());
      // Bytes the server received: those certainly crossed the links (sum_sent may include data
      // still queued in the client's socket when it stopped).
      const bytes = JSON.parse(res.stdout).end.sum_received.bytes as number;
      assert.ok(bytes > 1_000_000, `transfer moved ${bytes} bytes`);
      return bytes;
    } finally {
      if (srv.exitCode === null && srv.pid) process.kill(srv.pid, 'SIGTERM');
      await exited(srv);
    }
  }

  /** Capture `count` SR packets on a link of a namespace while `traffic` runs. */
  async function captureSrh(ns: string, dev: string, count: number, traffic: () => void): Promise<Srh[]> {
    const file = path.join(tmp, `${ns}-${dev}-${Date.now()}.pcap`);
    const td = start(ns, ['timeout', '10', 'tcpdump', '-i', dev, '-Q', 'in', '-n', '-U', '-c', String(count), '-w', file, 'ip6[6] == 43']);
    for (let i = 0; i < 50 && !/listening on/.test(td.err()); i++) await sleep(100);
    assert.match(td.err(), /listening on/, 'tcpdump started');
    traffic();
    await exited(td);
    return srhsFromPcap(file);
  }

  it('applies the lab: seg6 route with derived MTU, tunsrc, End SIDs, a BSID and seg6 sysctls', () => {
    const r = sb.run(['apply', '--auto-approve']);
    assert.equal(r.code, 0, r.stderr + r.stdout);
    assert.match(r.stdout, /Verified/);
    const [h1] = sb.ipj('vlab-h1', ['-6', 'route', 'show', '2001:db8:21::/64']);
    assert.equal(h1.encap, 'seg6');
    assert.equal(h1.mode, 'encap');
    assert.deepEqual(h1.segs, ['fc00:2::e', H2]);
    assert.deepEqual(h1.metrics, [{ mtu: seg6Mtu(2) }]);
    assert.equal(seg6Mtu(2), 1420);
    assert.equal(sb.exec('vlab-h1', ['ip', 'sr', 'tunsrc', 'show']).stdout.trim(), 'tunsrc addr 2001:db8:10::1');
    for (const [ns, sid] of [['vlab-r1', 'fc00:1::e'], ['vlab-r2', 'fc00:2::e']] as const) {
      const [e] = sb.ipj(ns, ['-6', 'route', 'show', sid]);
      assert.equal(e.encap, 'seg6local');
      assert.equal(e.action, 'End');
    }
    const [bsid] = sb.ipj('vlab-r0', ['-6', 'route', 'show', 'fc00:ff::2']);
    assert.equal(bsid.encap, 'seg6local');
    assert.equal(bsid.action, 'End.B6.Encaps');
    assert.deepEqual(bsid.srh.segs, ['fc00:2::e', H2]);
    assert.equal(bsid.dev, 'r0-r2');
    // seg6_enabled is min(all, interface): the links, created after `default` was set, inherit 1.
    for (const [ns, dev] of [['vlab-r2', 'r2-r0'], ['vlab-h2', 'h2-r2'], ['vlab-h2', 'h2-r1']] as const)
      assert.equal(sb.exec(ns, ['cat', `/proc/sys/net/ipv6/conf/${dev}/seg6_enabled`]).stdout.trim(), '1', `${ns}/${dev}`);
  });

  it('re-plans to nothing', () => {
    const p = sb.run(['plan', '--detailed-exitcode']);
    assert.equal(p.code, 0, p.stdout + p.stderr);
    assert.match(p.stdout, /No changes/);
  });

  it('ping and TCP from h1 to h2 cross r2 (path via-r2), never r1 forward', async () => {
    const ping = sb.pingUntil('vlab-h1', ['-6', H2]);
    assert.equal(ping.code, 0, ping.stdout + ping.stderr);
    const c0 = counters();
    pings(50);
    const c1 = counters();
    const d = delta(c0, c1);
    console.log(`# via-r2 ping x50: rx r2-r0 +${d.r2}, r1-r0 +${d.r1}, r1-h2 (replies) +${d.r1h2}`);
    assert.ok(d.r2 >= 50, `r2-r0 received ${d.r2} >= 50`);
    assert.ok(d.r1 <= 5, `r1-r0 received ${d.r1} (only stray ND)`);
    assert.ok(d.r1h2 >= 50, `replies come back through r1: r1-h2 received ${d.r1h2}`);
    const bytes = await tcpTransfer(2);
    const d2 = delta(c1, counters());
    console.log(`# via-r2 iperf3 2 s: ${bytes} bytes received by h2; rx r2-r0 +${d2.r2Bytes} B, r1-r0 +${d2.r1Bytes} B / +${d2.r1} pkts`);
    assert.ok(d2.r2Bytes >= bytes, `r2-r0 received ${d2.r2Bytes} B >= ${bytes} B delivered`);
    assert.ok(d2.r1Bytes < bytes / 100, `r1-r0 received ${d2.r1Bytes} B, far below ${bytes}`);
  });

  it('the SRH on the wire carries the declared segments (r2 ingress segleft 1, h2 segleft 0)', async () => {
    const atR2 = await captureSrh('vlab-r2', 'r2-r0', 3, () => pings(5));
    assert.ok(atR2.length >= 3, `captured ${atR2.length} SR packets at r2`);
    for (const s of atR2) {
      assert.deepEqual(s.segments, ['fc00:2::e', H2]);
      assert.equal(s.segmentsLeft, 1);
      assert.equal(s.lastEntry, 1);
      assert.equal(s.dst, 'fc00:2::e');
      assert.equal(s.src, '2001:db8:10::1', 'outer source is the declared tunsrc');
      assert.equal(s.innerNext, 41, 'encap mode: inner IPv6');
    }
    const atH2 = await captureSrh('vlab-h2', 'h2-r2', 3, () => pings(5));
    assert.ok(atH2.length >= 3);
    for (const s of atH2) {
      assert.deepEqual(s.segments, ['fc00:2::e', H2]);
      assert.equal(s.segmentsLeft, 0);
      assert.equal(s.dst, H2);
    }
  });

  it('moving the route to path via-r1 is an in-place update and moves the traffic to r1', async () => {
    editRoutes((s) => s.replace('srv6: { pool: h2-paths, path: via-r2 }', 'srv6: { pool: h2-paths, path: via-r1 }'));
    const p = sb.run(['plan', '--detailed-exitcode'], { config: cfg });
    assert.equal(p.code, 2, p.stdout + p.stderr);
    assert.match(p.stdout, /~ route vlab-h1 2001:db8:21::\/64/);
    assert.match(p.stdout, /SRv6 pool h2-paths, path via-r1/);
    assert.match(p.stdout, /encap\.segments: \[fc00:2::e, 2001:db8:21::2\] → \[fc00:1::e, 2001:db8:21::2\]/);
    assert.match(p.stdout, /Plan: 0 to add, 1 to change, 0 to replace, 0 to destroy/);
    const a = sb.run(['apply', '--auto-approve'], { config: cfg });
    assert.equal(a.code, 0, a.stdout + a.stderr);
    assert.match(a.stdout, /updated: route vlab-h1 2001:db8:21::\/64/);
    assert.deepEqual(sb.ipj('vlab-h1', ['-6', 'route', 'show', '2001:db8:21::/64'])[0].segs, ['fc00:1::e', H2]);
    const p2 = sb.run(['plan', '--detailed-exitcode'], { config: cfg });
    assert.equal(p2.code, 0, p2.stdout + p2.stderr);

    const c0 = counters();
    pings(50);
    const c1 = counters();
    const d = delta(c0, c1);
    console.log(`# via-r1 ping x50: rx r1-r0 +${d.r1}, r2-r0 +${d.r2}`);
    assert.ok(d.r1 >= 50, `r1-r0 received ${d.r1} >= 50`);
    assert.ok(d.r2 <= 5, `r2-r0 received ${d.r2} (only stray ND)`);
    const bytes = await tcpTransfer(1);
    const d2 = delta(c1, counters());
    console.log(`# via-r1 iperf3 1 s: ${bytes} bytes received by h2; rx r1-r0 +${d2.r1Bytes} B, r2-r0 +${d2.r2Bytes} B`);
    assert.ok(d2.r1Bytes >= bytes, `r1-r0 received ${d2.r1Bytes} B >= ${bytes} B`);
    assert.ok(d2.r2Bytes < bytes / 100, `r2-r0 received ${d2.r2Bytes} B, far below ${bytes}`);
    const atR1 = await captureSrh('vlab-r1', 'r1-r0', 2, () => pings(3));
    assert.ok(atR1.length >= 2);
    for (const s of atR1) assert.deepEqual(s.segments, ['fc00:1::e', H2]);
  });

  it('a pool path edit names exactly the routes that use it; the MTU follows the segment count', () => {
    // via-r2 is now used only by r0's binding SID: editing it changes that route, not h1's.
    editRoutes((s) => s.replace('via-r2: { segments: [ "fc00:2::e", "2001:db8:21::2" ] }', 'via-r2: { segments: [ "fc00:2::e", "fc00:1::e", "2001:db8:21::2" ] }'));
    // via-r1 (used by h1's route) grows to 3 segments: r2 then r1.
    editRoutes((s) => s.replace('via-r1: { segments: [ "fc00:1::e", "2001:db8:21::2" ] }', 'via-r1: { segments: [ "fc00:2::e", "fc00:1::e", "2001:db8:21::2" ] }'));
    const p = sb.run(['plan', '--detailed-exitcode'], { config: cfg });
    assert.equal(p.code, 2, p.stdout + p.stderr);
    assert.match(p.stdout, /~ route vlab-r0 fc00:ff::2\/128[\s\S]*SRv6 pool h2-paths, path via-r2/);
    assert.match(p.stdout, /~ route vlab-h1 2001:db8:21::\/64[\s\S]*SRv6 pool h2-paths, path via-r1/);
    assert.match(p.stdout, new RegExp(`mtu: ${seg6Mtu(2)} → ${seg6Mtu(3)}`));
    assert.match(p.stdout, /Plan: 0 to add, 2 to change, 0 to replace, 0 to destroy/);
    const a = sb.run(['apply', '--auto-approve'], { config: cfg });
    assert.equal(a.code, 0, a.stdout + a.stderr);
    const [h1] = sb.ipj('vlab-h1', ['-6', 'route', 'show', '2001:db8:21::/64']);
    assert.deepEqual(h1.segs, ['fc00:2::e', 'fc00:1::e', H2]);
    assert.deepEqual(h1.metrics, [{ mtu: seg6Mtu(3) }]);
    assert.deepEqual(sb.ipj('vlab-r0', ['-6', 'route', 'show', 'fc00:ff::2'])[0].srh.segs, ['fc00:2::e', 'fc00:1::e', H2]);
    // Three segments: forward traffic crosses r2 and then r1.
    const c0 = counters();
    pings(20);
    const d = delta(c0, counters());
    console.log(`# 3-segment path ping x20: rx r2-r0 +${d.r2}, r1-r0 +${d.r1}`);
    assert.ok(d.r2 >= 20 && d.r1 >= 20, JSON.stringify(d));
    assert.equal(sb.run(['plan', '--detailed-exitcode'], { config: cfg }).code, 0);
  });

  it('a route steered through the binding SID reaches h2 via r0 (End.B6.Encaps) and r2, r1', async () => {
    editRoutes((s) => s.replace('srv6: { pool: h2-paths, path: via-r1 }', 'srv6: { pool: h2-paths, path: via-bsid }'));
    const a = sb.run(['apply', '--auto-approve'], { config: cfg });
    assert.equal(a.code, 0, a.stdout + a.stderr);
    // At r2 the packet carries r0's new outer header with the BSID's (edited, 3-segment) list.
    const atR2 = await captureSrh('vlab-r2', 'r2-r0', 2, () => pings(3));
    assert.ok(atR2.length >= 2);
    for (const s of atR2) {
      assert.deepEqual(s.segments, ['fc00:2::e', 'fc00:1::e', H2]);
      assert.equal(s.segmentsLeft, 2);
      assert.equal(s.innerNext, 41);
    }
  });

  it('destroy leaves nothing', () => {
    const d = sb.run(['destroy', '--auto-approve'], { config: cfg });
    assert.equal(d.code, 0, d.stdout + d.stderr);
    assert.deepEqual(sb.namespaces(), []);
  });
});
