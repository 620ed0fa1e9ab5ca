// Netlink attribute (TLV) encoding and decoding. Every attribute is padded to 4 bytes
// (the npm `netlink` package's formatAttribute did not pad; that dropped following flags).

import { ipFromBytes } from '../../model/net';

export const NLA_F_NESTED = 0x8000;
const NLA_TYPE_MASK = 0x3fff;

function align4(n: number): number {
  return (n + 3) & ~3;
}

/**
 * Builds a sequence of attributes in one growing buffer; nest() writes nested attributes in
 * place and patches the length afterwards (no intermediate buffers: thousands of creates).
 */
export class AttrWriter {
  private buf = Buffer.allocUnsafe(128);
  private off = 0;

  private reserve(n: number): void {
    if (this.off + n <= this.buf.length) return;
    const next = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.off + n));
    this.buf.copy(next, 0, 0, this.off);
    this.buf = next;
  }

  /** Header for a payload of `len` bytes; returns the payload offset. Padding is zeroed. */
  private header(type: number, len: number): number {
    const total = align4(4 + len);
    this.reserve(total);
    const at = this.off;
    this.buf.writeUInt16LE(4 + len, at);
    this.buf.writeUInt16LE(type, at + 2);
    this.buf.fill(0, at + 4 + len, at + total);
    this.off += total;
    return at + 4;
  }

  raw(type: number, payload: Buffer): this {
    const at = this.header(type, payload.length); // first: it may grow (replace) the buffer
    payload.copy(this.buf, at);
    return this;
  }
  u8(type: number, v: number): this {
    const at = this.header(type, 1);
    this.buf.writeUInt8(v & 0xff, at);
    return this;
  }
  u16(type: number, v: number): this {
    const at = this.header(type, 2);
    this.buf.writeUInt16LE(v & 0xffff, at);
    return this;
  }
  u16be(type: number, v: number): this {
    const at = this.header(type, 2);
    this.buf.writeUInt16BE(v & 0xffff, at);
    return this;
  }
  u32(type: number, v: number): this {
    const at = this.header(type, 4);
    this.buf.writeUInt32LE(v >>> 0, at);
    return this;
  }
  s32(type: number, v: number): this {
    const at = this.header(type, 4);
    this.buf.writeInt32LE(v, at);
    return this;
  }
  u64(type: number, v: bigint): this {
    const at = this.header(type, 8);
    this.buf.writeBigUInt64LE(v, at);
    return this;
  }
  /** NUL-terminated string. */
  str(type: number, s: string): this {
    const n = Buffer.byteLength(s, 'utf8');
    const at = this.header(type, n + 1);
    this.buf.write(s, at, 'utf8');
    this.buf[at + n] = 0;
    return this;
  }
  flag(type: number): this {
    this.header(type, 0);
    return this;
  }
  nest(type: number, build: (w: AttrWriter) => void): this {
    this.reserve(4);
    const at = this.off;
    this.buf.writeUInt16LE(type | NLA_F_NESTED, at + 2);
    this.off += 4;
    build(this);
    this.buf.writeUInt16LE(this.off - at, at); // nested attributes are already padded
    return this;
  }
  get length(): number {
    return this.off;
  }
  toBuffer(): Buffer {
    return Buffer.from(this.buf.subarray(0, this.off));
  }
  /** The bytes written so far, not copied: valid until the next write. */
  view(): Buffer {
    return this.buf.subarray(0, this.off);
  }
}

/**
 * A view of an attribute stream: type → payload (last wins), plus all occurrences in order.
 * Nothing is indexed or copied: each lookup walks the (short) stream. A link dump carries
 * ~50 attributes per link and we read a handful; allocating an index per message (and per
 * nested attribute) was most of the read path's garbage at thousands of objects.
 */
export class Attrs {
  private constructor(
    private readonly buf: Buffer,
    private readonly start: number,
    private readonly end: number,
  ) {}

  static parse(buf: Buffer, offset = 0, end = buf.length): Attrs {
    return new Attrs(buf, offset, end);
  }

