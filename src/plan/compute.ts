// The pure plan engine: desired vs live state → ordered, typed change list.
// Steps: per-object drafts (drafts.ts) → cascades to a fixpoint (veth pairs, objects the kernel
// removes with a replaced/deleted link or namespace, re-enslaving, seg6local oifs set again) →
// folding (fold.ts) → order.
import { resourceKey, resourceLabel, resourceNamespace } from '../model/keys';
import { CLSACT_DEFAULT_PRIORITY, type LinkRes, type Resource, type RouteRes, type StateMap } from '../model/types';
import { pinBridgeMacs, pinBridgeMtus } from './bridge-mtu';
import { rewriteIpv6MtuAfterLinks } from './ipv6-mtu';
import { ipv6OffCollateral, readdAfterIpv6Off } from './ipv6-off';
import { resetSrcAfterAddressDeletes } from './ipv6-prefsrc';
import { reresolveGateways } from './gateway-dev';
import { strippedCollateral } from './stripping';
import { seg6MtuGaps, type LiveSysctl } from './seg6-mtu';
import { sharedSubnets } from './shared-subnet';
import { rewriteAfterBroadcasts } from './sysctl-all';
import { orderPairWrites } from './sysctl-pairs';
import { KernelGraph } from './cascade';
import { declaredFields } from './compare';
import { changeDraft, createDraft, deleteDraft, isLink, ref, type Draft } from './drafts';
import { foldKernelRemovals, foldableDeletes } from './fold';
import { adoptedRouteMoves, protoName } from './handover';
import { compileIgnore, isIgnored } from './ignore';
import { TcIndex, linkKey, references } from './refs';
import { schedule } from './schedule';
import { removesLive, type Change, type FieldChange, type Inventory, type Plan } from './types';

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
  /** Live sysctls the config does not declare (whether a namespace forwards: seg6MtuGaps). */
  readonly liveSysctl?: LiveSysctl;
}

/** Whether Voltron owns the live object `key`: declared now, or recorded by a previous apply. */
export function isOwned(key: string, r: Resource, input: PlanInput): boolean {
  if (isIgnored(r, compileIgnore(input.ignore ?? []))) return false;
  return input.desired.has(key) || Object.prototype.hasOwnProperty.call(input.inventory.owned, key);
}

