// Small normalisation helpers shared by merge identities and the normalisers.
import { canonicalCidr, ipFamily, networkOf, parseCidr, whyNotCidr, type IpFamily } from '../model/net';
import type { Raw } from './types';

export const TABLE_NAMES: Record<string, number> = { main: 254, local: 255, default: 253 };

export function nsOf(v: Raw): string {
  return typeof v?.namespace === 'string' ? v.namespace : '';
}

export function tableNumber(v: number | string | undefined, dflt = 254): number {
  if (v === undefined) return dflt;
  return typeof v === 'number' ? v : (TABLE_NAMES[v] ?? dflt);
}

export type RouteDest = { to: string; family: IpFamily } | { error: string };

/** `to` of a route: default/default6/CIDR/bare address → canonical network CIDR and family. */
export function routeDest(r: Raw): RouteDest {
  const to: string = r.to;
  const hinted = (): IpFamily | undefined =>
    r.family ?? (ipFamily(r.via) === 6 || ipFamily(r.src) === 6 ? 6 : ipFamily(r.via) ?? ipFamily(r.src));
  if (to === 'default') {
    const family = hinted() ?? 4;
    return { to: family === 4 ? '0.0.0.0/0' : '::/0', family };
  }
  if (to === 'default6') return { to: '::/0', family: 6 };
  const cidr = hostCidr(to);
  const c = parseCidr(cidr);
  if (!c) return { error: `bad destination '${to}': ${looksLikeAddress(to) ? whyNotCidr(to) : "expected 'default', 'default6' or a CIDR"}` };
  return { to: networkOf(cidr)!, family: c.family };
}

export function defaultMetric(family: IpFamily): number {
  return family === 6 ? 1024 : 0;
}

/** A route's metric as the kernel stores it: IPv6 turns 0 into its default 1024 (IPv4 keeps 0). */
export function routeMetric(family: IpFamily, metric: number | undefined): number {
  return metric === undefined || (family === 6 && metric === 0) ? defaultMetric(family) : metric;
}

/** Whether a refused value was meant as an address (then its error names the bad part), not a word (`deafult`). */
export function looksLikeAddress(s: unknown): boolean {
  return typeof s === 'string' && /^[0-9]|[.:/]/.test(s);
}

/** A bare address is a host prefix (/32, /128), as `ip` reads it; anything else is kept. */
export function hostCidr(s: string): string {
  const fam = ipFamily(s);
  return fam ? `${s}/${fam === 4 ? 32 : 128}` : s;
}

/** Rule family: declared, else from from/to, else IPv4. */
export function ruleFamily(r: Raw): IpFamily {
  const fam = (k: 'from' | 'to'): IpFamily | undefined => (typeof r[k] === 'string' ? parseCidr(hostCidr(r[k]))?.family : undefined);
  return r.family ?? fam('from') ?? fam('to') ?? 4;
}

export function canonicalOrRaw(s: string): string {
  return canonicalCidr(s) ?? s;
}