  /** Offset of the header of the last attribute of `type`, or -1. */
  private find(type: number): number {
    const b = this.buf;
    let found = -1;
    for (let off = this.start; off + 4 <= this.end; ) {
      const len = b[off]! | (b[off + 1]! << 8);
      if (len < 4 || off + len > this.end) break;
      if (((b[off + 2]! | (b[off + 3]! << 8)) & NLA_TYPE_MASK) === type) found = off;
      off += align4(len);
    }
    return found;
  }

  private payloadEnd(at: number): number {
    return at + (this.buf[at]! | (this.buf[at + 1]! << 8));
  }

  /**
   * One pass for many lookups: `into[type]` becomes the header offset of the last attribute of
   * each type below `into.length` (-1 if absent); read them with the *At accessors.
   */
  scan(into: Int32Array): this {
    into.fill(-1);
    const b = this.buf;
    for (let off = this.start; off + 4 <= this.end; ) {
      const len = b[off]! | (b[off + 1]! << 8);
      if (len < 4 || off + len > this.end) break;
      const type = (b[off + 2]! | (b[off + 3]! << 8)) & NLA_TYPE_MASK;
      if (type < into.length) into[type] = off;
      off += align4(len);
    }
    return this;
  }

  /** Offset of the header of the first attribute of `type`, or -1: stops there (no full walk). */
  firstAt(type: number): number {
    const b = this.buf;
    for (let off = this.start; off + 4 <= this.end; ) {
      const len = b[off]! | (b[off + 1]! << 8);
      if (len < 4 || off + len > this.end) break;
      if (((b[off + 2]! | (b[off + 3]! << 8)) & NLA_TYPE_MASK) === type) return off;
      off += align4(len);
    }
    return -1;
  }

  u8At(at: number): number | undefined {
    return at >= 0 && this.payloadEnd(at) - at >= 5 ? this.buf[at + 4]! : undefined;
  }
  u16At(at: number): number | undefined {
    return at >= 0 && this.payloadEnd(at) - at >= 6 ? this.buf.readUInt16LE(at + 4) : undefined;
  }
  u16beAt(at: number): number | undefined {
    return at >= 0 && this.payloadEnd(at) - at >= 6 ? this.buf.readUInt16BE(at + 4) : undefined;
  }
  u32At(at: number): number | undefined {
    return at >= 0 && this.payloadEnd(at) - at >= 8 ? this.buf.readUInt32LE(at + 4) : undefined;
  }
  i32At(at: number): number | undefined {
    return at >= 0 && this.payloadEnd(at) - at >= 8 ? this.buf.readInt32LE(at + 4) : undefined;
  }
  bufAt(at: number): Buffer | undefined {
    return at < 0 ? undefined : this.buf.subarray(at + 4, this.payloadEnd(at));
  }
  /** A six-byte hardware address as `aa:bb:cc:dd:ee:ff` (no intermediate buffer), else undefined. */
  macAt(at: number): string | undefined {
    if (at < 0 || this.payloadEnd(at) - at !== 10) return undefined;
    const b = this.buf;
    const o = at + 4;
    return `${HEX[b[o]!]}:${HEX[b[o + 1]!]}:${HEX[b[o + 2]!]}:${HEX[b[o + 3]!]}:${HEX[b[o + 4]!]}:${HEX[b[o + 5]!]}`;
  }
  strAt(at: number): string | undefined {
    if (at < 0) return undefined;
    let end = this.payloadEnd(at);
    const nul = this.buf.indexOf(0, at + 4);
    if (nul >= 0 && nul < end) end = nul;
    return this.buf.toString('utf8', at + 4, end);
  }
  nestedAt(at: number): Attrs | undefined {
    return at < 0 ? undefined : new Attrs(this.buf, at + 4, this.payloadEnd(at));
  }

  /** Every attribute in order, as [type, payload]. */
  get list(): ReadonlyArray<readonly [number, Buffer]> {
    const out: [number, Buffer][] = [];
    const b = this.buf;
    for (let off = this.start; off + 4 <= this.end; ) {
      const len = b[off]! | (b[off + 1]! << 8);
      if (len < 4 || off + len > this.end) break;
      out.push([(b[off + 2]! | (b[off + 3]! << 8)) & NLA_TYPE_MASK, b.subarray(off + 4, off + len)]);
      off += align4(len);
    }
    return out;
  }