export function computePlan(input: PlanInput): Plan {
  const patterns = input.ignore ?? [];
  const match = compileIgnore(patterns);
  const ignored = patterns.length === 0 ? () => false : (r: Resource) => isIgnored(r, match);
  const desired = new Map<string, Resource>();
  for (const [k, r] of input.desired) if (!ignored(r)) desired.set(k, r);
  // An adopted route whose metric or table the config changed moves: made anew with its protocol,
  // the old one deleted (as if owned) after it.
  const moves = adoptedRouteMoves(desired, input.current, input.inventory);
  for (const [ok, nk] of moves) {
    const d = desired.get(nk)!;
    if (!input.current.has(nk)) desired.set(nk, { ...d, protocol: (input.current.get(ok) as RouteRes).protocol } as Resource);
  }
  const owned = (k: string) => desired.has(k) || Object.prototype.hasOwnProperty.call(input.inventory.owned, k) || moves.has(k);
  const managed = input.managedNamespaces ? new Set(input.managedNamespaces) : undefined;

  // `kernel`: every live object in scope (owned and foreign); `current`: the owned ones.
  const kernel = new Map<string, Resource>();
  const current = new Map<string, Resource>();
  let foreignCount = 0;
  /** Ignored live objects: outside the plan, but the kernel may remove them with what it changes. */
  const ignoredLive = new Map<string, Resource>();
  const ofPrograms = programTcObjects(input.current);
  for (const [k, r] of input.current) {
    // Part of a live program: the kernel removing them with their link is the program's
    // re-attach, not a foreign loss.
    if (ofPrograms.has(k) && !owned(k)) continue;
    if (ignored(r)) {
      if (!managed || managed.has(resourceNamespace(r))) ignoredLive.set(k, r);
      continue;
    }
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

  for (const [ok, nk] of moves) moveReasons(drafts, ok, nk);

  /** The changes the diff alone asks for, before cascades rewrite some of them. */
  const base = new Map(drafts);
  const deletedAddresses = new Set([...drafts.values()].filter((x) => x.kind === 'address' && x.action === 'delete').map((x) => x.key));
  const graph = new KernelGraph(kernel, deletedAddresses);
  const removedCache = new Map<string, Map<string, string>>();
  const removedWith = (k: string) => {
    let m = removedCache.get(k);
    if (!m) removedCache.set(k, (m = graph.removedWith(k)));
    return m;
  };

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
        // pair recreates this end, and the primary's change sets its attributes (pairedPeer).
        pairedBy.set(sk, pk);
        if (sd?.action !== 'delete') {
          drafts.set(sk, {
            action: 'delete',
            key: sk,
            kind: 'link',
            before: live,
            fields: [],
            reason: `its name is taken: removed so that ${ref(p)} can create its veth pair (which brings it back)`,
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
    const roots = [...drafts.values()].filter((x) => removesLive(x) && !folded.has(x.key)).sort((a, b) => (a.key < b.key ? -1 : 1));
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
      const causeKey = removedWith(rs[0]!.key).get(k)!;
      const cause = graph.get(causeKey)!;
      // An undeclared cause (a clsact qdisc dropped from the config) goes for good.
      const fate = desired.has(causeKey) ? 'is recreated' : 'is removed';
      const why = d.kind === 'bpf' ? `re-attached: ${ref(cause)} ${fate}` : `recreated with ${ref(cause)}`;
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

  // A seg6local route holds its `oif` (End.DX2) as an ifindex: the kernel neither removes nor
  // re-points the route when that link goes, so it is written again once the link is recreated
  // (a change of the route itself writes it whole anyway).
  const repointOifs = (): boolean => {
    let changed = false;
    for (const [rk, r] of desired) {
      if (r.kind !== 'route' || r.encap?.type !== 'seg6local' || r.encap.oif === undefined || drafts.has(rk) || !current.has(rk)) continue;
      const lk = linkKey(r.namespace, r.encap.oif);
      const ld = drafts.get(lk);
      if (!pairing(ld) || !current.has(lk)) continue;
      drafts.set(rk, {
        action: 'update',
        key: rk,
        kind: 'route',
        before: current.get(rk)!,
        after: r,
        fields: [{ field: 'encap.oif', before: undefined, after: r.encap.oif }],
        reason: `set again after ${ref(ld!.after!)} is recreated: the kernel keeps the old link's ifindex as its oif`,
        disruptive: true,
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
    changed = repointOifs() || changed;
    changed = freshNamespaces() || changed;
    if (!changed) break;
  }

  // A secondary end deleted to free its name comes back with its pair: the primary sets its attributes.
  for (const [sk, pk] of pairedBy) {
    const pd = drafts.get(pk);
    const s = desired.get(sk);
    if (!pairing(pd) || drafts.get(sk)?.action !== 'delete' || !isLink(s)) continue;
    pd!.pairedPeer = s;
    pd!.reason += `; sets the attributes of ${ref(s)}, which the pair brings back`;
  }

  pinBridgeMtus(drafts, desired, current);
  pinBridgeMacs(drafts, desired, current);
  rewriteAfterBroadcasts(drafts, desired, current, runAfter, input.inventory.original);
  orderPairWrites(drafts, runAfter);
  rewriteIpv6MtuAfterLinks(drafts, desired, current, runAfter);
  readdAfterIpv6Off(drafts, desired, current, runAfter);
  foldKernelRemovals(drafts, removedWith);
  resetSrcAfterAddressDeletes(drafts, desired, kernel, runAfter);
  reresolveGateways(drafts, desired, current, patterns.length > 0);

  const changes = markDeclaredClsact(schedule(drafts, desired, kernel, removedWith, runAfter, runBefore, pairedBy), desired);
  const removed = collateral(changes, kernel, ignoredLive, owned, removedWith);
  const gone = new Set(removed.map((x) => x.key));
  // Gone without a delete too: IPv6 objects with all.disable_ipv6; what goes through a link set down
  // or whose mtu turns IPv6 off.
  // By key: these are found walking the live state, whose order is the maps' (not the plan's).
  const alsoGone = [...ipv6OffCollateral(changes, kernel, ignoredLive, owned), ...strippedCollateral(changes, kernel, ignoredLive, owned)].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  for (const x of alsoGone) {
    if (gone.has(x.key)) continue;
    gone.add(x.key);
    removed.push({ ...x, listed: !kernelMade(x.r) });
  }
  const released = releasedPorts(changes, kernel, ignoredLive, owned, new Set(removed.map((x) => x.key)));
  const untouched = foreignCount - [...removed, ...released].filter((x) => !x.ignored).length;
  const listed = removed.filter((x) => x.listed).map((x) => x.text);
  // Every live link counts (a foreign uplink feeds a route as well as a declared veth).
  const gaps = seg6MtuGaps(desired, kernel, input.liveSysctl);
  // A live address stays unless the plan deletes it (owned, no longer declared) or the kernel does.
  const deleted = new Set(changes.filter((c) => c.action === 'delete').map((c) => c.key));
  const subnets = sharedSubnets(desired, kernel, (k) => !deleted.has(k) && !gone.has(k));
  return {
    changes,
    foreignCount: untouched,
    ...(listed.length === 0 ? {} : { foreignRemoved: listed }),
    ...(released.length === 0 ? {} : { foreignReleased: released.map((x) => x.text) }),
    ...(gaps.length === 0 ? {} : { seg6MtuGaps: gaps }),
    ...(subnets.length === 0 ? {} : { sharedSubnets: subnets }),
  };
}

/** What a move of an adopted route (adoptedRouteMoves) says, on its create and on its delete. */
function moveReasons(drafts: Map<string, Draft>, oldKey: string, newKey: string): void {
  const old = drafts.get(oldKey);
  const made = drafts.get(newKey);
  if (old?.action !== 'delete') return;
  const was = old.before as RouteRes;
  const proto = `proto ${protoName(was.protocol!)}`;
  const to = made?.after ?? made?.before;
  if (made?.action === 'create' && made.before === undefined) {
    made.fields = made.fields.filter((f) => f.field !== 'protocol');
    made.reason += `: the declared ${resourceLabel(was)} moves here (its metric or table changed), keeping its protocol (${proto}), there before Voltron`;
  }
  const where = to ? resourceLabel(to) : newKey;
  const interrupted = made?.action !== 'create' ? ', already there (a move interrupted after its create)' : '';
  old.reason = `the declared route moved to ${where}${interrupted}; there before Voltron (${proto}), it is deleted by its full spec, its protocol included, not released`;
}

/**
 * The tc filter a live clsact bpf program runs in (same place, same program tag), and the clsact
 * qdisc on its device: what its attach made (a clsact the config declares is owned anyway; as
 * for `show`, an undeclared one there counts as the attach's).
 */
function programTcObjects(state: StateMap): Set<string> {
  const out = new Set<string>();
  for (const r of state.values()) {
    if (r.kind !== 'bpf' || r.attach.type !== 'clsact' || r.attach.dev === undefined || r.tag === undefined) continue;
    const a = r.attach;
    const ns = a.namespace ?? '';
    const filter = resourceKey({ kind: 'tfilter', namespace: ns, dev: a.dev!, direction: a.direction!, priority: a.priority ?? CLSACT_DEFAULT_PRIORITY, program: r.name });
    const live = state.get(filter);
    if (live?.kind !== 'tfilter' || live.tag !== r.tag) continue;
    out.add(filter);
    out.add(resourceKey({ kind: 'qdisc', namespace: ns, dev: a.dev!, parent: 'clsact', qdisc: 'clsact', options: {} }));
  }
  return out;
}

/** See Change.clsactDeclared. */
function markDeclaredClsact(changes: Change[], desired: ReadonlyMap<string, Resource>): Change[] {
  return changes.map((c) => {
    const b = c.before;
    if ((c.action !== 'delete' && c.action !== 'replace') || b?.kind !== 'bpf' || b.attach.type !== 'clsact' || b.attach.dev === undefined) return c;
    const clsact = resourceKey({ kind: 'qdisc', namespace: b.attach.namespace ?? '', dev: b.attach.dev, parent: 'clsact', qdisc: 'clsact', options: {} });
    return desired.has(clsact) ? { ...c, clsactDeclared: true } : c;
  });
}

/**
 * Links Voltron does not own that are ports of a bridge the plan deletes or recreates (and that
 * do not go themselves): the kernel releases them, and nothing enslaves them again.
 */
function releasedPorts(
  changes: readonly Change[],
  kernel: ReadonlyMap<string, Resource>,
  ignoredLive: ReadonlyMap<string, Resource>,
  owned: (k: string) => boolean,
  removed: ReadonlySet<string>,
): { key: string; text: string; ignored: boolean }[] {
  const bridges = new Map<string, Change>();
  for (const c of changes) {
    const b = c.before;
    if (removesLive(c) && b?.kind === 'link' && b.type === 'bridge') bridges.set(linkKey(b.namespace, b.name), c);
  }
  if (bridges.size === 0) return [];
  const out: { key: string; text: string; ignored: boolean }[] = [];
  for (const live of [kernel, ignoredLive]) {
    for (const [k, r] of live) {
      if (r.kind !== 'link' || r.master === undefined || removed.has(k)) continue;
      const isIgnored = live === ignoredLive;
      if (!isIgnored && owned(k)) continue;
      const c = bridges.get(linkKey(r.namespace, r.master));
      if (c) out.push({ key: k, text: `${resourceLabel(r)}${isIgnored ? ' [ignored]' : ''} (from ${c.label})`, ignored: isIgnored });
    }
  }
  return out.sort((a, b) => (a.text < b.text ? -1 : a.text > b.text ? 1 : 0));
}

/** The rules every namespace starts with: `from all lookup local|main|default`. */
const DEFAULT_RULES: ReadonlyMap<number, number> = new Map([
  [0, 255],
  [32766, 254],
  [32767, 253],
]);

/**
 * What the kernel makes and removes by itself with its container: a namespace's loopback, its
 * addresses and default rules; IPv6 link-local addresses.
 */
function kernelMade(r: Resource): boolean {
  if (r.kind === 'link') return r.name === 'lo';
  if (r.kind === 'rule') {
    const plain = r.from === undefined && r.to === undefined && r.fwmark === undefined && r.iif === undefined && r.oif === undefined;
    return plain && r.action === 'lookup' && DEFAULT_RULES.get(r.priority) === r.table;
  }
  if (r.kind !== 'address') return false;
  return /^fe[89ab][0-9a-f]:/i.test(r.address) || (r.dev === 'lo' && (r.address === '127.0.0.1/8' || r.address === '::1/128'));
}

/**
 * A veth end whose peer lives in a namespace the plan does not read (another container's, the
 * host's outside a sandbox): the kernel deletes the peer with it, and only this can name it.
 */
function unseenPeer(r: Resource): string {
  return r.kind === 'link' && r.veth?.peer.namespace === '?' ? '; its veth peer, in a namespace Voltron does not read, goes too' : '';
}

/**
 * Live objects Voltron does not own that go with the plan's deletes and replaces: a plan must
 * say so rather than count them as "left untouched".
 */
function collateral(
  changes: readonly Change[],
  kernel: ReadonlyMap<string, Resource>,
  ignoredLive: ReadonlyMap<string, Resource>,
  owned: (k: string) => boolean,
  removedWith: (k: string) => Map<string, string>,
): { key: string; text: string; ignored: boolean; listed: boolean }[] {
  const removers = changes.filter(removesLive);
  if (removers.length === 0) return [];
  // Ignored objects are outside the plan's graph: only then is a graph with them needed.
  const all = ignoredLive.size === 0 ? kernel : new Map([...kernel, ...ignoredLive]);
  const deletedAddresses = new Set(changes.filter((c) => c.kind === 'address' && c.action === 'delete').map((c) => c.key));
  const withIgnored = ignoredLive.size === 0 ? undefined : new KernelGraph(all, deletedAddresses);
  const removedWithAll = withIgnored ? (k: string) => withIgnored.removedWith(k) : removedWith;
  const seen = new Set<string>();
  const out: { key: string; text: string; ignored: boolean; listed: boolean }[] = [];
  for (const c of removers) {
    for (const k of [...removedWithAll(c.key).keys()].sort()) {
      const r = all.get(k)!;
      const isIgnored = ignoredLive.has(k);
      if (seen.has(k) || (!isIgnored && owned(k))) continue;
      seen.add(k);
      const listed = !kernelMade(r);
      out.push({ key: k, text: `${resourceLabel(r)}${isIgnored ? ' [ignored]' : ''} (with ${c.label}${unseenPeer(r)})`, ignored: isIgnored, listed });
    }
  }
  return out;
}
