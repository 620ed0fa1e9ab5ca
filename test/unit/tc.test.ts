// Unit tests for the tc encoders: handles, psched tick conversions (iproute2's and the exact
// ones), qdisc/class/filter option payloads.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  CLSACT_EGRESS,
  CLSACT_INGRESS,
  TC_H_CLSACT,
  TC_H_ROOT,
  bytesToTicks,
  canonicalBytes,
  canonicalQdiscOptions,
  decodeBpfOptions,
  decodeHtbClass,
  decodeQdiscOptions,
  encodeBpfOptions,
  encodeHtbClass,
  encodeQdiscOptions,
  filterInfo,
  htbUnmodelledAttrs,
  kernelQuantum,
  restoredClassOptions,
  restorableQdiscOptions,
  formatParent,
  formatTcId,
  parseClassId,
  parseParent,
  parsePsched,
  parseQdiscHandle,
  parseTcId,
  tbfLatency,
  tbfLimit,
  tcCalcXmitsize,
  tcCalcXmittime,
  tcCoreTick2Time,
  ticksToBytes,
  maxBucketTicks,
  tickInUsec,
} from '../../src/kernel/tc';
import { Attrs } from '../../src/kernel/netlink/attrs';

// This machine's /proc/net/psched (kernel 6.x: 64 ns ticks, 1 GHz hrtimer).
const P = parsePsched('000003e8 00000040 000f4240 3b9aca00\n');

test('handles: parse and format like tc', () => {
  assert.equal(parseTcId('1:'), 0x10000);
  assert.equal(parseTcId('1:10'), 0x10010);
  assert.equal(parseTcId('ffff:fff2'), 0xfffffff2);
  assert.equal(parseTcId(':5'), 5);
  assert.equal(parseTcId('1'), undefined);
  assert.equal(parseTcId(':'), undefined);
  assert.equal(parseTcId('12345:1'), undefined);
  assert.equal(parseTcId('g:1'), undefined);
  assert.equal(formatTcId(0x10000), '1:');
  assert.equal(formatTcId(0x10010), '1:10');
  assert.equal(formatTcId(0xabcd00ef), 'abcd:ef');
  assert.equal(parseParent('root'), TC_H_ROOT);
  assert.equal(parseParent('clsact'), TC_H_CLSACT);
  assert.equal(parseParent('ingress'), 0xfffffff2);
  assert.equal(parseParent('egress'), 0xfffffff3);
  assert.equal(CLSACT_INGRESS, 0xfffffff2);
  assert.equal(CLSACT_EGRESS, 0xfffffff3);
  for (const s of ['root', 'clsact', 'ingress', 'egress', '1:', '1:10', 'ffff:1']) assert.equal(formatParent(parseParent(s)!), s);
  assert.equal(parseQdiscHandle(undefined), 0);
  assert.equal(parseQdiscHandle('10:'), 0x100000);
  assert.throws(() => parseQdiscHandle('1:1'), /bad qdisc handle/);
  assert.equal(parseClassId('1:10'), 0x10010);
  assert.throws(() => parseClassId('1:'), /bad class id/);
});

test('handles: format ∘ parse is the identity on all ids', () => {
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 0xffff }), fc.integer({ min: 0, max: 0xffff }), (maj, min) => {
      const h = ((maj << 16) | min) >>> 0;
      assert.equal(parseTcId(formatTcId(h)), h);
    }),
  );
});

test('psched: parsed like iproute2 tc_core_init/get_hz', () => {
  assert.deepEqual(P, { t2us: 1000, us2t: 64, clockRes: 1_000_000, hz: 1_000_000_000 });
  assert.equal(tickInUsec(P), 15.625);
  // an old-style 1 GHz clock_res: t2us := us2t
  const old = parsePsched('00000001 00000001 3b9aca00 3b9aca00');
  assert.equal(old.t2us, 1);
  assert.equal(old.hz, 100); // get_hz falls back to HZ when the 3rd field is not 1000000
  assert.throws(() => parsePsched('garbage'), /unexpected/);
});

test('iproute2 conversions reproduce what tc prints', () => {
  // tc tbf rate 10mbit burst 32kb: iproute2 truncates the time to whole microseconds
  assert.equal(tcCalcXmittime(1_250_000, 32768, P), 409593); // floor(26214 µs * 15.625)
  // the kernel reports 409600 ticks for 32768 B at 10mbit; tc -j shows burst 32767
  assert.equal(tcCalcXmitsize(1_250_000, 409600, P), 32767);
  assert.equal(tcCoreTick2Time(409600, P), 26214);
  // htb class default bucket 1600 B at 10mbit (tc shows burst 1600b)
  assert.equal(tcCalcXmitsize(1_250_000, tcCalcXmittime(1_250_000, 1600, P), P), 1600);
});

