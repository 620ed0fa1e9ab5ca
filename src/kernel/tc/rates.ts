// Time ↔ "tick" conversions for tc. The kernel keeps tbf/htb buckets in ns and reports them in
// psched ticks (64 ns, /proc/net/psched). Two sets of functions:
//  - iproute2's (tc_core.c, double math truncated to unsigned int exactly like C), used where we
//    want byte-identical requests to `tc` (htb class buffers, which the model does not expose);
//  - exact rational ones (BigInt) for values the model reads back (tbf burst/mtu): iproute2 first
//    truncates the burst time to whole microseconds, so `tc` itself cannot read back what it wrote
//    (32kb at 10mbit shows as 32767b). Ours round the tick count up (the bucket never holds less
//    than asked) and read back with floor, which is the identity whenever one tick is worth less
//    than one byte (rate < ticks/s = 15.625 MB/s = 125 Mbit/s) and a fixed point above that.
import fs from 'node:fs';

export const TIME_UNITS_PER_SEC = 1_000_000;
/** iproute2's compile-time HZ fallback of get_hz(). */
const IPROUTE2_HZ = 100;

export interface Psched {
  /** Fields of /proc/net/psched after iproute2's adjustment (t2us = us2t with a 1 GHz clock). */
  readonly t2us: number;
  readonly us2t: number;
  readonly clockRes: number;
  /** iproute2's get_hz(): the 4th field when the 3rd is 1000000, else 100. */
  readonly hz: number;
}

export function parsePsched(text: string): Psched {
  const f = text.trim().split(/\s+/).map((x) => parseInt(x, 16));
  if (f.length < 3 || f.slice(0, 3).some((x) => !Number.isFinite(x) || x <= 0)) throw new Error(`unexpected /proc/net/psched: ${text}`);
  let [t2us, us2t, clockRes] = f as [number, number, number];
  if (clockRes === 1_000_000_000) t2us = us2t;
  const hz = clockRes === 1_000_000 && f[3] ? f[3] : IPROUTE2_HZ;
  return { t2us, us2t, clockRes, hz };
}

let cached: Psched | undefined;
/** The running kernel's psched parameters (global, not per namespace). */
export function psched(): Psched {
  if (!cached) cached = parsePsched(fs.readFileSync('/proc/net/psched', 'utf8'));
  return cached;
}

/** C's (unsigned int) conversion of a non-negative double. */
function u32trunc(x: number): number {
  return x >= 4294967296 ? 4294967295 : Math.trunc(x) >>> 0;
}

// --- iproute2 tc_core.c, verbatim semantics -------------------------------------------------

export function tickInUsec(p: Psched = psched()): number {
  return (p.t2us / p.us2t) * (p.clockRes / TIME_UNITS_PER_SEC);
}
export function tcCoreTime2Tick(time: number, p: Psched = psched()): number {
  return u32trunc(u32trunc(time) * tickInUsec(p));
}
export function tcCoreTick2Time(tick: number, p: Psched = psched()): number {
  return u32trunc(tick / tickInUsec(p));
}
/** tc_calc_xmittime(rate, size): ticks to send `size` bytes at `rate` bytes/s. */
export function tcCalcXmittime(rate: number, size: number, p: Psched = psched()): number {
  return tcCoreTime2Tick(TIME_UNITS_PER_SEC * (size / rate), p);
}
/** tc_calc_xmitsize(rate, ticks): what `tc` prints as burst. */
export function tcCalcXmitsize(rate: number, ticks: number, p: Psched = psched()): number {
  return u32trunc((rate * tcCoreTick2Time(ticks, p)) / TIME_UNITS_PER_SEC);
}

// --- exact conversions ------------------------------------------------------------------------

/** Ticks per second as a fraction: 1e6 · tick_in_usec = t2us · clockRes / us2t. */
function ticksPerSec(p: Psched): [bigint, bigint] {
  return [BigInt(p.t2us) * BigInt(p.clockRes), BigInt(p.us2t)];
}

function ceilDiv(a: bigint, b: bigint): bigint {
  return (a + b - 1n) / b;
}

function rateBig(rate: number): bigint {
  if (!Number.isSafeInteger(rate) || rate <= 0) throw new Error(`bad rate ${rate}: expected positive bytes/s`);
  return BigInt(rate);
}

/** Largest bucket tbf keeps: it stores the bucket as u32 nanoseconds (~4.29 s). */
export function maxBucketTicks(p: Psched = psched()): number {
  const [num, den] = ticksPerSec(p);
  return Number((0xffffffffn * num) / (den * 1_000_000_000n));
}

/** Bucket of `bytes` at `rate` bytes/s → ticks, rounded up, clamped like the kernel (maxBucketTicks). */
export function bytesToTicks(rate: number, bytes: number, p: Psched = psched()): number {
  const [num, den] = ticksPerSec(p);
  const t = Number(ceilDiv(BigInt(bytes) * num, rateBig(rate) * den));
  return Math.min(t, maxBucketTicks(p));
}

/** Inverse of bytesToTicks: the bytes a bucket of `ticks` holds at `rate` (floor). */
export function ticksToBytes(rate: number, ticks: number, p: Psched = psched()): number {
  const [num, den] = ticksPerSec(p);
  return Number((BigInt(ticks) * rateBig(rate) * den) / num);
}

/** The burst the kernel will report back for `bytes` at `rate` (identity below 125 Mbit/s). */
export function canonicalBytes(rate: number, bytes: number, p: Psched = psched()): number {
  return ticksToBytes(rate, bytesToTicks(rate, bytes, p), p);
}

/** Bytes that arrive during `us` microseconds at `rate` (floor, as iproute2's tbf limit). */
export function bytesIn(rate: number, us: number): number {
  return Number((rateBig(rate) * BigInt(Math.trunc(us))) / BigInt(TIME_UNITS_PER_SEC));
}

/** Smallest whole-µs time during which at least `bytes` arrive at `rate`; inverse of bytesIn. */
export function timeFor(rate: number, bytes: number): number {
  return Number(ceilDiv(BigInt(bytes) * BigInt(TIME_UNITS_PER_SEC), rateBig(rate)));
}

export const U32_LIMIT = 0xffffffff;
/** Split a 64-bit rate like iproute2: the u32 field saturates and a *_RATE64 attribute carries it. */
export function rate32(rate: number): { r32: number; r64?: bigint } {
  return rate > U32_LIMIT ? { r32: U32_LIMIT, r64: BigInt(rate) } : { r32: rate };
}
