// Sets of integers as inclusive ranges: a VNI filter can hold all 2^24 VNIs, so it is kept,
// compared, shown and sent as sorted, merged runs and never expanded number by number.

/** An inclusive run [first, last]. */
export type Range = readonly [number, number];

/** Sorted, de-duplicated `nums` as inclusive [first, last] runs: [1, 2, 3, 7] → [[1, 3], [7, 7]]. */
export function toRanges(nums: readonly number[]): [number, number][] {
  const sorted = isSortedUnique(nums) ? nums : [...new Set(nums)].sort((a, b) => a - b);
  const out: [number, number][] = [];
  for (const n of sorted) {
    const last = out[out.length - 1];
    if (last && n === last[1] + 1) last[1] = n;
    else out.push([n, n]);
  }
  return out;
}

function isSortedUnique(nums: readonly number[]): boolean {
  for (let i = 1; i < nums.length; i++) if (!(nums[i - 1]! < nums[i]!)) return false;
  return true;
}

/** The canonical form: sorted, with overlapping and adjacent runs merged ([[5, 9], [1, 4]] → [[1, 9]]). */
export function mergeRanges(rs: readonly Range[]): Range[] {
  const sorted = isCanonical(rs) ? rs : [...rs].sort((a, b) => a[0] - b[0]);
  const out: [number, number][] = [];
  for (const [lo, hi] of sorted) {
    const last = out[out.length - 1];
    if (last && lo <= last[1] + 1) last[1] = Math.max(last[1], hi);
    else out.push([lo, hi]);
  }
  return out;
}

function isCanonical(rs: readonly Range[]): boolean {
  for (let i = 1; i < rs.length; i++) if (!(rs[i - 1]![1] + 1 < rs[i]![0])) return false;
  return true;
}

/** The numbers of `a` not in `b`, both canonical; canonical. Linear in the number of runs. */
export function subtractRanges(a: readonly Range[], b: readonly Range[]): Range[] {
  const out: Range[] = [];
  let j = 0;
  for (const [lo0, hi] of a) {
    let lo = lo0;
    while (j < b.length && b[j]![1] < lo) j++;
    for (let k = j; k < b.length && b[k]![0] <= hi; k++) {
      if (b[k]![0] > lo) out.push([lo, b[k]![0] - 1]);
      lo = Math.max(lo, b[k]![1] + 1);
    }
    if (lo <= hi) out.push([lo, hi]);
  }
  return out;
}

/** How many numbers the runs hold. */
export function rangeCount(rs: readonly Range[]): number {
  return rs.reduce((n, [lo, hi]) => n + hi - lo + 1, 0);
}

/** Config spelling of a run: `7` or `"100-102"` (what the loader parses back to the same run). */
export function rangeItem([lo, hi]: Range): number | string {
  return lo === hi ? lo : `${lo}-${hi}`;
}

/** Display form: `[1-4096, 5000]`. */
export function fmtRanges(rs: readonly Range[]): string {
  return `[${rs.map(([lo, hi]) => (lo === hi ? `${lo}` : `${lo}-${hi}`)).join(', ')}]`;
}

/**
 * Disjoint runs claimed in turn by owners (list items, devices): a claim takes the part of its run
 * below the first number already claimed, and reports that number and its owner, as walking the
 * run number by number would, but in O(log n) lookups per claim whatever the run's length.
 */
export class RangeClaims<T> {
  private readonly runs: { lo: number; hi: number; owner: T }[] = [];

  claim(lo: number, hi: number, owner: T): { at: number; owner: T } | undefined {
    const i = this.firstEndingAtOrAfter(lo);
    const next = this.runs[i];
    const clash = next !== undefined && next.lo <= hi ? { at: Math.max(lo, next.lo), owner: next.owner } : undefined;
    const end = clash ? clash.at - 1 : hi;
    if (lo <= end) this.runs.splice(i, 0, { lo, hi: end, owner });
    return clash;
  }

  /** The first claimed number in lo..hi and its owner, claiming nothing. */
  overlap(lo: number, hi: number): { at: number; owner: T } | undefined {
    const next = this.runs[this.firstEndingAtOrAfter(lo)];
    return next !== undefined && next.lo <= hi ? { at: Math.max(lo, next.lo), owner: next.owner } : undefined;
  }

  /** The claimed runs, sorted. */
  list(): readonly { readonly lo: number; readonly hi: number; readonly owner: T }[] {
    return this.runs;
  }

  /** Index of the first run with hi >= n (runs are sorted and disjoint). */
  private firstEndingAtOrAfter(n: number): number {
    let a = 0;
    let b = this.runs.length;
    while (a < b) {
      const m = (a + b) >> 1;
      if (this.runs[m]!.hi < n) a = m + 1;
      else b = m;
    }
    return a;
  }
}

/**
 * JSON.parse reviver for state files (journal, inventory) written before VNI filters were kept as
 * runs: a `vnis` list of numbers becomes its runs, so a journal left by a crash before an upgrade
 * still rolls back.
 */
export function legacyVnis(key: string, value: unknown): unknown {
  return key === 'vnis' && Array.isArray(value) && value.every((n) => typeof n === 'number') ? toRanges(value as number[]) : value;
}
