// tc handles and parents: 32-bit major:minor ids, written in hex like tc ('1:', '1:10', 'ffff:fff2'),
// plus the named parents 'root', 'clsact' (= 'ingress' qdisc slot), and the clsact
// filter hooks 'ingress'/'egress'.

export const TC_H_UNSPEC = 0;
export const TC_H_ROOT = 0xffffffff;
export const TC_H_INGRESS = 0xfffffff1;
export const TC_H_CLSACT = TC_H_INGRESS;
export const TC_H_MIN_INGRESS = 0xfff2;
export const TC_H_MIN_EGRESS = 0xfff3;
/** The handle every clsact (and ingress) qdisc has: ffff:0. */
export const CLSACT_HANDLE = 0xffff0000;
export const CLSACT_INGRESS = (CLSACT_HANDLE | TC_H_MIN_INGRESS) >>> 0;
export const CLSACT_EGRESS = (CLSACT_HANDLE | TC_H_MIN_EGRESS) >>> 0;

export function tcMajor(h: number): number {
  return h >>> 16;
}
export function tcMinor(h: number): number {
  return h & 0xffff;
}
export function tcHandle(major: number, minor: number): number {
  return (((major & 0xffff) << 16) | (minor & 0xffff)) >>> 0;
}

/**
 * 'maj:min', 'maj:' (minor 0) or ':min' (major 0), hex, 1-4 digits each → u32;
 * undefined when malformed. Named parents are not accepted here (see parseParent).
 */
export function parseTcId(s: string): number | undefined {
  const m = /^([0-9a-fA-F]{0,4}):([0-9a-fA-F]{0,4})$/.exec(s.trim());
  if (!m || (m[1] === '' && m[2] === '')) return undefined;
  return tcHandle(m[1] ? parseInt(m[1], 16) : 0, m[2] ? parseInt(m[2], 16) : 0);
}

/** u32 → 'maj:' when the minor is 0, else 'maj:min' (hex, no leading zeros, as tc prints). */
export function formatTcId(h: number): string {
  const min = tcMinor(h);
  return `${tcMajor(h).toString(16)}:${min ? min.toString(16) : ''}`;
}

const NAMED: Record<string, number> = {
  root: TC_H_ROOT,
  clsact: TC_H_CLSACT,
  ingress: CLSACT_INGRESS,
  egress: CLSACT_EGRESS,
};

/** A parent as written in the model/config: 'root', 'clsact', 'ingress', 'egress' or an id. */
export function parseParent(s: string): number | undefined {
  return NAMED[s] ?? parseTcId(s);
}

/**
 * Model form of a kernel parent id: TC_H_ROOT → 'root', TC_H_INGRESS → 'clsact'
 * (the qdisc slot), the clsact hooks → 'ingress'/'egress', anything else 'maj:min'.
 */
export function formatParent(h: number): string {
  switch (h >>> 0) {
    case TC_H_ROOT:
      return 'root';
    case TC_H_CLSACT:
      return 'clsact';
    case CLSACT_INGRESS:
      return 'ingress';
    case CLSACT_EGRESS:
      return 'egress';
    default:
      return formatTcId(h);
  }
}

/** Qdisc handle in the model ('1:'); undefined for handle 0 (kernel default). */
export function parseQdiscHandle(s: string | undefined): number {
  if (s === undefined) return 0;
  const h = parseTcId(s);
  if (h === undefined || tcMinor(h) !== 0) throw new Error(`bad qdisc handle '${s}': expected 'major:'`);
  return h;
}

/** Class id in the model ('1:10'); throws when malformed (the config layer validated it). */
export function parseClassId(s: string): number {
  const h = parseTcId(s);
  if (h === undefined || tcMajor(h) === 0 || tcMinor(h) === 0) throw new Error(`bad class id '${s}': expected 'major:minor'`);
  return h;
}

export function directionParent(direction: 'ingress' | 'egress'): number {
  return direction === 'ingress' ? CLSACT_INGRESS : CLSACT_EGRESS;
}
