// Qdisc option encoding/decoding: model options (numbers, in the units the config layer
// produces: bytes, bytes/s, µs, counts) ↔ TCA_OPTIONS payloads.
import type { QdiscKind } from '../../model/types';
import { AttrWriter, Attrs } from '../netlink/attrs';
import * as C from './constants';
import { bytesIn, bytesToTicks, psched, rate32, ticksToBytes, timeFor, type Psched } from './rates';

export type QdiscOptions = Readonly<Record<string, number | string>>;

function num(o: QdiscOptions, k: string): number | undefined {
  const v = o[k];
  if (v === undefined) return undefined;
  const n = typeof v === 'number' ? v : Number(v);
  if (!Number.isFinite(n) || n < 0) throw new Error(`qdisc option ${k}: expected a non-negative number, got '${v}'`);
  return n;
}

function need(o: QdiscOptions, k: string, kind: string): number {
  const n = num(o, k);
  if (n === undefined) throw new Error(`a ${kind} qdisc needs option '${k}'`);
  return n;
}

/** struct tc_ratespec (12 bytes); linklayer ethernet like iproute2, no rate table. */
export function ratespec(rate: number): Buffer {
  const b = Buffer.alloc(12);
  b.writeUInt8(0, 0); // cell_log: only meaningful with a rate table
  b.writeUInt8(C.TC_LINKLAYER_ETHERNET, 1);
  b.writeInt16LE(-1, 4); // cell_align, as iproute2
  b.writeUInt32LE(rate >>> 0, 8);
  return b;
}

export function ratespecRate(b: Buffer, off: number): number {
  return b.readUInt32LE(off + 8);
}

/** The TBF limit iproute2 derives from a latency (bytes queued during `latency` plus the bucket). */
export function tbfLimit(rate: number, burst: number, latency: number, peak?: { rate: number; mtu: number }): number {
  let lim = bytesIn(rate, latency) + burst;
  if (peak) lim = Math.min(lim, bytesIn(peak.rate, latency) + peak.mtu);
  return Math.min(lim, 0xffffffff);
}

/**
 * Inverse of tbfLimit: the smallest latency giving `limit` (iproute2 takes the larger of the
 * rate and peak-rate terms); undefined when no non-negative latency does.
 */
export function tbfLatency(rate: number, burst: number, limit: number, peak?: { rate: number; mtu: number }): number | undefined {
  const term = (r: number, bucket: number) => (limit >= bucket ? timeFor(r, limit - bucket) : -1);
  const lat = Math.max(term(rate, burst), peak ? term(peak.rate, peak.mtu) : -1);
  return lat >= 0 ? lat : undefined;
}

function encodeTbf(o: QdiscOptions, p: Psched): Buffer {
  const rate = need(o, 'rate', 'tbf');
  const burstIn = need(o, 'burst', 'tbf');
  const prate = num(o, 'peakrate');
  const mtuIn = num(o, 'mtu');
  if (prate !== undefined && mtuIn === undefined) throw new Error(`a tbf qdisc with 'peakrate' needs 'mtu'`);
  // The kernel only keeps mtu with a peak rate; accepting it alone would never read back.
  if (prate === undefined && mtuIn !== undefined) throw new Error(`tbf option 'mtu' only applies together with 'peakrate'`);
  const buffer = bytesToTicks(rate, burstIn, p);
  // The kernel reports the bucket in ticks: derive the limit from what it will report back.
  const burst = ticksToBytes(rate, buffer, p);
  const mtuTicks = prate !== undefined ? bytesToTicks(prate, mtuIn!, p) : 0;
  const peak = prate !== undefined ? { rate: prate, mtu: ticksToBytes(prate, mtuTicks, p) } : undefined;
  let limit = num(o, 'limit');
  if (limit === undefined) {
    const lat = num(o, 'latency');
    if (lat === undefined) throw new Error(`a tbf qdisc needs 'latency' or 'limit'`);
    limit = tbfLimit(rate, burst, lat, peak);
  }
  const r = rate32(rate);
  const pr = prate !== undefined ? rate32(prate) : undefined;
  const parms = Buffer.concat([ratespec(r.r32), pr ? ratespec(pr.r32) : Buffer.alloc(12), Buffer.alloc(12)]);
  parms.writeUInt32LE(limit >>> 0, 24);
  parms.writeUInt32LE(buffer >>> 0, 28);
  parms.writeUInt32LE(mtuTicks >>> 0, 32);
  // No TCA_TBF_BURST: with it the kernel recomputes the bucket through its own mult/shift
  // approximation and the ticks it reports back no longer match ours.
  const w = new AttrWriter().raw(C.TCA_TBF_PARMS, parms);
  if (r.r64 !== undefined) w.u64(C.TCA_TBF_RATE64, r.r64);
  if (pr?.r64 !== undefined) w.u64(C.TCA_TBF_PRATE64, pr.r64);
  return w.toBuffer();
}

