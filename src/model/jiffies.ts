// Bridge timers (ageing_time, forward_delay) cross netlink in centiseconds (clock_t, USER_HZ
// 100) but the kernel stores jiffies: clock_t_to_jiffies() on write, jiffies_to_clock_t() on
// read (kernel/time/time.c). With HZ=250, 12345 is stored as 30862 jiffies and read back as
// 12344, so a declared value can read back slightly lower. This mirrors that arithmetic.

const USER_HZ = 100n;
const NSEC_PER_SEC = 1_000_000_000n;

/** The CONFIG_HZ choices of the Linux architectures whose USER_HZ is 100. */
export const KERNEL_HZ_CHOICES: readonly number[] = [100, 200, 250, 300, 500, 1000];

/** clock_t_to_jiffies() for `hz` (64-bit unsigned long: a u32 argument cannot saturate). */
export function clockToJiffies(cs: number, hz: number): bigint {
  const x = BigInt(cs);
  const h = BigInt(hz);
  return h % USER_HZ === 0n ? x * (h / USER_HZ) : (x * h) / USER_HZ;
}

/** jiffies_to_clock_t() for `hz`: through TICK_NSEC, which is rounded for HZ like 300. */
export function jiffiesToClock(j: bigint, hz: number): number {
  const h = BigInt(hz);
  const tickNsec = (NSEC_PER_SEC + h / 2n) / h;
  const perClock = NSEC_PER_SEC / USER_HZ;
  if (tickNsec % perClock === 0n) return Number(h < USER_HZ ? j * (USER_HZ / h) : j / (h / USER_HZ));
  return Number((j * tickNsec) / perClock);
}

/** What the kernel reports after being given `cs` centiseconds, on a kernel with `hz`. */
export function bridgeTimerRoundTrip(cs: number, hz: number): number {
  return jiffiesToClock(clockToJiffies(cs, hz), hz);
}

/**
 * Whether a live bridge timer is what the kernel stores for the declared one. The plan is pure
 * (no host probing), so any CONFIG_HZ choice counts: the only values accepted besides the
 * declared one are that value's round trips, at most a few centiseconds below it.
 */
export function bridgeTimerInSync(declared: number, live: unknown, hzChoices: readonly number[] = KERNEL_HZ_CHOICES): boolean {
  if (live === declared) return true;
  return typeof live === 'number' && hzChoices.some((hz) => bridgeTimerRoundTrip(declared, hz) === live);
}