test('exact ticks: bucket round-trips below 125 Mbit/s, canonical (fixed point) above', () => {
  assert.equal(bytesToTicks(1_250_000, 32768, P), 409600);
  assert.equal(ticksToBytes(1_250_000, 409600, P), 32768);
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 15_625_000 }), fc.integer({ min: 1, max: 50_000_000 }), (rate, bytes) => {
      const t = bytesToTicks(rate, bytes, P);
      if (t === maxBucketTicks(P)) return; // a bucket over ~4.29 s: clamped by the kernel
      assert.equal(ticksToBytes(rate, t, P), bytes);
    }),
  );
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 2 ** 40 }), fc.integer({ min: 1, max: 2 ** 31 }), (rate, bytes) => {
      const t = bytesToTicks(rate, bytes, P);
      if (t === maxBucketTicks(P)) return; // clamped
      const c = canonicalBytes(rate, bytes, P);
      assert.ok(c >= bytes, 'never a smaller bucket than asked');
      assert.equal(canonicalBytes(rate, c, P), c);
      assert.equal(bytesToTicks(rate, c, P), t);
    }),
  );
  // 10gbit: one tick is 80 bytes; 32768 B reads back as the canonical 32800
  assert.equal(canonicalBytes(1_250_000_000, 32768, P), 32800);
  assert.equal(maxBucketTicks(P), 67_108_863); // 0xffffffff ns >> 6
  assert.equal(bytesToTicks(1, 10_000, P), 67_108_863);
});

test('tbf latency ↔ limit: exact at ≥ 8 Mbit/s, smallest equivalent latency below', () => {
  assert.equal(tbfLimit(1_250_000, 32768, 50_000), 62_500 + 32_768);
  assert.equal(tbfLatency(1_250_000, 32768, 95_268), 50_000);
  assert.equal(tbfLatency(1_250_000, 32768, 1000), undefined);
  fc.assert(
    fc.property(fc.integer({ min: 1_000_000, max: 2 ** 36 }), fc.integer({ min: 0, max: 4_000_000 }), fc.integer({ min: 1, max: 1 << 20 }), (rate, lat, burst) => {
      const lim = tbfLimit(rate, burst, lat);
      if (lim === 0xffffffff) return;
      assert.equal(tbfLatency(rate, burst, lim), lat);
    }),
  );
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 999_999 }), fc.integer({ min: 0, max: 4_000_000 }), fc.integer({ min: 1, max: 1 << 20 }), (rate, lat, burst) => {
      const lim = tbfLimit(rate, burst, lat);
      const back = tbfLatency(rate, burst, lim)!;
      assert.ok(back <= lat);
      assert.equal(tbfLimit(rate, burst, back), lim);
    }),
  );
});

test('qdisc options: encode → decode returns the model options', () => {
  const rt = (kind: Parameters<typeof encodeQdiscOptions>[0], o: Record<string, number>) => decodeQdiscOptions(kind, encodeQdiscOptions(kind, o, P), P);
  assert.deepEqual(rt('pfifo', { limit: 1000 }), { limit: 1000 });
  assert.equal(encodeQdiscOptions('pfifo', {}, P), undefined);
  assert.deepEqual(rt('htb', { default: 0x10 }), { default: 0x10, r2q: 10 });
  assert.deepEqual(rt('htb', { default: 1, r2q: 5 }), { default: 1, r2q: 5 });
  assert.deepEqual(rt('tbf', { rate: 1_250_000, burst: 32768, latency: 50_000 }), { rate: 1_250_000, burst: 32768, latency: 50_000, limit: 95_268 });
  assert.deepEqual(rt('tbf', { rate: 1_250_000, burst: 32768, limit: 40_000 }), { rate: 1_250_000, burst: 32768, latency: 5_786, limit: 40_000 });
  const big = rt('tbf', { rate: 6_250_000_000, burst: 1 << 20, latency: 1000, peakrate: 12_500_000_000, mtu: 9000 });
  assert.equal(big.rate, 6_250_000_000);
  assert.equal(big.peakrate, 12_500_000_000);
  assert.deepEqual(rt('fq', { limit: 100, flow_limit: 10, quantum: 3028, maxrate: 125_000 }), { limit: 100, flow_limit: 10, quantum: 3028, maxrate: 125_000 });
  assert.deepEqual(rt('fq_codel', { limit: 10240, flows: 1024, target: 5000, interval: 100_000, quantum: 1514, ecn: 1 }), {
    target: 5000,
    limit: 10240,
    interval: 100_000,
    ecn: 1,
    flows: 1024,
    quantum: 1514,
  });
  assert.equal(encodeQdiscOptions('clsact', {}, P), undefined);
  assert.throws(() => encodeQdiscOptions('tbf', { rate: 1000, burst: 100 }, P), /latency' or 'limit/);
  assert.throws(() => encodeQdiscOptions('tbf', { rate: 1000, burst: 100, limit: 5, mtu: 1500 }, P), /only applies together with 'peakrate'/);
  assert.throws(() => encodeQdiscOptions('tbf', { burst: 100, limit: 5 }, P), /needs option 'rate'/);
});

