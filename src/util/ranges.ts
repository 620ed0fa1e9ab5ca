// Runs of consecutive integers: VNI filter lists hold up to 2^24 entries, sent and shown as ranges.

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
