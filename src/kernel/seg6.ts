// SRv6 lightweight-tunnel encodings: seg6 (SRH push) and seg6local (SID behaviours).
// Typed in the model; only this file knows the byte layout.
import type { RouteEncap, Seg6Encap, Seg6LocalAction, Seg6LocalEncap, Seg6Mode } from '../model/types';
import { AttrWriter, Attrs, bufferToIp, ipToBuffer } from './netlink/attrs';

const SEG6_IPTUNNEL_SRH = 1;
const MODES: Record<Seg6Mode, number> = { inline: 0, encap: 1, l2encap: 2 };
const MODE_NAMES: Record<number, Seg6Mode> = { 0: 'inline', 1: 'encap', 2: 'l2encap' };

const SEG6_LOCAL_ACTION = 1;
const SEG6_LOCAL_SRH = 2;
const SEG6_LOCAL_TABLE = 3;
const SEG6_LOCAL_NH4 = 4;
const SEG6_LOCAL_NH6 = 5;
const SEG6_LOCAL_IIF = 6;
const SEG6_LOCAL_OIF = 7;
const SEG6_LOCAL_BPF = 8;
const SEG6_LOCAL_VRFTABLE = 9;
const SEG6_LOCAL_FLAVORS = 11;

export const SEG6LOCAL_ACTIONS: Record<Seg6LocalAction, number> = {
  End: 1,
  'End.X': 2,
  'End.T': 3,
  'End.DX2': 4,
  'End.DX6': 5,
  'End.DX4': 6,
  'End.DT6': 7,
  'End.DT4': 8,
  'End.B6': 9,
  'End.B6.Encaps': 10,
  'End.DT46': 16,
};
const ACTION_NAMES = Object.fromEntries(Object.entries(SEG6LOCAL_ACTIONS).map(([k, v]) => [v, k])) as Record<number, Seg6LocalAction>;

/**
 * struct ipv6_sr_hdr + segment list. The kernel stores segments in reverse travel order:
 * segments[0] of the header is the final destination; segments_left = last_entry = n-1.
 */
export function encodeSrh(segments: readonly string[]): Buffer {
  const n = segments.length;
  const b = Buffer.alloc(8 + 16 * n);
  b.writeUInt8(0, 0); // nexthdr: filled by the kernel
  b.writeUInt8(2 * n, 1); // hdrlen in 8-octet units, excluding the first 8 bytes
  b.writeUInt8(4, 2); // type 4: SRH
  b.writeUInt8(n - 1, 3); // segments_left
  b.writeUInt8(n - 1, 4); // first_segment (last_entry)
  [...segments].reverse().forEach((s, i) => ipToBuffer(s).copy(b, 8 + 16 * i));
  return b;
}

export function decodeSrh(b: Buffer): string[] {
  const n = b.readUInt8(4) + 1;
  const out: string[] = [];
  for (let i = 0; i < n && 8 + 16 * (i + 1) <= b.length; i++) out.push(bufferToIp(b.subarray(8 + 16 * i, 8 + 16 * (i + 1))));
  return out.reverse();
}

/**
 * An SRH the kernel inserts into the packet (seg6 `inline` mode, seg6local End.B6) gets the
 * packet's destination written over its segments[0] (seg6_do_srh_inline), so that slot is
 * reserved: iproute2 adds an all-zero one there, after the declared segments in travel order.
 * Without it the last declared segment would be overwritten and never visited.
 */
const RESERVED = '::';
const withReserved = (segments: readonly string[]): string[] => [...segments, RESERVED];
/** The declared segments of an inserted SRH as read: without the reserved slot (whatever it holds). */
const withoutReserved = (segments: readonly string[]): string[] => segments.slice(0, -1);

export function encodeSeg6(e: Seg6Encap): Buffer {
  const segments = e.mode === 'inline' ? withReserved(e.segments) : e.segments;
  const payload = Buffer.concat([Buffer.alloc(4), encodeSrh(segments)]);
  payload.writeInt32LE(MODES[e.mode], 0);
  return new AttrWriter().raw(SEG6_IPTUNNEL_SRH, payload).toBuffer();
}

export function encodeSeg6Local(e: Seg6LocalEncap, ifindex: (name: string) => number): Buffer {
  const w = new AttrWriter().u32(SEG6_LOCAL_ACTION, SEG6LOCAL_ACTIONS[e.action]);
  if (e.table !== undefined) w.u32(SEG6_LOCAL_TABLE, e.table);
  if (e.vrfTable !== undefined) w.u32(SEG6_LOCAL_VRFTABLE, e.vrfTable);
  if (e.nh4 !== undefined) w.raw(SEG6_LOCAL_NH4, ipToBuffer(e.nh4));
  if (e.nh6 !== undefined) w.raw(SEG6_LOCAL_NH6, ipToBuffer(e.nh6));
  if (e.oif !== undefined) w.u32(SEG6_LOCAL_OIF, ifindex(e.oif));
  if (e.segments !== undefined) w.raw(SEG6_LOCAL_SRH, encodeSrh(e.action === 'End.B6' ? withReserved(e.segments) : e.segments));
  return w.toBuffer();
}

