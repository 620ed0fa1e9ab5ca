// Netlink attribute (TLV) encoding and decoding. Every attribute is padded to 4 bytes
// (the npm `netlink` package's formatAttribute did not pad; that dropped following flags).

export const NLA_F_NESTED = 0x8000;
const NLA_TYPE_MASK = 0x3fff;

function align4(n: number): number {
  return (n + 3) & ~3;
}

/** Builds a sequence of attributes; nest() for nested attributes. */
export class AttrWriter {
  private parts: Buffer[] = [];
  private size = 0;

  private push(type: number, payload: Buffer): this {
    const len = 4 + payload.length;
    const buf = Buffer.alloc(align4(len));
    buf.writeUInt16LE(len, 0);
    buf.writeUInt16LE(type, 2);
    payload.copy(buf, 4);
    this.parts.push(buf);
    this.size += buf.length;
    return this;
  }

  raw(type: number, payload: Buffer): this {
    return this.push(type, payload);
  }
  u8(type: number, v: number): this {
    return this.push(type, Buffer.from([v & 0xff]));
  }
  u16(type: number, v: number): this {
    const b = Buffer.alloc(2);
    b.writeUInt16LE(v);
    return this.push(type, b);
  }
  u16be(type: number, v: number): this {
    const b = Buffer.alloc(2);
    b.writeUInt16BE(v);
    return this.push(type, b);
  }
  u32(type: number, v: number): this {
    const b = Buffer.alloc(4);
    b.writeUInt32LE(v >>> 0);
    return this.push(type, b);
  }
  s32(type: number, v: number): this {
    const b = Buffer.alloc(4);
    b.writeInt32LE(v);
    return this.push(type, b);
  }
  u64(type: number, v: bigint): this {
    const b = Buffer.alloc(8);
    b.writeBigUInt64LE(v);
    return this.push(type, b);
  }
  /** NUL-terminated string. */
  str(type: number, s: string): this {
    return this.push(type, Buffer.concat([Buffer.from(s, 'utf8'), Buffer.from([0])]));
  }
  flag(type: number): this {
    return this.push(type, Buffer.alloc(0));
  }
  nest(type: number, build: (w: AttrWriter) => void): this {
    const inner = new AttrWriter();
    build(inner);
    return this.push(type | NLA_F_NESTED, inner.toBuffer());
  }
  get length(): number {
    return this.size;
  }
  toBuffer(): Buffer {
    return Buffer.concat(this.parts, this.size);
  }
}

/** Parsed attributes: type → payload (last wins), plus all occurrences in order. */
export class Attrs {
  constructor(readonly list: ReadonlyArray<readonly [number, Buffer]>) {}

  static parse(buf: Buffer, offset = 0, end = buf.length): Attrs {
    const list: [number, Buffer][] = [];
    let off = offset;
    while (off + 4 <= end) {
      const len = buf.readUInt16LE(off);
      const type = buf.readUInt16LE(off + 2) & NLA_TYPE_MASK;
      if (len < 4 || off + len > end) break;
      list.push([type, buf.subarray(off + 4, off + len)]);
      off += align4(len);
    }
    return new Attrs(list);
  }

  get(type: number): Buffer | undefined {
    for (let i = this.list.length - 1; i >= 0; i--) if (this.list[i]![0] === type) return this.list[i]![1];
    return undefined;
  }
  all(type: number): Buffer[] {
    return this.list.filter(([t]) => t === type).map(([, b]) => b);
  }
  has(type: number): boolean {
    return this.get(type) !== undefined;
  }
  u8(type: number): number | undefined {
    const b = this.get(type);
    return b && b.length >= 1 ? b.readUInt8(0) : undefined;
  }
  u16(type: number): number | undefined {
    const b = this.get(type);
    return b && b.length >= 2 ? b.readUInt16LE(0) : undefined;
  }
  u16be(type: number): number | undefined {
    const b = this.get(type);
    return b && b.length >= 2 ? b.readUInt16BE(0) : undefined;
  }
  u32(type: number): number | undefined {
    const b = this.get(type);
    return b && b.length >= 4 ? b.readUInt32LE(0) : undefined;
  }
  u64(type: number): bigint | undefined {
    const b = this.get(type);
    return b && b.length >= 8 ? b.readBigUInt64LE(0) : undefined;
  }
  str(type: number): string | undefined {
    const b = this.get(type);
    if (!b) return undefined;
    const nul = b.indexOf(0);
    return b.subarray(0, nul < 0 ? b.length : nul).toString('utf8');
  }
  nested(type: number): Attrs | undefined {
    const b = this.get(type);
    return b ? Attrs.parse(b) : undefined;
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
  if (b.length === 4) return `${b[0]}.${b[1]}.${b[2]}.${b[3]}`;
  const groups: number[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(b.readUInt16BE(i));
  // RFC 5952: compress the longest run (≥2) of zero groups, leftmost on ties.
  let bestStart = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen && j - i >= 2) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestStart < 0) return hex.join(':');
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLen).join(':')}`;
}

export function macToBuffer(mac: string): Buffer {
  return Buffer.from(mac.split(':').map((h) => parseInt(h, 16)));
}

export function bufferToMac(b: Buffer): string {
  return [...b].map((x) => x.toString(16).padStart(2, '0')).join(':');
}
