// The pure plan engine: desired vs live state → ordered, typed change list.
import { nsLabel, resourceLabel, resourceNamespace } from '../model/keys';
import type { LinkRes, Resource, ResourceKind, StateMap } from '../model/types';
import { KernelGraph } from './cascade';
import { declaredFields, diffResource, isImmutable } from './compare';
import { isIgnored, compileIgnore } from './ignore';
import { fmtScalar } from './format';
import { topoSort } from './order';
import { KIND_RANK, TcIndex, linkKey, references } from './refs';
import type { Change, ChangeAction, FieldChange, Inventory, Plan } from './types';

export interface PlanInput {
  readonly desired: StateMap;
  readonly current: StateMap;
  readonly inventory: Inventory;
  /** Link name globs (`*`, `?`): such links and everything on them are left out on both sides. */
  readonly ignore?: readonly string[];
  /**
   * Namespaces the current state was read from. When given, live objects in other namespaces
   * are left out entirely (not even counted as foreign) unless desired or in the inventory.
   */
  readonly managedNamespaces?: readonly string[];
}

interface Draft {
  action: ChangeAction;
  readonly key: string;
  readonly kind: ResourceKind;
  before?: Resource;
  after?: Resource;
  fields: FieldChange[];
  reason: string;
  disruptive: boolean;
  createdBy?: string;
  restore?: Resource;
  /** Re-enslave already added (keeps the fixpoint loop finite). */
  reenslaved?: boolean;
  /** The object's own fields force a replace (not a cascade). */
  ownReplace?: boolean;
}

/** Whether Voltron owns the live object `key`: declared now, or recorded by a previous apply. */
export function isOwned(key: string, r: Resource, input: PlanInput): boolean {
  if (isIgnored(r, compileIgnore(input.ignore ?? []))) return false;
  return input.desired.has(key) || Object.prototype.hasOwnProperty.call(input.inventory.owned, key);
}

/** Short reference for reasons: `link ovl-a/br0`, `namespace ovl-a`. */
function ref(r: Resource): string {
  if (r.kind === 'link') return `link ${nsLabel(r.namespace)}/${r.name}`;
  return resourceLabel(r);
}

function differReason(fields: readonly FieldChange[], r: Resource): string {
  const names = fields.map((f) => f.field);
  let s = names.length === 1 ? `${names[0]} differs` : `${names.slice(0, -1).join(', ')} and ${names[names.length - 1]} differ`;
  if (r.kind === 'route' && r.poolRef && names.some((n) => n.startsWith('encap'))) {
    s += ` (SRv6 pool ${r.poolRef.pool}, path ${r.poolRef.path})`;
  }
  return s;
}

function immutableReason(all: readonly FieldChange[]): string {
  // A type change explains everything else that differs.
  const type = all.find((f) => f.field === 'type');
  const imm = type ? [type] : all;
  if (imm.length === 1) {
    const f = imm[0]!;
    return `${f.field} is immutable (${fmtScalar(f.before)} → ${fmtScalar(f.after)})`;
  }
  const parts = imm.map((f) => `${f.field} (${fmtScalar(f.before)} → ${fmtScalar(f.after)})`);
  return imm.length <= 3 ? `${parts.slice(0, -1).join(', ')} and ${parts[parts.length - 1]} are immutable` : `${imm.map((f) => f.field).join(', ')} are immutable`;
}

const PLURAL: Readonly<Record<ResourceKind, [string, string]>> = {
  namespace: ['namespace', 'namespaces'],
  link: ['link', 'links'],
  address: ['address', 'addresses'],
  route: ['route', 'routes'],
  rule: ['rule', 'rules'],
  sysctl: ['sysctl', 'sysctls'],
  tunsrc: ['tunsrc setting', 'tunsrc settings'],
  qdisc: ['qdisc', 'qdiscs'],
  tclass: ['class', 'classes'],
  tfilter: ['filter', 'filters'],
  bpf: ['bpf program', 'bpf programs'],
};

