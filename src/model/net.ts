// IP / CIDR / MAC parsing and canonical forms shared by config and kernel layers.
// Canonical text matches what the kernel tools print (glibc inet_ntop): lower-case,
// RFC 5952 zero compression, IPv4-mapped addresses in dotted form.

export type IpFamily = 4 | 6;

export interface Cidr {
  readonly addr: string; // canonical address (host bits kept)
  readonly prefix: number;
  readonly family: IpFamily;
}

/**
 * Decimal digits s[from..to) with no leading zero and at most 3 digits, or -1. Hand-parsed:
 * a regex per octet was the top self-time of a cold config load (3000 addresses).
 */
function smallDecimal(s: string, from: number, to: number): number {
  const len = to - from;
  if (len < 1 || len > 3 || (len > 1 && s.charCodeAt(from) === 48)) return -1;
  let n = 0;
  for (let i = from; i < to; i++) {
    const c = s.charCodeAt(i) - 48;
    if (c < 0 || c > 9) return -1;
    n = n * 10 + c;
  }
  return n;
}

/** Strict dotted quad: four decimal octets, no leading zeros (exactly what isIP(s) === 4 accepts). */
function parseV4(s: string): number[] | undefined {
  const out: number[] = [];
  let from = 0;
  for (let k = 0; k < 4; k++) {
    let to = s.indexOf('.', from);
    if (k === 3) {
      if (to >= 0) return undefined;
      to = s.length;
    } else if (to < 0) return undefined;
    const n = smallDecimal(s, from, to);
    if (n < 0 || n > 255) return undefined;
    out.push(n);
    from = to + 1;
  }
  return out;
}

/** Eight 16-bit words, or undefined. Accepts `::` compression and a trailing dotted quad. */
function parseV6(s: string): number[] | undefined {
  if (s.includes('%')) return undefined; // zone ids are not addresses we manage
  let tail: number[] = [];
  let body = s;
  const lastColon = s.lastIndexOf(':');
  if (lastColon >= 0 && s.slice(lastColon + 1).includes('.')) {
    const v4 = parseV4(s.slice(lastColon + 1));
    if (!v4) return undefined;
    tail = [(v4[0]! << 8) | v4[1]!, (v4[2]! << 8) | v4[3]!];
    body = s.slice(0, lastColon + 1);
    // Keep a trailing '::' ("::1.2.3.4"), drop a single separating ':'.
    if (!body.endsWith('::')) body = body.slice(0, -1);
  }
  const halves = body.split('::');
  if (halves.length > 2) return undefined;
  const words = (h: string): number[] | undefined => {
    if (h === '') return [];
    const out: number[] = [];
    for (const w of h.split(':')) {
      if (!/^[0-9a-fA-F]{1,4}$/.test(w)) return undefined;
      out.push(parseInt(w, 16));
    }
    return out;
  };
  const head = words(halves[0]!);
  if (!head) return undefined;
  if (halves.length === 1) {
    const all = [...head, ...tail];
    return all.length === 8 ? all : undefined;
  }
  const rest = words(halves[1]!);
  if (!rest) return undefined;
  const fill = 8 - head.length - rest.length - tail.length;
  if (fill < 1) return undefined;
  return [...head, ...new Array<number>(fill).fill(0), ...rest, ...tail];
}

function formatV6(w: readonly number[]): string {
  // Longest run of >= 2 zero words (first on tie) becomes '::'.
  let best = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (w[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && w[j] === 0) j++;
    if (j - i > bestLen) {
      best = i;
      bestLen = j - i;
    }
    i = j;
  }
  if (bestLen < 2) best = -1;
  // glibc prints IPv4-compatible and IPv4-mapped addresses with a dotted tail: with six leading
  // zero words, or five and ffff. Not with seven (`::9`, as `ip` prints it, not `::0.0.0.9`).
  if (best === 0 && (bestLen === 6 || (bestLen === 5 && w[5] === 0xffff))) {
    const v4 = `${w[6]! >> 8}.${w[6]! & 255}.${w[7]! >> 8}.${w[7]! & 255}`;
    return bestLen === 5 ? `::ffff:${v4}` : `::${v4}`;
  }
  const hex = (i: number): string => w[i]!.toString(16);
  if (best < 0) return [...Array(8).keys()].map(hex).join(':');
  const left = [...Array(best).keys()].map(hex).join(':');
  const right = [...Array(8 - best - bestLen).keys()].map((k) => hex(best + bestLen + k)).join(':');
  return `${left}::${right}`;
}

