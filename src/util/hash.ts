// A cheap non-cryptographic 64-bit string hash (FNV-1a in two 32-bit lanes with different
// offsets). Only for choosing a file whose content is then compared exactly (the config
// cache): loading node:crypto costs every start ~2 ms, and hashing all of a large config in
// still-cold JS costs more, so callers may hash a sample (see `sampleOf`).

/** Hash of the strings in order (each length-prefixed, so ['ab','c'] ≠ ['a','bc']), 16 hex digits. */
export function hash64(parts: readonly string[]): string {
  let a = 0x811c9dc5;
  let b = 0x050c5d1f;
  const mix = (c: number): void => {
    a = Math.imul(a ^ c, 0x01000193);
    b = Math.imul(b ^ c, 0x01000193) ^ (b >>> 15);
  };
  for (const s of parts) {
    mix(s.length & 0xffff);
    mix(s.length >>> 16);
    for (let i = 0; i < s.length; i++) mix(s.charCodeAt(i));
  }
  return (a >>> 0).toString(16).padStart(8, '0') + (b >>> 0).toString(16).padStart(8, '0');
}

/** At most ~`max` characters of `s`, evenly spread (all of it when short). */
export function sampleOf(s: string, max = 1024): string {
  if (s.length <= max) return s;
  const step = Math.ceil(s.length / max);
  let out = '';
  for (let i = 0; i < s.length; i += step) out += s[i];
  return out;
}
