// SRv6 lightweight-tunnel encodings: seg6 (SRH push) and seg6local (SID behaviours).
// Typed in the model; only this file knows the byte layout.
import type { RouteEncap, Seg6Encap, Seg6LiveMode, Seg6LocalAction, Seg6LocalEncap } from '../model/types';
import { AttrWriter, Attrs, bufferToIp, ipToBuffer } from './netlink/attrs';

const SEG6_IPTUNNEL_SRH = 1;
// Every mode the kernel has (uapi seg6_iptunnel.h), not only the declared ones: a reduced
// encapsulation read as `encap` would pass for a declared `encap` route, and never be repaired.
const MODES: Record<Exclude<Seg6LiveMode, `mode-${number}`>, number> = { inline: 0, encap: 1, l2encap: 2, 'encap.red': 3, 'l2encap.red': 4 };
const MODE_NAMES = Object.fromEntries(Object.entries(MODES).map(([k, v]) => [v, k])) as Record<number, Seg6LiveMode>;
const modeNumber = (m: Seg6LiveMode): number => (m.startsWith('mode-') ? Number(m.slice(5)) : MODES[m as keyof typeof MODES]);

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
  payload.writeInt32LE(modeNumber(e.mode), 0);
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

// lwtunnel encap types (uapi lwtunnel.h): only seg6 and seg6local are modelled.
const LWT_NAMES: Record<number, string> = { 1: 'mpls', 2: 'ip', 3: 'ila', 4: 'ip6', 5: 'seg6', 6: 'bpf', 7: 'seg6local', 8: 'rpl', 9: 'ioam6', 10: 'xfrm' };
/**
 * What of a route's encap Voltron does not model, as `ip route` words (`encap mpls`, `encap seg6
 * hmac`, `encap seg6local End flavors`), or undefined. Read as if absent, such a route passed for
 * the declared one without it (a plan said "no changes" over an MPLS push or an HMAC'd SRH).
 */
export function unmodelledEncap(type: number, buf: Buffer): string | undefined {
  if (type !== 5 && type !== 7) return `encap ${LWT_NAMES[type] ?? type}`;
  const a = Attrs.parse(buf);
  if (type === 5) {
    const srh = a.get(SEG6_IPTUNNEL_SRH);
    return srh && srh.length > 4 && hasSrhExtras(srh.subarray(4)) ? 'encap seg6 hmac' : undefined;
  }
  const n = a.u32(SEG6_LOCAL_ACTION) ?? 0;
  const action = ACTION_NAMES[n];
  if (!action) return `encap seg6local action ${n}`;
  const srh = a.get(SEG6_LOCAL_SRH);
  const extra = [
    srh && hasSrhExtras(srh) ? 'hmac' : '',
    a.get(SEG6_LOCAL_IIF) ? 'iif' : '',
    a.get(SEG6_LOCAL_BPF) ? 'bpf' : '',
    a.get(SEG6_LOCAL_FLAVORS) ? 'flavors' : '',
  ].filter((x) => x);
  return extra.length > 0 ? `encap seg6local ${action} ${extra.join(' ')}` : undefined;
}

/** An SRH with flags or TLVs past its segments (iproute2's `hmac KEYID` sets both): Voltron writes neither. */
function hasSrhExtras(srh: Buffer): boolean {
  if (srh.length < 8) return false;
  return srh.readUInt8(5) !== 0 || srh.readUInt8(1) !== 2 * (srh.readUInt8(4) + 1);
}

export function decodeEncap(type: number, buf: Buffer, names: ReadonlyMap<number, string>): RouteEncap | undefined {
  const a = Attrs.parse(buf);
  if (type === 5) {
    const srh = a.get(SEG6_IPTUNNEL_SRH);
    if (!srh) return undefined;
    const n = srh.readInt32LE(0);
    const mode = MODE_NAMES[n] ?? (`mode-${n}` as const);
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
