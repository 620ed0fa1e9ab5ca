// Ordering: dependencies between changes, then a deterministic topological order
// (deletes first, in reverse dependency order; then creates/updates/replaces).
import { resourceLabel, resourceNamespace } from '../model/keys';
import { pushTo } from '../util/multimap';
import type { Resource, ResourceKind, StateMap } from '../model/types';
import { isLink, type Draft } from './drafts';
import { handoverReasons, handoverSeamless, handovers } from './handover';
import { topoSort } from './order';
import { KIND_RANK, TcIndex, linkKey, references } from './refs';
import type { Change } from './types';
import { vniWaits } from './vni';

/**
 * The link a link or address is created next to: a port's bridge, a veth end's primary end, an
 * address's link (or that link's group). Creating each link's addresses right after it, rather
 * than all links first, is what iproute2 scripts do, and it matters to the kernel: a link that
 * comes up while no link in the namespace has an IPv4 address makes every IGMP report scan all
 * links for a source address (inet_select_addr), which made a 1000-bridge apply quadratic
 * (~0.15 s of CPU).
 */
function groupOf(r: Resource, desired: StateMap): string {
  if (r.kind === 'address') {
    const dev = desired.get(linkKey(r.namespace, r.dev));
    return dev ? groupOf(dev, desired) : linkKey(r.namespace, r.dev);
  }
  if (!isLink(r)) return '';
  if (r.veth && !r.veth.primary) return linkKey(r.veth.peer.namespace, r.veth.peer.name);
  return linkKey(r.namespace, r.master ?? r.name);
}

/** Prefix of barrier nodes (see schedule): no change key starts with it. */
const BARRIER = '\u0000';
/** A barrier's members are listed in `dependsOn` up to this many; beyond, the order carries it. */
export const LISTED_LAYER_MAX = 64;

function listedDeps(d: ReadonlySet<string>, barriers: ReadonlyMap<string, { members: readonly string[] }>): string[] {
  const out: string[] = [];
  for (const k of d) {
    const b = barriers.get(k);
    if (b === undefined) out.push(k);
    else if (b.members.length <= LISTED_LAYER_MAX) out.push(...b.members);
  }
  return out.length < 2 ? out : [...new Set(out)].sort();
}

