// SR packets in a pcap (tcpdump -w of Ethernet frames): the outer IPv6 header and its SRH,
// decoded here so the tests do not depend on tcpdump's text output.
import assert from 'node:assert/strict';
import fs from 'node:fs';

export interface Srh {
  src: string;
  dst: string;
  segmentsLeft: number;
  lastEntry: number;
  /** Travel order (the header stores them reversed). */
  segments: string[];
  innerNext: number;
}

function ip6(b: Buffer, off: number): string {
  const w: string[] = [];
  for (let i = 0; i < 16; i += 2) w.push(b.readUInt16BE(off + i).toString(16));
  // Compress the longest run of zero groups like inet_ntop does.
  let best = -1, bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (w[i] !== '0') { i++; continue; }
    let j = i;
    while (j < 8 && w[j] === '0') j++;
    if (j - i > bestLen && j - i > 1) { best = i; bestLen = j - i; }
    i = j;
  }
  if (best < 0) return w.join(':');
  return `${w.slice(0, best).join(':')}::${w.slice(best + bestLen).join(':')}`;
}

/** Parse a classic pcap of Ethernet frames; return the outer IPv6 + SRH of each SR packet. */
export function srhsFromPcap(file: string): Srh[] {
  const b = fs.readFileSync(file);
  if (b.length < 24) return [];
  const le = b.readUInt32LE(0) === 0xa1b2c3d4 || b.readUInt32LE(0) === 0xa1b23c4d;
  const u32 = (o: number) => (le ? b.readUInt32LE(o) : b.readUInt32BE(o));
  assert.equal(u32(20), 1, 'pcap link type is Ethernet');
  const out: Srh[] = [];
  for (let o = 24; o + 16 <= b.length; ) {
    const incl = u32(o + 8);
    const f = b.subarray(o + 16, o + 16 + incl);
    o += 16 + incl;
    if (f.length < 14 + 40 + 8 || f.readUInt16BE(12) !== 0x86dd) continue;
    const v6 = 14;
    if (f[v6 + 6] !== 43) continue; // next header: routing
    const r = v6 + 40;
    if (f[r + 2] !== 4) continue; // routing type 4: SRH
    const last = f[r + 4]!;
    const segs: string[] = [];
    for (let i = 0; i <= last; i++) segs.push(ip6(f, r + 8 + 16 * i));
    out.push({ src: ip6(f, v6 + 8), dst: ip6(f, v6 + 24), segmentsLeft: f[r + 3]!, lastEntry: last, segments: segs.reverse(), innerNext: f[r]! });
  }
  return out;
}