function decodeTbf(b: Buffer, p: Psched): Record<string, number> {
  const a = Attrs.parse(b);
  const parms = a.get(C.TCA_TBF_PARMS);
  if (!parms || parms.length < 36) return {};
  const rate = Number(a.u64(C.TCA_TBF_RATE64) ?? BigInt(ratespecRate(parms, 0)));
  const prate32 = ratespecRate(parms, 12);
  const limit = parms.readUInt32LE(24);
  const buffer = parms.readUInt32LE(28);
  const mtuTicks = parms.readUInt32LE(32);
  if (rate === 0) return { limit };
  const out: Record<string, number> = { rate, burst: ticksToBytes(rate, buffer, p), limit };
  let peak: { rate: number; mtu: number } | undefined;
  if (prate32 !== 0) {
    const prate = Number(a.u64(C.TCA_TBF_PRATE64) ?? BigInt(prate32));
    peak = { rate: prate, mtu: ticksToBytes(prate, mtuTicks, p) };
    out.peakrate = prate;
    out.mtu = peak.mtu;
  }
  const lat = tbfLatency(rate, out.burst!, limit, peak);
  if (lat !== undefined) out.latency = lat;
  return out;
}

function encodeHtb(o: QdiscOptions): Buffer {
  const glob = Buffer.alloc(20);
  glob.writeUInt32LE(C.TC_HTB_PROTOVER, 0);
  glob.writeUInt32LE(num(o, 'r2q') ?? 10, 4);
  glob.writeUInt32LE(num(o, 'default') ?? 0, 8);
  return new AttrWriter().raw(C.TCA_HTB_INIT, glob).toBuffer();
}

/**
 * What a live htb qdisc has that the model does not carry and only its creation sets: its
 * direct_qlen (a hand-set one, else the device's txqueuelen when it was made), as an attribute to
 * append to the options of the htb that recreates it.
 */
export function htbUnmodelledAttrs(b: Buffer | undefined): Buffer {
  const qlen = b ? Attrs.parse(b).u32(C.TCA_HTB_DIRECT_QLEN) : undefined;
  return qlen === undefined ? Buffer.alloc(0) : new AttrWriter().u32(C.TCA_HTB_DIRECT_QLEN, qlen).toBuffer();
}

/**
 * A dumped qdisc's options as a create accepts them, to restore it as it was. The kernel dumps an
 * htb's version as 3.17 (HTB_VER) but creates one only for major 3 (EINVAL otherwise, as `tc`
 * sends it): the rest (r2q, default, direct_qlen) goes back as dumped. Other kinds as they are.
 */
export function restorableQdiscOptions(kind: string, b: Buffer | undefined): Buffer | undefined {
  if (kind !== 'htb' || !b) return b;
  const out = Buffer.from(b);
  const glob = Attrs.parse(out).get(C.TCA_HTB_INIT);
  if (glob && glob.length >= 4) glob.writeUInt32LE(C.TC_HTB_PROTOVER, 0);
  return out;
}

function decodeHtb(b: Buffer): Record<string, number> {
  const glob = Attrs.parse(b).get(C.TCA_HTB_INIT);
  if (!glob || glob.length < 12) return {};
  return { default: glob.readUInt32LE(8), r2q: glob.readUInt32LE(4) };
}

function encodeFq(o: QdiscOptions): Buffer {
  const w = new AttrWriter();
  const put = (k: string, t: number) => {
    const v = num(o, k);
    if (v !== undefined) w.u32(t, Math.min(v, C.U32_MAX));
  };
  put('limit', C.TCA_FQ_PLIMIT);
  put('flow_limit', C.TCA_FQ_FLOW_PLIMIT);
  put('quantum', C.TCA_FQ_QUANTUM);
  put('maxrate', C.TCA_FQ_FLOW_MAX_RATE);
  return w.toBuffer();
}

