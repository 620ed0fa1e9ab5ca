// Deleting an IPv6 address (RTM_DELADDR: ipv6_del_addr → rt6_remove_prefsrc) does not remove the
// routes that use it as their source, as IPv4 does: the kernel keeps them and clears their `src`,
// in every table, unless another address of the namespace still has the ip (a link-local one: on
// the route's device). Measured: a link deleted, set down or with IPv6 disabled leaves `src` as it
// is; only an address delete clears it. A declared route keeping that `src` (the address renumbered
// to another prefix length, or deleted and added again) is written again after the address comes
// back, or the apply ends with the route without its source and fails to verify.
import type { AddressRes, Resource, RouteRes } from '../model/types';
import { ref, runAfterAll, type Draft } from './drafts';

const ipOf = (cidr: string): string => cidr.slice(0, cidr.indexOf('/'));
const isLinkLocal = (ip: string): boolean => /^fe[89ab][0-9a-f]:/i.test(ip);

/** Rewrites declared IPv6 routes whose `src` an explicit address delete in the plan clears. */
export function resetSrcAfterAddressDeletes(
  drafts: Map<string, Draft>,
  desired: ReadonlyMap<string, Resource>,
  kernel: ReadonlyMap<string, Resource>,
  runAfter: Map<string, Set<string>>,
): void {
  // `ns|ip` → the address deletes (also the delete half of a replace) of that ip. Deletes folded
  // into a link's are not RTM_DELADDR: the link goes, and the kernel leaves `src` alone.
  const deletes = new Map<string, Draft[]>();
  for (const x of drafts.values()) {
    const a = x.before as AddressRes | undefined;
    if (x.kind !== 'address' || (x.action !== 'delete' && x.action !== 'replace') || !a?.address.includes(':')) continue;
    const id = `${a.namespace}|${ipOf(a.address)}`;
    deletes.set(id, [...(deletes.get(id) ?? []), x]);
  }
  if (deletes.size === 0) return;
  // Live addresses with such an ip that no delete of the plan touches: they keep `src`.
  const staying: AddressRes[] = [];
  for (const [k, r] of kernel) {
    if (r.kind !== 'address' || !deletes.has(`${r.namespace}|${ipOf(r.address)}`)) continue;
    const x = drafts.get(k);
    if (x?.action !== 'delete' && x?.action !== 'replace') staying.push(r);
  }
  for (const [key, d] of desired) {
    if (d.kind !== 'route' || d.family !== 6 || d.src === undefined) continue;
    const ws = deletes.get(`${d.namespace}|${d.src}`);
    const live = kernel.get(key) as RouteRes | undefined;
    if (!ws || live?.src !== d.src) continue;
    const kept = staying.some((a) => a.namespace === d.namespace && ipOf(a.address) === d.src && (!isLinkLocal(d.src!) || a.dev === live.dev));
    if (kept) continue;
    const prev = drafts.get(key);
    if (prev && prev.action !== 'update') continue; // created or deleted anyway
    runAfterAll(runAfter, key, ws.map((w) => w.key));
    const why = `src written again after ${ref(ws[0]!.before!)} is deleted: the kernel clears the source of the IPv6 routes using it`;
    const fields = (prev?.fields ?? []).filter((f) => f.field !== 'src');
    drafts.set(key, {
      action: 'update',
      key,
      kind: 'route',
      before: live,
      after: d,
      fields: [...fields, { field: 'src', before: undefined, after: d.src }].sort((a, b) => (a.field < b.field ? -1 : a.field > b.field ? 1 : 0)),
      reason: prev ? `${prev.reason}; ${why}` : why,
      // The update restores the source; the address delete before it is the disruptive change.
      disruptive: prev?.disruptive ?? false,
    });
  }
}