export function decodeEncap(type: number, buf: Buffer, names: ReadonlyMap<number, string>): RouteEncap | undefined {
  const a = Attrs.parse(buf);
  if (type === 5) {
    const srh = a.get(SEG6_IPTUNNEL_SRH);
    if (!srh) return undefined;
    const mode = MODE_NAMES[srh.readInt32LE(0)] ?? 'encap';
    const segments = decodeSrh(srh.subarray(4));
    return { type: 'seg6', mode, segments: mode === 'inline' ? withoutReserved(segments) : segments };
  }
  if (type === 7) {
    const action = ACTION_NAMES[a.u32(SEG6_LOCAL_ACTION) ?? 0];
    if (!action) return undefined;
    const e: { -readonly [K in keyof Seg6LocalEncap]: Seg6LocalEncap[K] } = { type: 'seg6local', action };
    const table = a.u32(SEG6_LOCAL_TABLE);
    if (table !== undefined) e.table = table;
    const vrf = a.u32(SEG6_LOCAL_VRFTABLE);
    if (vrf !== undefined) e.vrfTable = vrf;
    const nh4 = a.get(SEG6_LOCAL_NH4);
    if (nh4) e.nh4 = bufferToIp(nh4);
    const nh6 = a.get(SEG6_LOCAL_NH6);
    if (nh6) e.nh6 = bufferToIp(nh6);
    const oif = a.u32(SEG6_LOCAL_OIF);
    if (oif !== undefined) e.oif = names.get(oif) ?? `if${oif}`;
    const srh = a.get(SEG6_LOCAL_SRH);
    if (srh) e.segments = action === 'End.B6' ? withoutReserved(decodeSrh(srh)) : decodeSrh(srh);
    return e;
  }
  return undefined;
}

/** Lightweight tunnel types other than seg6 (5) and seg6local (7), as ip names them. */
const OTHER_ENCAPS: Record<number, string> = { 1: 'mpls', 2: 'ip', 3: 'ila', 4: 'ip6', 6: 'bpf', 8: 'rpl', 9: 'ioam6', 10: 'xfrm' };
const OTHER_MODES: Record<number, string> = { 3: 'encap.red', 4: 'l2encap.red' };
const OTHER_ACTIONS: Record<number, string> = { 11: 'End.BM', 12: 'End.S', 13: 'End.AS', 14: 'End.AM', 15: 'End.BPF' };
const SR6_FLAG1_HMAC = 0x08;

/**
 * What a route's encap holds that Voltron never writes, as ip shows it: another tunnel type, a
 * seg6 mode or seg6local action the model lacks, an SRH with flags or TLVs (`hmac`), seg6local
 * `flavors`, a BPF endpoint, an `iif`. Undefined when the model holds all of it (per-SID
 * `count` only counts: left out). Read as the route without it, such a route passed for a
 * declared one that sends packets otherwise.
 */
export function unmodelledEncap(type: number, buf: Buffer): string | undefined {
  if (type !== 5 && type !== 7) return `encap ${OTHER_ENCAPS[type] ?? type}`;
  const a = Attrs.parse(buf);
  if (type === 5) {
    const srh = a.get(SEG6_IPTUNNEL_SRH);
    if (!srh || srh.length < 12) return 'encap seg6';
    const mode = srh.readInt32LE(0);
    if (MODE_NAMES[mode] === undefined) return `encap seg6 mode ${OTHER_MODES[mode] ?? mode}`;
    const extra = srhExtras(srh.subarray(4));
    return extra ? `encap seg6 ${extra}` : undefined;
  }
  const action = a.u32(SEG6_LOCAL_ACTION) ?? 0;
  if (ACTION_NAMES[action] === undefined) return `encap seg6local action ${OTHER_ACTIONS[action] ?? action}`;
  const srh = a.get(SEG6_LOCAL_SRH);
  const form = [srh ? srhExtras(srh) : '', a.get(SEG6_LOCAL_IIF) ? 'iif' : '', a.get(SEG6_LOCAL_BPF) ? 'endpoint bpf' : '', a.get(SEG6_LOCAL_FLAVORS) ? 'flavors' : ''].filter((x) => x);
  return form.length > 0 ? `encap seg6local ${ACTION_NAMES[action]} ${form.join(' ')}` : undefined;
}

/** An SRH's flags and TLVs (after the segments), which encodeSrh never writes: '' when none. */
function srhExtras(b: Buffer): string {
  if (b.length < 8) return '';
  const flags = b.readUInt8(5);
  const tlvs = (b.readUInt8(1) + 1) * 8 > 8 + 16 * (b.readUInt8(4) + 1);
  if (flags & SR6_FLAG1_HMAC) return 'hmac';
  return flags !== 0 || tlvs ? 'srh tlvs' : '';
}