/** An address literal parsed once: its family and its 4 octets or 8 words. */
interface ParsedIp {
  readonly family: IpFamily;
  readonly parts: number[];
}

function parseIp(s: string): ParsedIp | undefined {
  if (typeof s !== 'string') return undefined;
  const v4 = parseV4(s);
  if (v4) return { family: 4, parts: v4 };
  // Not node:net's isIP: its first call compiles an IPv6 regex (~7 ms of every CLI run), and
  // parseV6 accepts exactly what it accepts (property-tested against it, test/unit/config-net).
  const v6 = s.includes(':') ? parseV6(s) : undefined;
  return v6 ? { family: 6, parts: v6 } : undefined;
}

function formatIp(ip: ParsedIp): string {
  const p = ip.parts;
  return ip.family === 4 ? `${p[0]}.${p[1]}.${p[2]}.${p[3]}` : formatV6(p);
}

/** Family of an IP address literal (4 or 6), or undefined when it is not one. */
export function ipFamily(s: string): IpFamily | undefined {
  return parseIp(s)?.family;
}

/** Canonical text of an IP address (`2001:DB8:0::1` → `2001:db8::1`), or undefined if invalid. */
export function canonicalIp(s: string): string | undefined {
  const ip = parseIp(s);
  return ip && formatIp(ip);
}

/** Address as bytes (4 or 16), or undefined if invalid. */
export function ipToBytes(s: string): Uint8Array | undefined {
  const ip = parseIp(s);
  if (!ip) return undefined;
  if (ip.family === 4) return Uint8Array.from(ip.parts);
  const out = new Uint8Array(16);
  ip.parts.forEach((w, i) => {
    out[2 * i] = w >> 8;
    out[2 * i + 1] = w & 255;
  });
  return out;
}

/** Canonical text of a 4- or 16-byte address (e.g. from netlink). */
export function ipFromBytes(b: Uint8Array): string {
  if (b.length === 4) return `${b[0]}.${b[1]}.${b[2]}.${b[3]}`;
  if (b.length !== 16) throw new Error(`bad address length ${b.length}`);
  const w: number[] = [];
  for (let i = 0; i < 8; i++) w.push((b[2 * i]! << 8) | b[2 * i + 1]!);
  return formatV6(w);
}

/** `addr/prefix` parsed once, or undefined if invalid. */
function parseCidrParts(s: string): { ip: ParsedIp; prefix: number } | undefined {
  if (typeof s !== 'string') return undefined;
  const slash = s.indexOf('/');
  if (slash < 0 || s.indexOf('/', slash + 1) >= 0) return undefined;
  const ip = parseIp(s.slice(0, slash));
  const prefix = ip && smallDecimal(s, slash + 1, s.length);
  if (prefix === undefined || prefix < 0 || prefix > (ip!.family === 4 ? 32 : 128)) return undefined;
  return { ip: ip!, prefix };
}

/** `addr/prefix` → canonical parts, or undefined if invalid. A bare address is not a CIDR. */
export function parseCidr(s: string): Cidr | undefined {
  const c = parseCidrParts(s);
  return c && { addr: formatIp(c.ip), prefix: c.prefix, family: c.ip.family };
}

/** Canonical CIDR with host bits kept (`10.0.0.1/24`), or undefined. */
export function canonicalCidr(s: string): string | undefined {
  const c = parseCidrParts(s);
  return c && `${formatIp(c.ip)}/${c.prefix}`;
}

