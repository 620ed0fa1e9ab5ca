// tc-style units and identifiers: rates, sizes, times, handles, class ids, ranges.
// Each parser returns undefined on bad input; callers turn that into a positioned error.

const RATE_UNITS: Record<string, number> = {
  // bits per second (SI prefixes like tc's kbit/mbit; kibit etc. are binary)
  bit: 1 / 8,
  kbit: 1e3 / 8,
  mbit: 1e6 / 8,
  gbit: 1e9 / 8,
  tbit: 1e12 / 8,
  kibit: 1024 / 8,
  mibit: 1024 ** 2 / 8,
  gibit: 1024 ** 3 / 8,
  tibit: 1024 ** 4 / 8,
  // bytes per second
  bps: 1,
  kbps: 1e3,
  mbps: 1e6,
  gbps: 1e9,
  tbps: 1e12,
  kibps: 1024,
  mibps: 1024 ** 2,
  gibps: 1024 ** 3,
  tibps: 1024 ** 4,
};

const SIZE_UNITS: Record<string, number> = {
  '': 1,
  b: 1,
  k: 1024,
  kb: 1024,
  m: 1024 ** 2,
  mb: 1024 ** 2,
  g: 1024 ** 3,
  gb: 1024 ** 3,
  kbit: 1024 / 8,
  mbit: 1024 ** 2 / 8,
  gbit: 1024 ** 3 / 8,
};

const TIME_UNITS: Record<string, number> = {
  '': 1,
  us: 1,
  usec: 1,
  usecs: 1,
  ms: 1e3,
  msec: 1e3,
  msecs: 1e3,
  s: 1e6,
  sec: 1e6,
  secs: 1e6,
};

function withUnit(s: string, units: Record<string, number>): number | undefined {
  const m = /^\s*([0-9]+(?:\.[0-9]+)?)\s*([a-zA-Z]*)\s*$/.exec(s);
  if (!m) return undefined;
  const mult = units[m[2]!.toLowerCase()];
  if (mult === undefined) return undefined;
  const v = Math.round(Number(m[1]) * mult);
  return Number.isSafeInteger(v) ? v : undefined;
}

/** Rate string → bytes per second (`10mbit` → 1250000). A unit is required; zero is rejected. */
export function parseRate(s: string): number | undefined {
  if (!/[a-zA-Z]/.test(s)) return undefined; // a bare number is ambiguous (tc: bits/s)
  const v = withUnit(s, RATE_UNITS);
  return v !== undefined && v > 0 ? v : undefined;
}

/** Size → bytes (`32kb` → 32768, integers are bytes). */
export function parseSize(v: string | number): number | undefined {
  return typeof v === 'number' ? v : withUnit(v, SIZE_UNITS);
}

/** Time → microseconds (`50ms` → 50000, integers are microseconds). */
export function parseTime(v: string | number): number | undefined {
  return typeof v === 'number' ? v : withUnit(v, TIME_UNITS);
}

/** Qdisc handle `1:` (or `1:0`) → canonical `1:`. Major 1..ffff, hex like tc. */
export function parseHandle(s: string): string | undefined {
  const m = /^([0-9a-fA-F]{1,4}):(0{0,4})$/.exec(s.trim());
  if (!m) return undefined;
  const major = parseInt(m[1]!, 16);
  return major > 0 && major < 0xffff ? `${major.toString(16)}:` : undefined;
}

/** Class id `1:10` → canonical `1:10` (hex, no leading zeros; minor must be non-zero). */
export function parseClassId(s: string): string | undefined {
  const m = /^([0-9a-fA-F]{1,4}):([0-9a-fA-F]{1,4})$/.exec(s.trim());
  if (!m) return undefined;
  const major = parseInt(m[1]!, 16);
  const minor = parseInt(m[2]!, 16);
  return major > 0 && major < 0xffff && minor > 0 ? `${major.toString(16)}:${minor.toString(16)}` : undefined;
}

/** `N` or `N-M` (inclusive) → bounds, or undefined when malformed or reversed. */
export function parseRange(v: number | string): { lo: number; hi: number } | undefined {
  if (typeof v === 'number') return Number.isSafeInteger(v) ? { lo: v, hi: v } : undefined;
  const m = /^\s*([0-9]+)\s*-\s*([0-9]+)\s*$/.exec(v);
  if (!m) return undefined;
  const lo = Number(m[1]);
  const hi = Number(m[2]);
  return hi >= lo ? { lo, hi } : undefined;
}

// --- the inverse: model numbers back in config spelling (`show`) --------------------------------
// Each formatter's output parses back to exactly its input (parseX(formatX(n)) === n).

/** Bytes per second → the largest SI bit unit that divides it exactly (`1250000` → `10mbit`). */
export function formatRate(bytesPerSec: number): string {
  const bits = bytesPerSec * 8;
  for (const [u, m] of [['tbit', 1e12], ['gbit', 1e9], ['mbit', 1e6], ['kbit', 1e3]] as const) if (bits % m === 0) return `${bits / m}${u}`;
  return `${bits}bit`;
}

/** Bytes → `32kb`/`1mb`/`1gb` when a whole multiple of 1024, else the integer (bytes). */
export function formatSize(bytes: number): string | number {
  for (const [u, m] of [['gb', 1024 ** 3], ['mb', 1024 ** 2], ['kb', 1024]] as const) if (bytes > 0 && bytes % m === 0) return `${bytes / m}${u}`;
  return bytes;
}

/** Microseconds → `2s`/`50ms` when whole, else `1234us`. */
export function formatTime(us: number): string {
  for (const [u, m] of [['s', 1e6], ['ms', 1e3]] as const) if (us > 0 && us % m === 0) return `${us / m}${u}`;
  return `${us}us`;
}
