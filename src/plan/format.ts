// Compact one-line rendering of field values for reasons and plan output.
import { defaultRouteScope, routeScopeName, type Resource, type VniRange } from '../model/types';
import { formatRate, formatSize, formatTime } from '../config/units';
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

/** tc values the model keeps in other units than the config's: shown as the config spells them. */
const TC_UNITS: Readonly<Record<string, (n: number) => string | number>> = {
  rate: formatRate,
  ceil: formatRate,
  'options.rate': formatRate,
  'options.peakrate': formatRate,
  'options.maxrate': formatRate,
  'options.burst': formatSize,
  'options.quantum': formatSize,
  'options.latency': formatTime,
  'options.target': formatTime,
  'options.interval': formatTime,
  // htb's default class minor: the config writes it in hex, as tc does (`default: 10` is 16).
  'options.default': (n) => n.toString(16),
};

/**
 * A field of `r` for plan text and markdown: tc rates, sizes and times in the config's units
 * (`6gbit`, not the model's 750000000 bytes/s), else as fmtScalar. JSON keeps the model's numbers.
 */
/**
 * A field's value as a plan shows it: a route without a scope has its default one (RouteRes.scope),
 * so a change reads `scope: host → link`, not `host → (none)`.
 */
export function shownValue(r: Resource | undefined, field: string, v: unknown): unknown {
  return v === undefined && field === 'scope' && r?.kind === 'route' ? routeScopeName(defaultRouteScope(r)) : v;
}

export function fmtField(r: Resource | undefined, field: string, v: unknown): string {
  v = shownValue(r, field, v);
  if (typeof v === 'number' && (r?.kind === 'tclass' || r?.kind === 'qdisc')) {
    // A tbf limit is bytes; pfifo, fq and fq_codel limits count packets.
    const f = field === 'options.limit' && r.kind === 'qdisc' && r.qdisc === 'tbf' ? formatSize : TC_UNITS[field];
    if (f !== undefined && (r.kind === 'qdisc' || field === 'rate' || field === 'ceil')) return String(f(v));
  }
  return fmtScalar(v, field);
}
