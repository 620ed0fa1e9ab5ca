// Folding: deletes the kernel performs by itself are not planned separately.
import type { ResourceKind } from '../model/types';
import { countText, isLink, type Draft } from './drafts';
import { KIND_RANK } from './refs';
import { removesLive } from './types';

/** Deletes the kernel already performs as a side effect of another delete or replace. */
export function foldableDeletes(drafts: ReadonlyMap<string, Draft>, removedWith: (k: string) => Map<string, string>): { roots: Draft[]; folded: Set<string>; removedBy: Map<string, Draft[]> } {
  const roots = [...drafts.values()].filter(removesLive);
  const pref = (a: Draft, b: Draft): number => {
    const pa = isLink(a.before) && a.before.veth?.primary ? 0 : 1;
    const pb = isLink(b.before) && b.before.veth?.primary ? 0 : 1;
    const ra = a.action === 'replace' ? 0 : 1; // a replace is never folded: it wins ties
    const rb = b.action === 'replace' ? 0 : 1;
    return ra - rb || KIND_RANK[a.kind] - KIND_RANK[b.kind] || pa - pb || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0);
  };
  roots.sort(pref);
  // Who removes each root (index built once: roots × closure, not roots²).
  const removedBy = new Map<string, Draft[]>();
  for (const o of roots) {
    for (const k of removedWith(o.key).keys()) {
      const l = removedBy.get(k);
      if (l) l.push(o);
      else removedBy.set(k, [o]);
    }
  }
  const folded = new Set<string>();
  for (const r of roots) {
    if (r.action !== 'delete' || r.kind === 'bpf') continue;
    const doms = (removedBy.get(r.key) ?? []).filter((o) => o !== r);
    if (doms.length === 0) continue;
    const strict = doms.some((o) => !removedWith(r.key).has(o.key));
    // Mutual removal (the two ends of a veth): keep the preferred one.
    if (strict || doms.some((o) => pref(o, r) < 0)) folded.add(r.key);
  }
  return { roots, folded, removedBy };
}

/**
 * Deletes the kernel performs by itself (objects inside a deleted namespace, addresses and routes
 * of a deleted link, the other end of a veth) are folded into the change that causes them, and
 * counted in its reason. bpf deletes stay explicit: their pins are not removed by the kernel.
 */
export function foldKernelRemovals(drafts: Map<string, Draft>, removedWith: (k: string) => Map<string, string>): void {
  const { folded, removedBy } = foldableDeletes(drafts, removedWith);
  const credit = new Map<string, ResourceKind[]>();
  for (const k of folded) {
    const owner = removedBy.get(k)?.find((o) => !folded.has(o.key));
    if (owner) {
      const l = credit.get(owner.key);
      if (l) l.push(drafts.get(k)!.kind);
      else credit.set(owner.key, [drafts.get(k)!.kind]);
    }
    drafts.delete(k);
  }
  for (const [k, kinds] of credit) {
    const d = drafts.get(k)!;
    d.reason +=
      d.kind === 'namespace'
        ? `; ${kinds.length} owned object${kinds.length === 1 ? '' : 's'} go${kinds.length === 1 ? 'es' : ''} with it (${countText(kinds)})`
        : `; the kernel removes ${countText(kinds)} with it`;
  }
}