test('qdisc options: struct layouts', () => {
  const pf = encodeQdiscOptions('pfifo', { limit: 7 }, P)!;
  assert.equal(pf.length, 4);
  assert.equal(pf.readUInt32LE(0), 7);
  const glob = Attrs.parse(encodeQdiscOptions('htb', { default: 0x20, r2q: 3 }, P)!).get(2)!; // TCA_HTB_INIT
  assert.equal(glob.length, 20);
  assert.deepEqual([0, 4, 8, 12, 16].map((o) => glob.readUInt32LE(o)), [3, 3, 0x20, 0, 0]);
  const tbf = Attrs.parse(encodeQdiscOptions('tbf', { rate: 1_250_000, burst: 32768, latency: 50_000 }, P)!);
  const parms = tbf.get(1)!; // TCA_TBF_PARMS
  assert.equal(parms.length, 36);
  assert.equal(parms.readUInt8(1), 1); // linklayer ethernet
  assert.equal(parms.readUInt32LE(8), 1_250_000);
  assert.equal(parms.readUInt32LE(24), 95_268);
  assert.equal(parms.readUInt32LE(28), 409_600);
  assert.equal(tbf.has(4), false); // no RATE64 below 2^32
  assert.equal(tbf.has(6), false); // no TCA_TBF_BURST: the kernel would requantise
  const tbf64 = Attrs.parse(encodeQdiscOptions('tbf', { rate: 2 ** 33, burst: 1 << 20, limit: 1 << 22 }, P)!);
  assert.equal(tbf64.get(1)!.readUInt32LE(8), 0xffffffff);
  assert.equal(tbf64.u64(4), 2n ** 33n);
});

test('canonicalQdiscOptions: what the kernel will report back', () => {
  const o = { rate: 1_250_000, burst: 32768, latency: 50_000 };
  assert.deepEqual(canonicalQdiscOptions('tbf', o, P), o);
  assert.deepEqual(canonicalQdiscOptions('tbf', { rate: 1_250_000_000, burst: 32768, latency: 50_000 }, P), { rate: 1_250_000_000, burst: 32800, latency: 50_000 });
  assert.deepEqual(canonicalQdiscOptions('tbf', { rate: 125_000, burst: 2000, latency: 50_001 }, P), { rate: 125_000, burst: 2000, latency: 50_000 });
  assert.deepEqual(canonicalQdiscOptions('htb', { default: 1 }, P), { default: 1 });
});

test('htb class: tc_htb_opt layout, iproute2 buffers, 64-bit rates', () => {
  const a = Attrs.parse(encodeHtbClass(1_250_000, 12_500_000, P));
  const opt = a.get(1)!; // TCA_HTB_PARMS
  assert.equal(opt.length, 44);
  assert.equal(opt.readUInt32LE(8), 1_250_000);
  assert.equal(opt.readUInt32LE(20), 12_500_000);
  assert.equal(opt.readUInt32LE(24), tcCalcXmittime(1_250_000, 1600, P)); // buffer: rate/HZ + 1600 B
  assert.equal(opt.readUInt32LE(28), tcCalcXmittime(12_500_000, 1600, P));
  assert.equal(opt.readUInt32LE(32), 0); // quantum left to the kernel
  assert.equal(a.has(6) || a.has(7), false);
  assert.deepEqual(decodeHtbClass(encodeHtbClass(1_250_000, 12_500_000, P)), { rate: 1_250_000, ceil: 12_500_000 });
  const big = encodeHtbClass(5_000_000_000, 6_250_000_000, P);
  assert.equal(Attrs.parse(big).get(1)!.readUInt32LE(8), 0xffffffff);
  assert.deepEqual(decodeHtbClass(big), { rate: 5_000_000_000, ceil: 6_250_000_000 });
});