function countText(kinds: readonly ResourceKind[]): string {
  const n = new Map<ResourceKind, number>();
  for (const k of kinds) n.set(k, (n.get(k) ?? 0) + 1);
  const parts = [...n]
    .sort((a, b) => KIND_RANK[a[0]] - KIND_RANK[b[0]])
    .map(([k, c]) => `${c} ${PLURAL[k][c === 1 ? 0 : 1]}`);
  return parts.length === 1 ? parts[0]! : `${parts.slice(0, -1).join(', ')} and ${parts[parts.length - 1]}`;
}

const isLink = (r: Resource | undefined): r is LinkRes => r?.kind === 'link';

export function computePlan(input: PlanInput): Plan {
  const match = compileIgnore(input.ignore ?? []);
  const desired = new Map<string, Resource>();
  for (const [k, r] of input.desired) if (!isIgnored(r, match)) desired.set(k, r);
  const owned = (k: string) => desired.has(k) || Object.prototype.hasOwnProperty.call(input.inventory.owned, k);
  const managed = input.managedNamespaces ? new Set(input.managedNamespaces) : undefined;

  // `kernel`: every live object in scope (owned and foreign); `current`: the owned ones.
  const kernel = new Map<string, Resource>();
  const current = new Map<string, Resource>();
  let foreignCount = 0;
  for (const [k, r] of input.current) {
    if (isIgnored(r, match)) continue;
    const own = owned(k);
    if (!own && managed && !managed.has(resourceNamespace(r))) continue;
    kernel.set(k, r);
    if (own) current.set(k, r);
    else foreignCount++;
  }

  const drafts = new Map<string, Draft>();
  /** key → replaces in this plan whose side effects remove the live object: it runs after them. */
  const runAfter = new Map<string, Set<string>>();
  /** Declared veth end deleted to free its name → the primary whose pair recreates it. */
  const pairedBy = new Map<string, string>();
  /** key → objects that must be replaced before this replace removes their live version. */
  const runBefore = new Map<string, Set<string>>();
  const add = (m: Map<string, Set<string>>, k: string, v: string) => {
    const set = m.get(k);
    if (set) set.add(v);
    else m.set(k, new Set([v]));
  };
  for (const key of [...new Set([...desired.keys(), ...current.keys()])].sort()) {
    const d = desired.get(key);
    const c = current.get(key);
    const dr = d ? (c ? changeDraft(key, d, c) : createDraft(key, d, 'not present in the kernel')) : deleteDraft(key, c!, input.inventory);
    if (dr) drafts.set(key, dr);
  }

  /** The changes the diff alone asks for, before cascades rewrite some of them. */
  const base = new Map(drafts);
  const graph = new KernelGraph(kernel);
  const removedCache = new Map<string, Map<string, string>>();
  const removedWith = (k: string) => {
    let m = removedCache.get(k);
    if (!m) removedCache.set(k, (m = graph.removedWith(k)));
    return m;
  };
  /** Changes after which the kernel object no longer exists: deletes and self-executed replaces. */
  const isRemover = (x: Draft) => x.action === 'delete' || (x.action === 'replace' && x.createdBy === undefined);

  const primaryOf = (s: LinkRes): LinkRes | undefined => {
    if (!s.veth || s.veth.primary) return undefined;
    const p = desired.get(linkKey(s.veth.peer.namespace, s.veth.peer.name));
    return isLink(p) && p.veth?.primary && p.veth.peer.name === s.name && p.veth.peer.namespace === s.namespace ? p : undefined;
  };
  const pairing = (x: Draft | undefined) => x !== undefined && (x.action === 'create' || x.action === 'replace');

  // A veth pair is created by its primary end only: whenever one end must be recreated, so is
  // the pair, and the secondary's change only sets its own attributes (createdBy).
  const coupleVeths = (): boolean => {
    let changed = false;
    for (const [sk, s] of desired) {
      if (!isLink(s)) continue;
      const p = primaryOf(s);
      if (!p) continue;
      const pk = linkKey(p.namespace, p.name);
      const sd = drafts.get(sk);
      let pd = drafts.get(pk);
      if (sd?.action === 'replace' && sd.createdBy === undefined && !pairing(pd)) {
        pd = recreate(pk, p, `recreated with its veth peer ${ref(s)}`, pd);
        pd.action = 'replace';
        drafts.set(pk, pd);
        changed = true;
      }
      if (!pairing(pd) || sd?.createdBy === pk) continue;
      const live = current.get(sk);
      if (live && !goneBefore(sk, pk)) {
        // The name is held by an object the pair's creation would not remove: free it first; the
        // pair recreates this end with default attributes, set by the next apply.
        pairedBy.set(sk, pk);
        if (sd?.action !== 'delete') {
          drafts.set(sk, {
            action: 'delete',
            key: sk,
            kind: 'link',
            before: live,
            fields: [],
            reason: `its name is taken: removed so that ${ref(p)} can create its veth pair (attributes follow on the next apply)`,
            disruptive: true,
          });
          changed = true;
        }
        continue;
      }
      drafts.set(sk, {
        action: live ? 'replace' : 'create',
        key: sk,
        kind: 'link',
        after: s,
        ...(live ? { before: live } : {}),
        fields: declaredFields(s),
        reason: live
          ? sd && sd.action !== 'create'
            ? `${sd.reason}; recreated with its veth peer ${ref(p)}`
            : `recreated with its veth peer ${ref(p)}`
          : `created with its veth peer ${ref(p)}`,
        disruptive: live !== undefined,
        createdBy: pk,
      });
      changed = true;
    }
    return changed;
  };

  /** Whether the live object `sk` is gone before the change `pk` creates its replacement. */
  const goneBefore = (sk: string, pk: string): boolean => {
    const pd = drafts.get(pk);
    if (pd?.action === 'replace' && removedWith(pk).has(sk)) return true;
    for (const x of drafts.values()) if (x.action === 'delete' && x.key !== sk && removedWith(x.key).has(sk)) return true;
    return false;
  };

  const recreate = (key: string, d: Resource, why: string, prev: Draft | undefined): Draft => ({
    action: 'create',
    key,
    kind: d.kind,
    after: d,
    ...(current.has(key) ? { before: current.get(key)! } : {}),
    fields: declaredFields(d),
    reason: prev ? `${why}; ${prev.reason}` : why,
    disruptive: true,
  });

  // Whether desired `from` needs desired `to` first (transitively), i.e. `to` runs before `from`.
  const tcD = new TcIndex(desired);
  const reachCache = new Map<string, Set<string>>();
  const needs = (from: string, to: string): boolean => {
    let seen = reachCache.get(from);
    if (!seen) {
      seen = new Set<string>();
      const stack = [from];
      while (stack.length > 0) {
        const r = desired.get(stack.pop()!);
        if (!r) continue;
        for (const k of references(r, tcD)) if (!seen.has(k)) (seen.add(k), stack.push(k));
      }
      reachCache.set(from, seen);
    }
    return seen.has(to);
  };

  // Declared objects the kernel removes as a side effect of another change (a delete, or the
  // delete half of a replace) must be recreated after it. If that change needs the object (a
  // bridge that a replaced port is enslaved to), the object is instead replaced by itself before.
  const recreateRemoved = (): boolean => {
    let changed = false;
    runAfter.clear();
    runBefore.clear();
    // A delete folded into another change happens when that change runs, not in the delete phase.
    const { folded } = foldableDeletes(drafts, removedWith);
    const roots = [...drafts.values()].filter((x) => isRemover(x) && !folded.has(x.key)).sort((a, b) => (a.key < b.key ? -1 : 1));
    const removers = new Map<string, Draft[]>();
    for (const root of roots) {
      for (const k of removedWith(root.key).keys()) {
        if (!desired.has(k)) continue;
        const l = removers.get(k);
        if (l) l.push(root);
        else removers.set(k, [root]);
      }
    }
    for (const k of [...removers.keys()].sort()) {
      const rs = removers.get(k)!;
      const d = desired.get(k)!;
      const dr = drafts.get(k);
      const b = base.get(k);
      if (dr?.createdBy !== undefined) continue;
      if (isLink(d) && primaryOf(d)) continue; // the pair is recreated by its primary (coupleVeths)
      const early = rs.some((r) => r.action === 'delete'); // deletes run before every create
      const needers = early ? [] : rs.filter((r) => needs(r.key, k));
      if (needers.length > 0) {
        for (const r of rs) if (!needers.includes(r)) add(runBefore, r.key, k);
        if (dr?.action === 'replace') continue;
        const why = `replaced before ${ref(needers[0]!.after!)} is recreated, which would remove it`;
        drafts.set(k, b?.ownReplace ? b : { ...recreate(k, d, why, b), action: 'replace', before: current.get(k)! });
        changed = true;
        continue;
      }
      if (!early) for (const r of rs) add(runAfter, k, r.key);
      if (dr?.action === 'create') continue;
      const cause = graph.get(removedWith(rs[0]!.key).get(k)!)!;
      const why = d.kind === 'bpf' ? `re-attached: ${ref(cause)} is recreated` : `recreated with ${ref(cause)}`;
      drafts.set(k, recreate(k, d, why, b));
      changed = true;
    }
    return changed;
  };

  // Ports of a recreated bridge must be enslaved again (the kernel released them, and dropped
  // their bridge VLANs with the membership).
  const reenslave = (): boolean => {
    let changed = false;
    for (const [lk, l] of desired) {
      if (!isLink(l) || l.master === undefined || !current.has(lk)) continue;
      const mk = linkKey(l.namespace, l.master);
      const md = drafts.get(mk);
      if (!md || !(md.action === 'replace' || (md.action === 'create' && current.has(mk)))) continue;
      const ld = drafts.get(lk);
      if (ld && (ld.action !== 'update' || ld.reenslaved)) continue;
      const why = `re-enslave after ${ref(md.after!)} is recreated`;
      const extra: FieldChange[] = [{ field: 'master', before: undefined, after: l.master }];
      if (l.vlans !== undefined) extra.push({ field: 'vlans', before: undefined, after: l.vlans });
      const keep = (ld?.fields ?? []).filter((f) => !extra.some((e) => e.field === f.field));
      drafts.set(lk, {
        action: 'update',
        key: lk,
        kind: 'link',
        before: current.get(lk)!,
        after: l,
        fields: [...keep, ...extra].sort((a, b) => (a.field < b.field ? -1 : a.field > b.field ? 1 : 0)),
        reason: ld ? `${ld.reason}; ${why}` : why,
        disruptive: true,
        reenslaved: true,
      });
      changed = true;
    }
    return changed;
  };

  // Everything declared inside a namespace created in this plan is created with it.
  const freshNamespaces = (): boolean => {
    let changed = false;
    for (const nd of [...drafts.values()]) {
      if (nd.kind !== 'namespace' || !pairing(nd)) continue;
      const ns = (nd.after as { name: string }).name;
      for (const [k, r] of desired) {
        if (r.kind === 'namespace' || resourceNamespace(r) !== ns || !current.has(k)) continue;
        const dr = drafts.get(k);
        if (dr && (pairing(dr) || dr.createdBy !== undefined)) continue;
        if (isLink(r) && primaryOf(r)) continue;
        drafts.set(k, recreate(k, r, `recreated with namespace ${ns}`, dr));
        changed = true;
      }
    }
    return changed;
  };

  for (let round = 0; ; round++) {
    if (round > 4 * (drafts.size + desired.size) + 8) throw new Error('plan: cascade did not converge (internal error)');
    let changed = coupleVeths();
    changed = recreateRemoved() || changed;
    changed = reenslave() || changed;
    changed = freshNamespaces() || changed;
    if (!changed) break;
  }

  foldKernelRemovals(drafts, removedWith);

  return { changes: order(drafts, desired, kernel, removedWith, runAfter, runBefore, pairedBy), foreignCount };
}