  get(type: number): Buffer | undefined {
    const at = this.find(type);
    return at < 0 ? undefined : this.buf.subarray(at + 4, this.payloadEnd(at));
  }
  all(type: number): Buffer[] {
    return this.list.filter(([t]) => t === type).map(([, p]) => p);
  }
  has(type: number): boolean {
    return this.find(type) >= 0;
  }
  /** Offset of a scalar payload of at least `size` bytes, or -1. */
  private scalar(type: number, size: number): number {
    const at = this.find(type);
    return at >= 0 && this.payloadEnd(at) - (at + 4) >= size ? at + 4 : -1;
  }
  u8(type: number): number | undefined {
    const o = this.scalar(type, 1);
    return o < 0 ? undefined : this.buf.readUInt8(o);
  }
  u16(type: number): number | undefined {
    const o = this.scalar(type, 2);
    return o < 0 ? undefined : this.buf.readUInt16LE(o);
  }
  u16be(type: number): number | undefined {
    const o = this.scalar(type, 2);
    return o < 0 ? undefined : this.buf.readUInt16BE(o);
  }
  u32(type: number): number | undefined {
    const o = this.scalar(type, 4);
    return o < 0 ? undefined : this.buf.readUInt32LE(o);
  }
  u64(type: number): bigint | undefined {
    const o = this.scalar(type, 8);
    return o < 0 ? undefined : this.buf.readBigUInt64LE(o);
  }
  str(type: number): string | undefined {
    const at = this.find(type);
    if (at < 0) return undefined;
    const start = at + 4;
    let end = this.payloadEnd(at);
    const nul = this.buf.indexOf(0, start);
    if (nul >= 0 && nul < end) end = nul;
    return this.buf.toString('utf8', start, end);
  }
  nested(type: number): Attrs | undefined {
    const at = this.find(type);
    return at < 0 ? undefined : new Attrs(this.buf, at + 4, this.payloadEnd(at));
  }
}

export function ipToBuffer(ip: string): Buffer {
  if (ip.includes(':')) return ipv6ToBuffer(ip);
  const parts = ip.split('.').map((p) => Number(p));
  return Buffer.from(parts);
}

function ipv6ToBuffer(ip: string): Buffer {
  let s = ip;
  let v4tail: number[] = [];
  const lastColon = s.lastIndexOf(':');
  if (s.slice(lastColon + 1).includes('.')) {
    v4tail = s.slice(lastColon + 1).split('.').map(Number);
    s = s.slice(0, lastColon + 1) + '0:0';
  }
  const [head, tail] = s.includes('::') ? s.split('::') : [s, undefined];
  const h = head ? head.split(':') : [];
  const t = tail !== undefined && tail !== '' ? tail.split(':') : [];
  const fill = tail !== undefined ? 8 - h.length - t.length : 0;
  const groups = [...h, ...Array(fill).fill('0'), ...t].map((g) => parseInt(g || '0', 16));
  const buf = Buffer.alloc(16);
  groups.forEach((g, i) => buf.writeUInt16BE(g, i * 2));
  if (v4tail.length === 4) Buffer.from(v4tail).copy(buf, 12);
  return buf;
}

export function bufferToIp(b: Buffer): string {
  // The config's canonical form (glibc inet_ntop, as iproute2 prints): IPv4-mapped and
  // IPv4-compatible addresses keep a dotted tail, so they compare equal to what was declared.
  return ipFromBytes(b);
}

export function macToBuffer(mac: string): Buffer {
  return Buffer.from(mac.split(':').map((h) => parseInt(h, 16)));
}

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

export function bufferToMac(b: Buffer): string {
  let s = HEX[b[0]!]!;
  for (let i = 1; i < b.length; i++) s += `:${HEX[b[i]!]!}`;
  return s;
}