function decodeFq(b: Buffer): Record<string, number> {
  const a = Attrs.parse(b);
  const out: Record<string, number> = {};
  const get = (k: string, t: number) => {
    const v = a.u32(t);
    if (v !== undefined) out[k] = v;
  };
  get('limit', C.TCA_FQ_PLIMIT);
  get('flow_limit', C.TCA_FQ_FLOW_PLIMIT);
  get('quantum', C.TCA_FQ_QUANTUM);
  const max = a.u32(C.TCA_FQ_FLOW_MAX_RATE);
  if (max !== undefined && max !== C.U32_MAX) out.maxrate = max; // ~0U means unlimited
  return out;
}

const FQ_CODEL: readonly [string, number][] = [
  ['target', C.TCA_FQ_CODEL_TARGET],
  ['limit', C.TCA_FQ_CODEL_LIMIT],
  ['interval', C.TCA_FQ_CODEL_INTERVAL],
  ['ecn', C.TCA_FQ_CODEL_ECN],
  ['flows', C.TCA_FQ_CODEL_FLOWS],
  ['quantum', C.TCA_FQ_CODEL_QUANTUM],
];

function encodeFqCodel(o: QdiscOptions): Buffer {
  const w = new AttrWriter();
  for (const [k, t] of FQ_CODEL) {
    const v = num(o, k);
    if (v !== undefined) w.u32(t, k === 'ecn' ? (v ? 1 : 0) : v);
  }
  return w.toBuffer();
}

function decodeFqCodel(b: Buffer): Record<string, number> {
  const a = Attrs.parse(b);
  const out: Record<string, number> = {};
  for (const [k, t] of FQ_CODEL) {
    const v = a.u32(t);
    if (v !== undefined) out[k] = v;
  }
  return out;
}

/** TCA_OPTIONS payload for a qdisc; undefined when the kind takes none (clsact, pfifo without limit). */
export function encodeQdiscOptions(kind: QdiscKind, o: QdiscOptions, p: Psched = psched()): Buffer | undefined {
  switch (kind) {
    case 'pfifo': {
      const limit = num(o, 'limit');
      if (limit === undefined) return undefined; // kernel default: the device's tx_queue_len
      const b = Buffer.alloc(4);
      b.writeUInt32LE(limit >>> 0);
      return b;
    }
    case 'htb':
      return encodeHtb(o);
    case 'tbf':
      return encodeTbf(o, p);
    case 'fq':
      return encodeFq(o);
    case 'fq_codel':
      return encodeFqCodel(o);
    case 'clsact':
      return undefined;
    default:
      throw new Error(`cannot encode options of qdisc kind ${String(kind)}`);
  }
}

/** Model options from a dumped TCA_OPTIONS payload ({} for kinds we do not manage). */
export function decodeQdiscOptions(kind: string, b: Buffer | undefined, p: Psched = psched()): Record<string, number> {
  if (!b) return {};
  switch (kind) {
    case 'pfifo':
      return b.length >= 4 ? { limit: b.readUInt32LE(0) } : {};
    case 'htb':
      return decodeHtb(b);
    case 'tbf':
      return decodeTbf(b, p);
    case 'fq':
      return decodeFq(b);
    case 'fq_codel':
      return decodeFqCodel(b);
    default:
      return {};
  }
}

/**
 * The options the kernel will report back for `o`: tbf's burst and mtu are quantised to ticks
 * (a no-op below 125 Mbit/s) and its latency to the smallest one giving the same byte limit
 * (a no-op at 8 Mbit/s and above). Config/plan can apply this to desired options so that the
 * comparison with read-back state is exact at any rate.
 */
export function canonicalQdiscOptions(kind: QdiscKind, o: QdiscOptions, p: Psched = psched()): QdiscOptions {
  if (kind !== 'tbf' || o.rate === undefined || o.burst === undefined) return o;
  const back = decodeTbf(encodeTbf(o, p), p);
  const out: Record<string, number | string> = { ...o, burst: back.burst! };
  if (o.mtu !== undefined && back.mtu !== undefined) out.mtu = back.mtu;
  if (o.latency !== undefined && o.limit === undefined && back.latency !== undefined) out.latency = back.latency;
  return out;
}