/** Canonical network CIDR (`10.0.0.1/24` → `10.0.0.0/24`), or undefined. */
export function networkOf(s: string): string | undefined {
  const c = parseCidrParts(s);
  if (!c) return undefined;
  const width = c.ip.family === 4 ? 8 : 16; // bits per part: octets or words
  const parts = c.ip.parts.map((v, i) => {
    const keep = Math.min(Math.max(c.prefix - i * width, 0), width);
    return v & (((1 << keep) - 1) << (width - keep));
  });
  return `${formatIp({ family: c.ip.family, parts })}/${c.prefix}`;
}

/** Whether address `ip` lies in the prefix of `cidr` (same family). */
export function inCidr(ip: string, cidr: string): boolean {
  const c = parseCidr(cidr);
  return c !== undefined && ipFamily(ip) === c.family && networkOf(`${ip}/${c.prefix}`) === networkOf(cidr);
}

/** True when the CIDR has bits set beyond its prefix. */
export function hasHostBits(s: string): boolean {
  const c = parseCidr(s);
  return !!c && networkOf(s) !== `${c.addr}/${c.prefix}`;
}

/** Six hex octets separated by ':' or '-' (not mixed). */
export function isValidMac(s: string): boolean {
  return typeof s === 'string' && /^[0-9a-fA-F]{2}([:-])[0-9a-fA-F]{2}(\1[0-9a-fA-F]{2}){4}$/.test(s);
}

/** Lower-case colon form (`02-00-00-AA-BB-CC` → `02:00:00:aa:bb:cc`), or undefined. */
export function canonicalMac(s: string): string | undefined {
  return isValidMac(s) ? s.toLowerCase().replace(/-/g, ':') : undefined;
}

/** Multicast (group) bit set in the first octet: not usable as an interface address. */
export function isMulticastMac(s: string): boolean {
  const m = canonicalMac(s);
  return !!m && (parseInt(m.slice(0, 2), 16) & 1) === 1;
}

/** 0.0.0.0 or ::, which the kernel treats as "no address" (so it never reads back). */
export function isUnspecifiedIp(s: string): boolean {
  const c = canonicalIp(s);
  return c === '0.0.0.0' || c === '::';
}

/** IPv4 224.0.0.0/4 or IPv6 ff00::/8. */
export function isMulticastIp(s: string): boolean {
  const b = ipToBytes(s);
  if (!b) return false;
  return b.length === 4 ? (b[0]! & 0xf0) === 0xe0 : b[0] === 0xff;
}

/** An IPv6 link-local address (fe80::/10): valid only together with its device. */
export function isLinkLocal6(ip: string): boolean {
  return /^fe[89ab][0-9a-f]:/i.test(ip);
}

// Why a literal is not an address, naming the offending part ("octet 4 ('300') is over 255"
// rather than the whole value). Error path only: the parsers above stay the fast check.

/** Why `s` is not an IPv4 dotted quad, or undefined when it is one. */
function whyNotV4(s: string): string | undefined {
  const parts = s.split('.');
  if (parts.length !== 4) return `an IPv4 address has 4 octets, this has ${parts.length}`;
  for (const [i, p] of parts.entries()) {
    const which = `octet ${i + 1}`;
    if (p === '') return `${which} is empty`;
    if (!/^[0-9]+$/.test(p)) return `${which} ('${p}') is not a decimal number`;
    if (Number(p) > 255) return `${which} ('${p}') is over 255`;
    if (p.length > 1 && p[0] === '0') return `${which} ('${p}') has a leading zero (octal to some tools): write ${Number(p)}`;
  }
  return undefined;
}