export function schedule(
  drafts: Map<string, Draft>,
  desired: StateMap,
  kernel: StateMap,
  removedWith: (k: string) => Map<string, string>,
  runAfter: ReadonlyMap<string, ReadonlySet<string>>,
  runBefore: ReadonlyMap<string, ReadonlySet<string>>,
  pairedBy: ReadonlyMap<string, string>,
): Change[] {
  const all = [...drafts.values()];
  const isUp = new Set(all.filter((x) => x.action !== 'delete').map((x) => x.key));
  const tcK = new TcIndex(kernel);
  // Make before break (handover.ts): a route or rule whose traffic a new one takes over goes after
  // it, unless something deleted first must wait for it (the link a seg6local route names).
  const handed = handovers(drafts, (d) => references(d.before!, tcK).some((k) => drafts.get(k)?.action === 'delete'));
  // A restore (a sysctl delete writes its original back) that must follow a create or update
  // (a broadcast key: sysctl-all.ts) runs among them: deletes run first.
  const late = all.filter((x) => x.action === 'delete' && (handed.has(x.key) || [...(runAfter.get(x.key) ?? [])].some((k) => isUp.has(k))));
  const lateKeys = new Set(late.map((x) => x.key));
  const ups = all.filter((x) => x.action !== 'delete' || lateKeys.has(x.key));
  const dels = all.filter((x) => x.action === 'delete' && !lateKeys.has(x.key));
  const deps = new Map<string, Set<string>>(all.map((x) => [x.key, new Set<string>()]));
  const upKeys = new Set(ups.map((x) => x.key));
  const delKeys = new Set(dels.map((x) => x.key));

  const byNs = (list: Draft[], kind: ResourceKind, side: 'after' | 'before') => {
    const m = new Map<string, string[]>();
    for (const x of list) {
      const r = x[side];
      if (r?.kind !== kind) continue;
      const ns = resourceNamespace(r);
      const l = m.get(ns);
      if (l) l.push(x.key);
      else m.set(ns, [x.key]);
    }
    return m;
  };

  // Namespace-wide layers (routes after the namespace's addresses, rules after its routes; the
  // reverse for deletes) go through one barrier node per layer and namespace: |A| + |R| edges,
  // not |A| × |R| (2000 rules over 13 000 routes made 26 million, and a JSON plan too long for
  // a string). Barriers are sorted like changes and left out of the output.
  const barriers = new Map<string, { members: readonly string[]; rank: number; del: boolean }>();
  const addrRank = KIND_RANK.address;
  const routeRank = KIND_RANK.route;
  const ruleRank = KIND_RANK.rule;
  const addBarrier = (s: Set<string>, name: string, members: readonly string[] | undefined, memberRank: number, del = false): void => {
    if (!members || members.length === 0) return;
    const b = `${BARRIER}${name}`;
    if (!barriers.has(b)) {
      barriers.set(b, { members, rank: memberRank, del });
      deps.set(b, new Set(members));
    }
    s.add(b);
  };

  // Creates/updates/replaces: after what they refer to; routes after the namespace's addresses
  // (a `via` needs its connected route, `src` its address), rules after its routes.
  // Names freed by deletes: the object itself and what the kernel removes with it.
  const freedBy = new Map<string, string[]>();
  for (const d of dels) {
    for (const k of [d.key, ...removedWith(d.key).keys()]) {
      const l = freedBy.get(k);
      if (l) l.push(d.key);
      else freedBy.set(k, [d.key]);
    }
  }
  const macvlansOn = new Map<string, string[]>(); // live parent → live macvlans on it
  for (const [k, r] of kernel) {
    if (!isLink(r) || r.macvlan === undefined) continue;
    const pk = linkKey(r.namespace, r.macvlan.parent);
    pushTo(macvlansOn, pk, k);
  }
  const joining = new Map<string, string[]>(); // bridge → changes making a link its port
  for (const x of ups) {
    const r = x.after!;
    if (!isLink(r) || r.master === undefined || (x.action === 'update' && (x.before as { master?: string } | undefined)?.master === r.master)) continue;
    const bk = linkKey(r.namespace, r.master);
    pushTo(joining, bk, x.key);
  }
  const portsResized = portsLeavingOrResized(ups);
  /** Waits that matter only where they can be met (see below): [waiter, awaited]. */
  const soft: [string, string][] = [];
  /** Soft waits without which the kernel refuses for certain (EBUSY): they go first, see below. */
  const busy: [string, string][] = [];
  const tcD = new TcIndex(desired);
  const upAddr = byNs(ups, 'address', 'after');
  const upRoute = byNs(ups, 'route', 'after');
  // A route handed over goes after the namespace's rule changes and rules handed over: a table
  // move needs the rules that look the new table up, and rules go before routes in a delete.
  const upRule = byNs(ups, 'rule', 'after');
  for (const k of handed.keys()) {
    const r = drafts.get(k)!.before!;
    if (r.kind === 'rule') pushTo(upRule, r.namespace, k);
  }
  for (const x of ups) {
    const s = deps.get(x.key)!;
    if (x.action === 'delete') {
      for (const k of runAfter.get(x.key) ?? []) if (k !== x.key && upKeys.has(k)) s.add(k);
      const by = handed.get(x.key);
      if (by !== undefined) {
        for (const k of by) s.add(k);
        const r = x.before!;
        if (r.kind === 'route') addBarrier(s, `rules/${r.namespace}`, upRule.get(r.namespace), ruleRank);
      }
      continue;
    }
    const r = x.after!;
    for (const k of references(r, tcD)) {
      if (upKeys.has(k)) s.add(k);
      else if (pairedBy.has(k) && upKeys.has(pairedBy.get(k)!)) s.add(pairedBy.get(k)!); // comes back with its pair
    }
    if (r.kind === 'route') addBarrier(s, `addresses/${r.namespace}`, upAddr.get(r.namespace), addrRank);
    if (r.kind === 'rule') addBarrier(s, `routes/${r.namespace}`, upRoute.get(r.namespace), routeRank);
    if (x.createdBy !== undefined && upKeys.has(x.createdBy)) s.add(x.createdBy);
    // Setting the paired end's attributes needs what they name (its bridge).
    if (x.pairedPeer !== undefined) for (const k of references(x.pairedPeer, tcD)) if (k !== x.key && upKeys.has(k)) s.add(k);
    for (const k of runAfter.get(x.key) ?? []) if (k !== x.key && upKeys.has(k)) s.add(k);
    for (const k of runBefore.get(x.key) ?? []) if (k !== x.key && upKeys.has(k)) s.add(k);
    // A link joining a bridge waits for the replace of a macvlan live on it (moving elsewhere):
    // a macvlan parent cannot be a bridge port (EBUSY) while the macvlan is there.
    // (A replaced link takes its macvlans along; one staying on this link is refused by validation.)
    if (x.action === 'update' && isLink(r) && r.master !== undefined && r.master !== (x.before as { master?: string } | undefined)?.master) {
      for (const k of macvlansOn.get(linkKey(r.namespace, r.name)) ?? []) {
        const m = drafts.get(k)?.after;
        if (upKeys.has(k) && isLink(m) && m.macvlan?.parent !== r.name) busy.push([x.key, k]);
      }
    }
    // A passthru macvlan takes its parent's MAC when it comes up; a bridge has none (all-zero,
    // EADDRNOTAVAIL) while its ports are gone (deletes run first): it waits for ports joining.
    if ((x.action === 'create' || x.action === 'replace') && isLink(r) && r.macvlan?.mode === 'passthru') {
      for (const k of joining.get(linkKey(r.namespace, r.macvlan.parent)) ?? []) soft.push([x.key, k]);
    }
    // A macvlan's mtu is at most its parent's, a VXLAN's its dev's less its headers: on a bridge,
    // which follows its ports' lowest mtu (br_mtu_auto_adjust), a declared one may be reachable
    // only once a low-mtu port has left or grown. It waits for the ports' changes (else EINVAL,
    // as a name order would give).
    if (isLink(r) && r.mtu !== undefined && (x.action !== 'update' || x.fields.some((f) => f.field === 'mtu'))) {
      const lower = r.macvlan?.parent ?? r.vxlan?.dev;
      const ports = lower === undefined ? undefined : portsResized.get(linkKey(r.namespace, lower));
      for (const k of ports ?? []) if (k !== x.key) soft.push([x.key, k]);
    }
    // A (re)created object whose name is freed by a delete in this plan waits for that delete.
    if (x.action === 'create' || x.action === 'replace') {
      const names = [x.key];
      if (isLink(r) && r.veth?.primary) names.push(linkKey(r.veth.peer.namespace, r.veth.peer.name));
      for (const n of names) for (const d of freedBy.get(n) ?? []) s.add(d);
    }
  }

  // A VNI moved from one VXLAN to another: the one taking it waits for the one giving it up
  // (EEXIST otherwise). Two VXLANs swapping VNIs wait for each other: no order works, and the
  // plan is refused (apply/reconcile.ts, ownVniOrderClashes).
  busy.push(...vniWaits(ups));

  // A soft wait is added unless the awaited change itself needs the waiter (the new macvlan, or
  // a link replacing it, stacked on the joining link): that order is not possible, and the
  // kernel's answer at apply beats a plan refused for a cycle. The EBUSY waits first: a macvlan
  // moved off a link onto the bridge the link joins, in passthru mode, waits both for the link
  // to join and the link for it to leave; only the passthru wait can be met without (the
  // bridge has a MAC unless all its ports left, and then neither order works).
  // In key order within each kind: which of two waits that exclude each other is added must not
  // depend on the order the maps were filled in (the plan is a function of its input).
  for (const [a, b] of [...busy.sort(byPair), ...soft.sort(byPair)]) if (!reaches(deps, b, a)) deps.get(a)!.add(b);

  // Deletes: reversed — an object goes before what it refers to.
  const delMembers = new Map<string, string[]>();
  for (const x of dels) {
    const r = x.before!;
    for (const k of references(r, tcK)) if (delKeys.has(k)) deps.get(k)!.add(x.key);
    // A restore after the deletes it must follow (one writing a broadcast key back).
    for (const k of runAfter.get(x.key) ?? []) if (k !== x.key && delKeys.has(k)) deps.get(x.key)!.add(k);
    if (r.kind === 'route' || r.kind === 'rule') {
      pushTo(delMembers, `${r.kind}/${r.namespace}`, x.key);
    }
  }
  // Address deletes after the namespace's route deletes, route deletes after its rule deletes.
  for (const x of dels) {
    const r = x.before!;
    const ns = resourceNamespace(r);
    if (r.kind === 'address') addBarrier(deps.get(x.key)!, `deleted-routes/${ns}`, delMembers.get(`route/${ns}`), routeRank, true);
    if (r.kind === 'route') addBarrier(deps.get(x.key)!, `deleted-rules/${ns}`, delMembers.get(`rule/${ns}`), ruleRank, true);
  }

  // Ranks order the deletes only (creates are ordered by upOrder below).
  const rank = new Map(dels.map((x) => [x.key, KIND_RANK[x.kind]]));
  const byKey = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
  // Creates: namespaces and settings first; then links and addresses grouped by link (a bridge,
  // its ports, their addresses; see groupOf); then routes, rules, tc and BPF, kind by kind.
  // The sort keys are computed once per change (thousands of them, ~n log n comparisons).
  const linkRank = KIND_RANK.link;
  const upOrder = ups.map((x) => {
    const r = KIND_RANK[x.kind];
    return { key: x.key, rank: r, group: r >= linkRank && r <= addrRank ? groupOf(x.after!, desired) : undefined };
  });
  for (const [b, v] of barriers) if (!v.del) upOrder.push({ key: b, rank: v.rank, group: undefined });
  upOrder.sort((a, b) => (a.group !== undefined && b.group !== undefined ? byKey(a.group, b.group) : 0) || a.rank - b.rank || byKey(a.key, b.key));
  const upSorted = topoSort(
    upOrder.map((x) => x.key),
    deps,
  );
  for (const [b, v] of barriers) if (v.del) rank.set(b, v.rank);
  const delSorted = topoSort(
    [...dels.map((x) => x.key), ...[...barriers].filter(([, v]) => v.del).map(([b]) => b)],
    deps,
    (a, b) => rank.get(b)! - rank.get(a)! || byKey(a, b),
  );

  // What the handovers say: the create names the object it replaces, the delete its successors.
  const notes = new Map<string, string>();
  let seamless: Set<string> | undefined;
  for (const [k, by] of handed) {
    const old = drafts.get(k)!;
    const made = by.map((m) => drafts.get(m)!);
    const smooth = handoverSeamless(old.before!, made.map((m) => m.after!));
    const r = handoverReasons(old, made, smooth);
    notes.set(k, r.old);
    for (const m of by) notes.set(m, (notes.get(m) ?? '') + r.made);
    if (smooth) (seamless ??= new Set()).add(k);
  }

  // Built field by field in one order (not with conditional spreads): one object shape for
  // every change, thousands of them.
  const out: Change[] = [];
  for (const k of [...delSorted, ...upSorted]) {
    const x = drafts.get(k);
    if (x === undefined) continue; // a barrier
    const note = notes.size === 0 ? undefined : notes.get(k);
    const c: { -readonly [P in keyof Change]?: Change[P] } = {
      action: x.action,
      key: x.key,
      kind: x.kind,
      label: resourceLabel((x.after ?? x.before)!),
      reason: note === undefined ? x.reason : x.reason + note,
      fields: x.action === 'delete' ? [] : x.fields,
      disruptive: x.disruptive && !(seamless?.has(k) ?? false),
    };
    if (x.before && x.action !== 'create') c.before = x.before;
    if (x.after && x.action !== 'delete') c.after = x.after;
    const d = deps.get(k)!;
    c.dependsOn = d.size === 0 ? [] : listedDeps(d, barriers);
    if (x.createdBy !== undefined) c.createdBy = x.createdBy;
    if (x.pairedPeer !== undefined) c.pairedPeer = x.pairedPeer;
    if (x.restore) c.restore = x.restore;
    if (x.recorded && x.action === 'delete') c.recorded = x.recorded;
    out.push(c as Change);
  }
  return out;
}

/**
 * Bridge (live key) → the changes that take a live port of it away (replaced, or its master
 * changed) or change its mtu: the bridge's own mtu may rise after them.
 */
function portsLeavingOrResized(ups: readonly Draft[]): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const x of ups) {
    const b = x.before;
    if (!isLink(b) || b.master === undefined) continue;
    if (x.action === 'update' && !x.fields.some((f) => f.field === 'master' || f.field === 'mtu')) continue;
    pushTo(out, linkKey(b.namespace, b.master), x.key);
  }
  return out;
}

function byPair(p: readonly [string, string], q: readonly [string, string]): number {
  return p[0] < q[0] ? -1 : p[0] > q[0] ? 1 : p[1] < q[1] ? -1 : p[1] > q[1] ? 1 : 0;
}

/** Whether `to` is among what `from` needs, directly or not. */
function reaches(deps: ReadonlyMap<string, ReadonlySet<string>>, from: string, to: string): boolean {
  const seen = new Set<string>([from]);
  const stack = [from];
  while (stack.length > 0) {
    for (const k of deps.get(stack.pop()!) ?? []) {
      if (k === to) return true;
      if (!seen.has(k)) (seen.add(k), stack.push(k));
    }
  }
  return false;
}
