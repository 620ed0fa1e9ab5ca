// Compact one-line rendering of field values for reasons and plan output.
import type { VniRange } from '../model/types';
import { fmtRanges, mergeRanges } from '../util/ranges';

/**
 * `9000`, `up`, `"uplink bridge"`, `[fc00:1::1, fc00:2::1]`, `{vid: 10, pvid: true}`, `(none)`.
 * `field`: the dotted path of the value; a `namespace` of '' is the root one, shown as in labels.
 */
export function fmtScalar(v: unknown, field = ''): string {
  if (v === undefined || v === null) return '(none)';
  if (v === '' && (field === 'namespace' || field.endsWith('.namespace'))) return '(root)';
  if (typeof v === 'string') return /^[\w.:/@+-]+$/.test(v) ? v : JSON.stringify(v);
  // A VNI filter can hold 2^24 VNIs: shown as runs (`[1-4096, 5000]`), not one by one.
  if (field === 'vnis' && Array.isArray(v)) return fmtRanges(mergeRanges(v as VniRange[]));
  if (Array.isArray(v)) return `[${v.map((x) => fmtScalar(x)).join(', ')}]`;
  if (typeof v === 'object') {
    const parts = Object.entries(v as Record<string, unknown>)
      .filter(([, x]) => x !== undefined)
      .map(([k, x]) => `${k}: ${fmtScalar(x, k)}`);
    return `{${parts.join(', ')}}`;
  }
  return String(v);
}