/** Why `s` (holding a ':') is not an IPv6 address, or undefined when it is one. */
function whyNotV6(s: string): string | undefined {
  if (s.includes(':::')) return `':::' is not valid (at most '::')`;
  const halves = s.split('::');
  if (halves.length > 2) return `'::' may appear only once`;
  let groups = 0;
  for (const [h, half] of halves.entries()) {
    if (half === '') continue;
    const ws = half.split(':');
    for (const [i, w] of ws.entries()) {
      const last = h === halves.length - 1 && i === ws.length - 1;
      if (last && w.includes('.')) {
        const why = whyNotV4(w);
        if (why) return `its IPv4 tail '${w}': ${why}`;
        groups += 2;
        continue;
      }
      if (w === '') return `a single ':' at the ${i === 0 && h === 0 ? 'start' : 'end'} (write '::' or a group)`;
      if (!/^[0-9a-fA-F]+$/.test(w)) return `group '${w}' is not hexadecimal (0-9, a-f)`;
      if (w.length > 4) return `group '${w}' has more than 4 hex digits`;
      groups++;
    }
  }
  if (halves.length === 1 && groups !== 8) return `an IPv6 address has 8 groups, this has ${groups} (or use '::' for zeros)`;
  if (halves.length === 2 && groups > 7) return `'::' stands for at least one zero group, but there are already ${groups}`;
  return undefined;
}

/**
 * Why `s` is not an IP address literal (of `family`, if given), naming the offending part;
 * undefined when it is one.
 */
export function whyNotIp(s: unknown, family?: IpFamily): string | undefined {
  if (typeof s !== 'string') return 'not text';
  const fam = ipFamily(s);
  if (fam) return family && fam !== family ? `it is an IPv${fam} address` : undefined;
  if (s === '') return 'it is empty';
  if (/\s/.test(s)) return 'it contains white space';
  if (s.includes('/')) return `a prefix length ('${s.slice(s.indexOf('/'))}') does not belong here`;
  if (s.includes('%')) return `a zone ('${s.slice(s.indexOf('%'))}') does not belong here`;
  const why = s.includes(':') ? whyNotV6(s) : /^[0-9.]+$/.test(s) ? whyNotV4(s) : undefined;
  return why ?? (s.includes(':') ? 'not an IPv6 address' : 'neither an IPv4 nor an IPv6 address (names are not resolved)');
}

/** Why `s` is not `address/prefix`, naming the offending part; undefined when it is one. */
export function whyNotCidr(s: unknown): string | undefined {
  if (typeof s !== 'string') return 'not text';
  if (parseCidr(s)) return undefined;
  const slash = s.indexOf('/');
  if (slash < 0) return whyNotIp(s) ?? 'no prefix length (add one, e.g. /24)';
  if (s.indexOf('/', slash + 1) >= 0) return `more than one '/'`;
  const addr = s.slice(0, slash);
  const p = s.slice(slash + 1);
  const ipWhy = whyNotIp(addr);
  if (ipWhy) return ipWhy;
  const max = ipFamily(addr) === 4 ? 32 : 128;
  if (p === '') return `no prefix length after '/'`;
  if (!/^[0-9]+$/.test(p)) return `prefix length '${p}' is not a decimal number`;
  if (Number(p) > max) return `prefix length ${Number(p)} is over ${max} (IPv${max === 32 ? 4 : 6})`;
  if (p.length > 1 && p[0] === '0') return `prefix length '${p}' has a leading zero: write ${Number(p)}`;
  return 'not a CIDR';
}

/** Why `s` is not a MAC address, naming the offending octet; undefined when it is one. */
export function whyNotMac(s: unknown): string | undefined {
  if (typeof s !== 'string') return 'not text';
  if (isValidMac(s)) return undefined;
  if (s.includes(':') && s.includes('-')) return `':' and '-' are mixed`;
  const parts = s.split(/[:-]/);
  if (parts.length !== 6) return `a MAC address has 6 octets, this has ${parts.length}`;
  for (const [i, p] of parts.entries()) if (!/^[0-9a-fA-F]{2}$/.test(p)) return `octet ${i + 1} ('${p}') is not two hex digits`;
  return 'not a MAC address';
}
