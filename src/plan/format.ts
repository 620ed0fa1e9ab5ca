// Compact one-line rendering of field values for reasons and plan output.

/** `9000`, `up`, `"uplink bridge"`, `[fc00:1::1, fc00:2::1]`, `{vid: 10, pvid: true}`, `(none)`. */
export function fmtScalar(v: unknown): string {
  if (v === undefined || v === null) return '(none)';
  if (typeof v === 'string') return /^[\w.:/@+-]+$/.test(v) ? v : JSON.stringify(v);
  if (Array.isArray(v)) return `[${v.map(fmtScalar).join(', ')}]`;
  if (typeof v === 'object') {
    const parts = Object.entries(v as Record<string, unknown>)
      .filter(([, x]) => x !== undefined)
      .map(([k, x]) => `${k}: ${fmtScalar(x)}`);
    return `{${parts.join(', ')}}`;
  }
  return String(v);
}
