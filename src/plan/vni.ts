// VNI claims: the kernel keeps one VXLAN per VNI on a UDP port (and family) in a namespace.
import { vxlanIsV6, type LinkRes, type Resource } from '../model/types';
import { mergeRanges, subtractRanges, type Range } from '../util/ranges';
import type { Draft } from './drafts';

/**
 * What a VXLAN claims on its UDP port (as the config's vniClashes groups them): mode and VNI runs,
 * in the namespace it was made in (one moved elsewhere keeps its sockets there).
 */
export function vniClaim(l: LinkRes): { ns: string; group: string; runs: readonly Range[] } | undefined {
  const x = l.vxlan;
  if (l.type !== 'vxlan' || !x) return undefined;
  const mode = x.vnifilter ? 'vnifilter' : x.external ? 'external' : 'vni';
  const runs: readonly Range[] = mode === 'vnifilter' ? mergeRanges(l.vnis ?? []) : mode === 'external' ? [[0, 0]] : x.vni !== undefined ? [[x.vni, x.vni]] : [];
  const ns = l.madeIn ?? l.namespace;
  return { ns, group: `${ns}|${x.dstport}|${vxlanIsV6(x) ? 6 : 4}|${mode}`, runs };
}

/** Whether two canonical run lists share a number. */
export function rangesOverlap(a: readonly Range[], b: readonly Range[]): boolean {
  let j = 0;
  for (const [lo, hi] of a) {
    while (j < b.length && b[j]![1] < lo) j++;
    if (j < b.length && b[j]![0] <= hi) return true;
  }
  return false;
}

const asLink = (r: Resource | undefined): LinkRes | undefined => (r?.kind === 'link' && r.type === 'vxlan' ? r : undefined);

/** The VNIs a change takes on its port: all of a (re)created VXLAN's, the ones an update adds. */
function claimed(x: Draft): { group: string; runs: readonly Range[] } | undefined {
  const a = asLink(x.after);
  const ca = a && vniClaim(a);
  if (!ca || x.action === 'delete') return undefined;
  if (x.action !== 'update') return ca;
  const b = asLink(x.before);
  const cb = b && vniClaim(b);
  return cb?.group === ca.group ? { group: ca.group, runs: subtractRanges(ca.runs, cb.runs) } : ca;
}

/** The VNIs a change gives up while others run: all of a replaced VXLAN's, the ones an update drops. */
function released(x: Draft): { group: string; runs: readonly Range[] } | undefined {
  const b = asLink(x.before);
  const cb = b && vniClaim(b);
  if (!cb || x.action === 'create' || x.action === 'delete') return undefined; // deletes run first anyway
  if (x.action === 'replace') return x.createdBy === undefined ? cb : undefined;
  const a = asLink(x.after);
  const ca = a && vniClaim(a);
  return ca?.group === cb.group ? { group: cb.group, runs: subtractRanges(cb.runs, ca.runs) } : cb;
}

/**
 * [waiter, awaited]: a change giving a VXLAN a VNI that another live VXLAN of this plan gives up
 * (replaced with another VNI, or dropping it from its filter) waits for that change, else the
 * kernel refuses it (EEXIST "VNI already exists", "VNI in use"): a VNI moved along a chain of
 * devices.
 */
export function vniWaits(ups: readonly Draft[]): [string, string][] {
  const givers = new Map<string, { key: string; runs: readonly Range[] }[]>();
  for (const x of ups) {
    const r = released(x);
    if (!r || r.runs.length === 0) continue;
    const l = givers.get(r.group);
    if (l) l.push({ key: x.key, runs: r.runs });
    else givers.set(r.group, [{ key: x.key, runs: r.runs }]);
  }
  if (givers.size === 0) return [];
  const out: [string, string][] = [];
  for (const x of ups) {
    const c = claimed(x);
    if (!c || c.runs.length === 0) continue;
    for (const g of givers.get(c.group) ?? []) if (g.key !== x.key && rangesOverlap(c.runs, g.runs)) out.push([x.key, g.key]);
  }
  return out;
}