test('htb class: a hand-set tuning is written as given (buckets in bytes at the new rate, quantum, prio)', () => {
  const opt = Attrs.parse(encodeHtbClass(625_000, 1_250_000, P, { burst: 20_480, quantum: 3000, prio: 3 })).get(1)!;
  assert.equal(opt.readUInt32LE(24), bytesToTicks(625_000, 20_480, P));
  assert.equal(ticksToBytes(625_000, opt.readUInt32LE(24), P), 20_480);
  assert.equal(opt.readUInt32LE(28), tcCalcXmittime(1_250_000, 1600, P)); // cburst not set: iproute2's
  assert.equal(opt.readUInt32LE(32), 3000);
  assert.equal(opt.readUInt32LE(40), 3);
});

test('htb class restored under a recreated htb: a quantum derived from the old r2q is left to the kernel again', () => {
  const raw = (quantum: number, prio = 0) => {
    const options = encodeHtbClass(1_250_000, 12_500_000, P, { burst: 20_480, quantum, prio });
    return { ifindex: 1, handle: 0x10010, parent: 0x10000, info: 0, kind: 'htb', options, chain: 0 };
  };
  const parms = (b: Buffer | undefined) => Attrs.parse(b!).get(1)!;
  assert.equal(kernelQuantum(1_250_000, 10), 125_000);
  assert.equal(kernelQuantum(2_500_000, 10), 200_000, 'clamped like the kernel');
  assert.equal(kernelQuantum(5_000, 10), 1000);
  // 125000 = rate / r2q 10: the kernel's, so sent as 0 for the new htb (r2q 20 → 62500)
  const derived = raw(125_000, 3);
  const out = parms(restoredClassOptions(derived, 10));
  assert.equal(out.readUInt32LE(32), 0);
  assert.equal(out.readUInt32LE(40), 3, 'prio kept');
  assert.equal(out.readUInt32LE(24), parms(derived.options).readUInt32LE(24), 'burst kept');
  assert.equal(parms(derived.options).readUInt32LE(32), 125_000, 'the dumped buffer is not modified');
  // a hand-set quantum stays
  assert.equal(parms(restoredClassOptions(raw(3000), 10)).readUInt32LE(32), 3000);
  // the old r2q unknown: as dumped
  assert.equal(parms(restoredClassOptions(derived, undefined)).readUInt32LE(32), 125_000);
});

test('htb qdisc: the direct_qlen of the live one is kept for the htb that recreates it', () => {
  const live = Buffer.concat([encodeQdiscOptions('htb', { default: 0x10, r2q: 10 })!, htbUnmodelledAttrs(undefined)]);
  assert.equal(htbUnmodelledAttrs(live).length, 0, 'none dumped: nothing added');
  const dumped = Buffer.concat([live, Buffer.from([8, 0, 5, 0, 77, 0, 0, 0])]); // TCA_HTB_DIRECT_QLEN 77
  assert.equal(Attrs.parse(htbUnmodelledAttrs(dumped)).u32(5), 77);
});

test('htb qdisc restored from its dump: the version goes back as the major a create takes (dumped 3.17: EINVAL)', () => {
  const glob = Buffer.alloc(20);
  glob.writeUInt32LE(0x30011, 0); // HTB_VER as dumped
  glob.writeUInt32LE(5, 4);
  glob.writeUInt32LE(1, 8);
  const dumped = Buffer.concat([Buffer.from([24, 0, 2, 0]), glob, Buffer.from([8, 0, 5, 0, 77, 0, 0, 0])]);
  const a = Attrs.parse(restorableQdiscOptions('htb', dumped)!);
  assert.equal(a.get(2)!.readUInt32LE(0), 3);
  assert.deepEqual(decodeQdiscOptions('htb', restorableQdiscOptions('htb', dumped)), { default: 1, r2q: 5 });
  assert.equal(a.u32(5), 77, 'direct_qlen kept');
  assert.equal(Attrs.parse(dumped).get(2)!.readUInt32LE(0), 0x30011, 'the dumped buffer is not modified');
  const tbf = Buffer.from([8, 0, 1, 0, 1, 2, 3, 4]);
  assert.equal(restorableQdiscOptions('tbf', tbf), tbf, 'other kinds as dumped');
});

test('bpf filter: tcm_info and options', () => {
  assert.equal(filterInfo(1), 0x00010300); // prio 1, htons(ETH_P_ALL)
  assert.equal(filterInfo(0xffff), 0xffff0300);
  const o = Attrs.parse(encodeBpfOptions(42, 'srh-push'));
  assert.equal(o.u32(6), 42); // TCA_BPF_FD
  assert.equal(o.str(7), 'srh-push'); // TCA_BPF_NAME
  assert.equal(o.u32(8), 1); // TCA_BPF_FLAGS = direct action
  const d = decodeBpfOptions(encodeBpfOptions(42, 'srh-push'));
  assert.deepEqual(d, { name: 'srh-push', tag: undefined, id: undefined, directAction: true });
});