function createDraft(key: string, d: Resource, reason: string): Draft {
  const pool = d.kind === 'route' && d.poolRef ? ` (SRv6 pool ${d.poolRef.pool}, path ${d.poolRef.path})` : '';
  return { action: 'create', key, kind: d.kind, after: d, fields: declaredFields(d), reason: reason + pool, disruptive: false };
}

function changeDraft(key: string, d: Resource, c: Resource): Draft | undefined {
  let fields = diffResource(d, c);
  if (fields.length === 0) return undefined;
  const imm = fields.filter((f) => isImmutable(d.kind, f.field));
  if (imm.length > 0) {
    return { action: 'replace', key, kind: d.kind, before: c, after: d, fields, reason: immutableReason(imm), disruptive: true, ownReplace: true };
  }
  let disruptive = false;
  let reason = differReason(fields, d);
  if (d.kind === 'link' && c.kind === 'link') {
    const masterChanges = fields.some((f) => f.field === 'master');
    // Leaving or joining a bridge flushes the port's VLANs: re-apply declared ones.
    if (masterChanges && d.vlans !== undefined && !fields.some((f) => f.field === 'vlans')) {
      fields = [...fields, { field: 'vlans', before: c.vlans, after: d.vlans }].sort((a, b) => (a.field < b.field ? -1 : 1));
      reason += ' (the move flushes its VLANs: set again)';
    }
    disruptive = masterChanges || (c.state === 'up' && d.state === 'down');
  }
  return { action: 'update', key, kind: d.kind, before: c, after: d, fields, reason, disruptive };
}

function deleteDraft(key: string, c: Resource, inv: Inventory): Draft | undefined {
  if (c.kind === 'sysctl' || c.kind === 'tunsrc') {
    // These always exist in the kernel: "delete" restores the value found before the first apply.
    const orig = inv.original[key];
    const now = c.kind === 'sysctl' ? c.value : c.address;
    if (orig === undefined || orig === now) return undefined;
    const restore: Resource = c.kind === 'sysctl' ? { ...c, value: orig } : { ...c, address: orig };
    return {
      action: 'delete',
      key,
      kind: c.kind,
      before: c,
      fields: [],
      reason: `no longer declared: restore original value ${fmtScalar(orig)}`,
      disruptive: true,
      restore,
    };
  }
  return { action: 'delete', key, kind: c.kind, before: c, fields: [], reason: 'no longer declared (owned since a previous apply)', disruptive: true };
}

/** Deletes the kernel already performs as a side effect of another delete or replace. */
function foldableDeletes(drafts: ReadonlyMap<string, Draft>, removedWith: (k: string) => Map<string, string>): { roots: Draft[]; folded: Set<string>; removedBy: Map<string, Draft[]> } {
  const roots = [...drafts.values()].filter((x) => x.action === 'delete' || (x.action === 'replace' && x.createdBy === undefined));
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
function foldKernelRemovals(drafts: Map<string, Draft>, removedWith: (k: string) => Map<string, string>): void {
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

function order(
  drafts: Map<string, Draft>,
  desired: StateMap,
  kernel: StateMap,
  removedWith: (k: string) => Map<string, string>,
  runAfter: ReadonlyMap<string, ReadonlySet<string>>,
  runBefore: ReadonlyMap<string, ReadonlySet<string>>,
  pairedBy: ReadonlyMap<string, string>,
): Change[] {
  const all = [...drafts.values()];
  const ups = all.filter((x) => x.action !== 'delete');
  const dels = all.filter((x) => x.action === 'delete');
  const deps = new Map<string, Set<string>>(all.map((x) => [x.key, new Set<string>()]));
  const upKeys = new Set(ups.map((x) => x.key));
  const delKeys = new Set(dels.map((x) => x.key));

  const byNs = (list: Draft[], kind: ResourceKind, side: 'after' | 'before') => {
    const m = new Map<string, string[]>();
    for (const x of list) {
      const r = x[side]!;
      if (r.kind !== kind) continue;
      const ns = resourceNamespace(r);
      const l = m.get(ns);
      if (l) l.push(x.key);
      else m.set(ns, [x.key]);
    }
    return m;
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
  const tcD = new TcIndex(desired);
  const upAddr = byNs(ups, 'address', 'after');
  const upRoute = byNs(ups, 'route', 'after');
  for (const x of ups) {
    const r = x.after!;
    const s = deps.get(x.key)!;
    for (const k of references(r, tcD)) {
      if (upKeys.has(k)) s.add(k);
      else if (pairedBy.has(k) && upKeys.has(pairedBy.get(k)!)) s.add(pairedBy.get(k)!); // comes back with its pair
    }
    if (r.kind === 'route') for (const k of upAddr.get(r.namespace) ?? []) s.add(k);
    if (r.kind === 'rule') for (const k of upRoute.get(r.namespace) ?? []) s.add(k);
    if (x.createdBy !== undefined && upKeys.has(x.createdBy)) s.add(x.createdBy);
    for (const k of runAfter.get(x.key) ?? []) if (k !== x.key && upKeys.has(k)) s.add(k);
    for (const k of runBefore.get(x.key) ?? []) if (k !== x.key && upKeys.has(k)) s.add(k);
    // A (re)created object whose name is freed by a delete in this plan waits for that delete.
    if (x.action === 'create' || x.action === 'replace') {
      const names = [x.key];
      if (isLink(r) && r.veth?.primary) names.push(linkKey(r.veth.peer.namespace, r.veth.peer.name));
      for (const n of names) for (const d of freedBy.get(n) ?? []) s.add(d);
    }
  }

  // Deletes: reversed — an object goes before what it refers to.
  const tcK = new TcIndex(kernel);
  const delAddr = byNs(dels, 'address', 'before');
  const delRoute = byNs(dels, 'route', 'before');
  for (const x of dels) {
    const r = x.before!;
    for (const k of references(r, tcK)) if (delKeys.has(k)) deps.get(k)!.add(x.key);
    if (r.kind === 'route') for (const k of delAddr.get(r.namespace) ?? []) deps.get(k)!.add(x.key);
    if (r.kind === 'rule') for (const k of delRoute.get(r.namespace) ?? []) deps.get(k)!.add(x.key);
  }

  const cmpKey = (a: string, b: string) => a < b;
  const upSorted = topoSort(
    ups.map((x) => x.key),
    deps,
    (a, b) => {
      const ra = KIND_RANK[drafts.get(a)!.kind];
      const rb = KIND_RANK[drafts.get(b)!.kind];
      return ra !== rb ? ra < rb : cmpKey(a, b);
    },
  );
  const delSorted = topoSort(
    dels.map((x) => x.key),
    deps,
    (a, b) => {
      const ra = KIND_RANK[drafts.get(a)!.kind];
      const rb = KIND_RANK[drafts.get(b)!.kind];
      return ra !== rb ? ra > rb : cmpKey(a, b);
    },
  );

  return [...delSorted, ...upSorted].map((k) => {
    const x = drafts.get(k)!;
    const c: Change = {
      action: x.action,
      key: x.key,
      kind: x.kind,
      label: resourceLabel((x.after ?? x.before)!),
      reason: x.reason,
      fields: x.action === 'delete' ? [] : x.fields,
      disruptive: x.disruptive,
      ...(x.before && x.action !== 'create' ? { before: x.before } : {}),
      ...(x.after && x.action !== 'delete' ? { after: x.after } : {}),
      dependsOn: [...deps.get(k)!].sort(),
      ...(x.createdBy !== undefined ? { createdBy: x.createdBy } : {}),
      ...(x.restore ? { restore: x.restore } : {}),
    };
    return c;
  });
}
