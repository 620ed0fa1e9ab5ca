// The reconcile pipeline shared by every command: read live state for what matters,
// plan (pure), guard, execute in order with a journal, verify by re-reading.
import { nsLabel, resourceKey, resourceLabel, resourceNamespace } from '../model/keys';
import { VOLTRON_RTPROT, vxlanIsV6, type DesiredState, type LinkRes, type NamespaceRes, type QdiscRes, type Resource, type ResourceKind, type RouteRes, type StateMap } from '../model/types';
import { computePlan } from '../plan';
import { bridgesWithPortChanges } from '../plan/bridge-mtu';
import { removesLive, type Change, type Inventory, type Plan } from '../plan/types';
import { strippingUpdates } from '../plan/stripping';
import { readState, setAside } from '../kernel/read';
import type { KernelSession } from '../kernel/session';
import { createRefused, executeChange, failedHalfDone } from './execute';
import { InventoryBuilder, settingValue } from './inventory';
import { capabilityErrors } from './preflight';
import { missingHostDeviceProblems } from './host-devices';
import { hasKeySelector } from '../kernel/route';
import { rootRouteProblems } from './root-routes';
import { bpfMapResetProblems, enrichDesiredBpf, foreignBpfDirProblems, foreignClsactFilterProblems, missingBpfObjectProblems } from '../kernel/bpf';
import { classesInUse, filtersLostToRecreate, removedForeignFilters } from '../kernel/tc/foreign';
import { mark } from '../util/timing';
import { visible } from '../util/visible';
import { rangeItem, subtractRanges, type Range } from '../util/ranges';
import { sourceWhere } from '../config/positions';
import { faultAfter, faultAt, faultBefore, faultBetween, faultFromEnv, faultSkips } from './faults';
import { PipelineFailed, type NetlinkPipeline, type PipelineFailure } from '../kernel/netlink/pipeline';
import { NetlinkError, setRequestSink } from '../kernel/netlink/socket';
import { isIndexRace } from '../kernel/link';
import { readSysctls, sysctlAccess, refusedSysctlValues } from '../kernel/sysctl';
import { linkKey, sysctlDevice } from '../plan/refs';
import { sysctlPairProblems } from '../plan/sysctl-pairs';
import { adoptDeclaredRules, adoptedRuleEdit, ipNetnsOption, placeRuleLeftovers } from './rule-adoption';
import { rangesOverlap, vniClaim } from '../plan/vni';

export interface Journal {
  /** Optional group commit: persist the records of steps first..first+n-1 at once. */
  prepare?(first: number, changes: readonly Change[]): void;
  begin(index: number, change: Change): void;
  done(index: number, change: Change): void;
}

/** Steps whose journal records are persisted with one fsync. */
const JOURNAL_BATCH = 4096;

export const NO_JOURNAL: Journal = { begin() {}, done() {} };

/** Desired state as the session sees it: in sandbox mode the root namespace is a Voltron-owned netns. */
export function effectiveDesired(desired: DesiredState, session: KernelSession, destroying = false): StateMap {
  if (session.sandbox === undefined || destroying) return desired.resources;
  const m = new Map(desired.resources);
  const root: NamespaceRes = { kind: 'namespace', name: '' };
  m.set(resourceKey(root), root);
  return m;
}

/**
 * A declared namespace named `root` cannot be sandboxed: PREFIXroot is where the sandbox puts
 * the host's root namespace, so both would be the same namespace. Nor can the root namespace's
 * neighbour-table defaults (`net.ipvN.neigh.default.*`): the kernel has them in the host's
 * initial namespace only, not in the sandbox's stand-in (the write would fail mid-apply: ENOENT).
 */
function sandboxClashes(desired: DesiredState, session: KernelSession): string[] {
  if (session.sandbox === undefined) return [];
  const out: string[] = [];
  for (const r of desired.resources.values()) {
    // Positions only for what is reported: the first one parses the config's YAML again.
    const where = (): string => (r.source ? `${sourceWhere(r.source)}: ` : '');
    if (r.kind === 'namespace' && r.name === 'root') {
      out.push(`${where()}namespace 'root' cannot be used with --sandbox: ${session.physical('')} is the sandbox's stand-in for the root namespace (rename the namespace, or run without --sandbox)`);
    } else if (r.kind === 'sysctl' && r.namespace === '' && /^net\.[^.]+\.neigh\.default\./.test(r.key)) {
      out.push(
        `${where()}sysctl '${r.key}' cannot be used with --sandbox: neigh.default exists only in the host's initial namespace, not in ${session.physical('')}, the sandbox's stand-in for the root namespace (the kernel has no such sysctl there: ENOENT; set it per device, or run without --sandbox)`,
      );
    }
  }
  return out;
}

function deletesNamespace(desired: StateMap, inventory: Inventory): boolean {
  return Object.entries(inventory.owned).some(([k, r]) => r.kind === 'namespace' && !desired.has(k));
}

/** Kinds whose removal makes the kernel remove other objects with them (namespaces: see above). */
const CONTAINER_KINDS: ReadonlySet<ResourceKind> = new Set<ResourceKind>(['link', 'qdisc', 'tclass']);

/** Whether a prune will delete an owned link or tc object (known before planning, as above). */
function prunesContainers(desired: StateMap, inventory: Inventory): boolean {
  return Object.entries(inventory.owned).some(([k, r]) => CONTAINER_KINDS.has(r.kind) && !desired.has(k));
}

/**
 * Whether the plan removes a link or tc object from the kernel (delete, or a self-executed
 * replace), or strips a link (sets it down, or its mtu below IPv6's: the kernel removes routes
 * and addresses on it).
 */
function removesContainers(plan: Plan): boolean {
  return plan.changes.some((c) => CONTAINER_KINDS.has(c.kind) && removesLive(c)) || strippingUpdates(plan.changes).size > 0;
}

/** Logical namespaces to read: declared ones plus any the inventory mentions. */
export function namespacesToRead(desired: StateMap, inventory: Inventory): string[] {
  const s = new Set<string>(['']);
  for (const r of desired.values()) s.add(resourceNamespace(r));
  for (const r of Object.values(inventory.owned)) s.add(resourceNamespace(r));
  for (const r of [...desired.values(), ...Object.values(inventory.owned)]) {
    if (r.kind === 'link' && r.veth) s.add(r.veth.peer.namespace);
  }
  return [...s].sort();
}

/**
 * Live state. For planning, what matters: addresses, routes and rules of the IP families
 * declared or owned in each namespace (routes only of the main table and of the tables declared
 * or owned routes use), and tc objects only in namespaces where some are declared or owned.
 * `show` reads everything; `show --all` also decodes kernel-made routes and addresses.
 */
export function readCurrent(session: KernelSession, desired: StateMap, inventory: Inventory, mode: 'plan' | 'show' | 'show-all' = 'plan'): Map<string, Resource> {
  const everything = mode === 'show-all';
  // One pass over what is desired or owned: which sysctls, tunsrcs, tables and kinds matter.
  const sysctls = new Map<string, Set<string>>();
  const tunsrc = new Set<string>();
  const routeTables = new Set<number>([254]);
  const kinds = new Map<string, Set<ResourceKind>>();
  const families = new Map<string, { address: Set<4 | 6>; route: Set<4 | 6>; rule: Set<4 | 6> }>();
  const familiesOf = (ns: string) => {
    let f = families.get(ns);
    if (!f) families.set(ns, (f = { address: new Set(), route: new Set(), rule: new Set() }));
    return f;
  };
  // Adopted routes too (their table and family): the plan moves one the config declares elsewhere.
  for (const r of [...desired.values(), ...Object.values(inventory.owned), ...Object.values(inventory.adopted ?? {})]) {
    if (r.kind === 'address') familiesOf(r.namespace).address.add(r.address.includes(':') ? 6 : 4);
    if (r.kind === 'route' || r.kind === 'rule') familiesOf(r.namespace)[r.kind].add(r.family);
    if (r.kind === 'sysctl') sysctls.set(r.namespace, (sysctls.get(r.namespace) ?? new Set()).add(r.key));
    if (r.kind === 'tunsrc') tunsrc.add(r.namespace);
    if (r.kind === 'route') routeTables.add(r.table);
    const ns = resourceNamespace(r);
    kinds.set(ns, (kinds.get(ns) ?? new Set()).add(r.kind));
  }
  const interesting = (k: string) => everything || desired.has(k) || inventory.owned[k] !== undefined;
  const current = readState(session, {
    namespaces: namespacesToRead(desired, inventory),
    sysctls: new Map([...sysctls].map(([ns, keys]) => [ns, [...keys]])),
    tunsrc: [...tunsrc],
    interesting,
    routeTables: mode === 'plan' ? [...routeTables].sort((a, b) => a - b) : undefined,
    extraKinds: mode === 'plan' ? kinds : undefined,
    families: mode === 'plan' ? families : undefined,
  });
  placeRuleLeftovers(current, desired, inventory);
  // Voltron creates its rules and routes with its protocol (and writes it on every update): a
  // rule or route at an owned key without it is someone else's, put there after ours went. It
  // is never taken for ours: neither updated (a route update replaces the kernel's route) nor
  // deleted when ours leaves the config.
  // (A restore's inventory holds the pre-apply objects as read: a declared route Voltron adopted
  // keeps its own protocol there, and is not someone else's.)
  let aside: string[] | undefined;
  for (const [k, r] of current) {
    if ((r.kind !== 'rule' && r.kind !== 'route') || r.protocol === VOLTRON_RTPROT) continue;
    if (r.kind === 'rule' && k.includes('#')) (aside ??= []).push(k);
    const known = inventory.owned[k];
    if (known === undefined || ((known.kind === 'rule' || known.kind === 'route') && known.protocol === r.protocol)) continue;
    current.delete(k);
    setAside(current, k, r);
  }
  if (aside) adoptDeclaredRules(current, desired, inventory, aside);
  // The kernel cannot tell which veth end created the pair: take it from config/inventory.
  for (const [k, r] of current) {
    if (r.kind !== 'link' || !r.veth) continue;
    const known = (desired.get(k) ?? inventory.owned[k]) as LinkRes | undefined;
    if (known?.veth) current.set(k, { ...r, veth: { ...r.veth, primary: known.veth.primary } });
  }
  return current;
}

export interface PlanResult {
  readonly plan: Plan;
  readonly current: Map<string, Resource>;
  readonly desired: StateMap;
  /** Owned keys whose live object Voltron did not make (set aside in `current`; see setAsideStale). */
  readonly notOurs: readonly string[];
  /** For each key of `notOurs`: what gives its live object away (for the plan's note). */
  readonly notOursWhy: ReadonlyMap<string, string>;
  /**
   * The inventory the plan was made with, and the one an apply of it starts from: the input, less
   * what Voltron owned in adopted namespaces recreated since (see forgetRecreated).
   */
  readonly inventory: Inventory;
}

export class PlanRefused extends Error {
  constructor(readonly problems: readonly string[]) {
    super(`refusing to plan:\n  ${problems.join('\n  ')}`);
    this.name = 'PlanRefused';
  }
}

/**
 * destroy plans against an empty config, so its deletes read "no longer declared" while the
 * config still declares them: say "destroyed" instead. Only the reason's words change.
 */
function destroyReasons(plan: Plan): Plan {
  const prefix = 'no longer declared';
  const changes = plan.changes.map((c) => (c.action === 'delete' && c.reason.startsWith(prefix) ? { ...c, reason: `destroyed${c.reason.slice(prefix.length)}` } : c));
  return { ...plan, changes };
}

export function makePlan(session: KernelSession, desiredState: DesiredState, inventory: Inventory, destroying = false): PlanResult {
  // BPF programs are compared by the tag of the program in the declared object file.
  const clash = sandboxClashes(desiredState, session);
  if (clash.length) throw new PlanRefused(clash);
  const desired = enrichDesiredBpf(effectiveDesired(desiredState, session, destroying));
  const caps = capabilityErrors(desired);
  if (caps.length) throw new PlanRefused(caps);
  // A namespace this plan deletes takes everything in it: read those in full, so the plan can
  // name the foreign objects that go with it (routes of any table and family, ...).
  const mode = deletesNamespace(desired, inventory) || prunesContainers(desired, inventory) ? 'show' : 'plan';
  let current = readCurrent(session, desired, inventory, mode);
  let stale = setAsideStale(session, current, inventory);
  // Set aside with the inventory as recorded; planned with what is still Voltron's.
  const owns = forgetRecreated(inventory, stale.recreated);
  mark('read kernel');
  // Whether a namespace forwards, where the config does not say: read only for seg6 encap routes.
  const liveSysctl = (ns: string, key: string): string | undefined => (session.exists(ns) ? readSysctls(session, ns, [key])[0]?.value : undefined);
  let plan = computePlan({ desired, current, inventory: owns, ignore: desiredState.ignore, liveSysctl });
  mark('compute plan');
  if (mode === 'plan' && removesContainers(plan)) {
    // The plan read only the kinds, families and tables the config uses; a link or tc object it
    // removes takes foreign objects of any of them along: read in full so the plan names them.
    // (Prunes are known before planning; only a replace brings us here.)
    current = readCurrent(session, desired, inventory, 'show');
    stale = setAsideStale(session, current, inventory);
    plan = computePlan({ desired, current, inventory: owns, ignore: desiredState.ignore, liveSysctl });
    mark('re-read kernel in full and re-plan');
  }
  const problems: string[] = foreignNamespaceProblems(session, desired, stale.namespaces);
  for (const c of plan.changes) {
    // Ours went and another object holds its name or key: creating ours would fail (EEXIST),
    // replacing or updating that one would take over something Voltron did not create.
    // (In a namespace someone else made, the namespace's problem above says it once.)
    const why = stale.keys.get(c.key);
    if (why !== undefined && !stale.namespaces.has(resourceNamespace((c.after ?? c.before)!))) {
      const link = c.kind === 'link';
      if (stale.renamed.has(c.key)) {
        problems.push(
          `${c.label}: a link Voltron created holds another name now (${why}); Voltron does not rename links, nor take one over by its ifindex ` +
            `(give them their names back yourself: ip${ipNetnsOption(session, resourceNamespace((c.after ?? c.before)!))} link set DEV name NAME, the link down; or delete the link; or stop declaring it)`,
        );
        continue;
      }
      problems.push(
        `${c.label}: the ${c.kind === 'tclass' ? 'class' : c.kind === 'tfilter' ? 'filter' : c.kind} Voltron created is gone, and one it did not create now holds its ${link ? 'name' : 'key'} (${why}); ` +
          `Voltron neither takes it over nor removes it (${link ? 'delete or rename' : 'delete'} it yourself and Voltron creates its own, or stop declaring it)`,
      );
    }
  }
  for (const c of plan.changes) {
    // Never destroy what Voltron did not create, even if the config now declares it differently.
    // In a sandbox too: its namespaces may hold objects someone else put there.
    // A delete of a declared object happens only to free a veth end's name (see coupleVeths).
    // (An adopted route moved to another metric or table is deleted after its successor: adoptedRouteMoves.)
    if ((c.action === 'replace' || c.action === 'delete') && c.before && !inventory.owned[c.key] && !(c.action === 'delete' && c.kind === 'route' && owns.adopted?.[c.key] !== undefined)) {
      const rule = adoptedRuleEdit(session, c, current);
      if (rule === '') continue;
      if (rule !== undefined) {
        problems.push(rule);
        continue;
      }
      const verb = c.action === 'replace' ? 'replacing' : 'deleting';
      problems.push(`${c.label}: exists in the kernel but was not created by Voltron, and ${c.reason}; ${verb} it would destroy a foreign object (delete or rename it yourself)`);
    }
  }
  problems.push(...foreignRouteClashes(session, plan, current));
  problems.push(...foreignAddressClashes(session, plan, current));
  problems.push(...missingHostDeviceProblems(plan, current, desired, (name) => session.ns('').altnameHolder(name)));
  problems.push(...rootRouteProblems(session, plan, desired, owns, desiredState.ignore));
  problems.push(...altnameClashes(session, plan));
  problems.push(...foreignVniClashes(session, plan, current, desired, owns));
  problems.push(...ownVniOrderClashes(plan, current, desired, owns));
  problems.push(...foreignPassthruClashes(session, plan, current, desired, owns));
  problems.push(...unmodelledLinkProblems(session, current, desired));
  problems.push(...foreignMacvlanMacClashes(session, plan, current, desired, owns));
  problems.push(...mtuAboveLowerDevice(plan, current, desired));
  problems.push(...bpfMapResetProblems(session, desired));
  problems.push(...missingBpfObjectProblems(plan));
  problems.push(...foreignBpfDirProblems(session, plan));
  problems.push(...foreignClsactFilterProblems(session, plan));
  for (const { change, filters } of classesInUse(session, plan.changes)) {
    const names = filters.map((f) => f.label).join(', ');
    problems.push(
      `${change.label}: ${change.action === 'delete' ? 'deleted' : 'recreated (deleted first)'}, but a filter Voltron does not own sends traffic to it (${names}); ` +
        `the kernel refuses to delete a class in use (EBUSY) (delete the filter yourself: ${filters.map((f) => f.del).join('; ')}; or keep the class declared)`,
    );
  }
  for (const { change, filters } of filtersLostToRecreate(session, plan.changes)) {
    const q = change.after as QdiscRes;
    problems.push(
      `${change.label}: its options change recreates it (the kernel's ${q.qdisc} has no change operation), and the kernel removes the tc filters under it with the old one; ` +
        `Voltron restores its classes, not filters it does not own (${filters.map((f) => f.label).join(', ')}) ` +
        `(delete them yourself and add them back after the apply: ${filters.map((f) => f.del).join('; ')}; or keep the ${q.qdisc} options as they are)`,
    );
  }
  const missing = missingSysctlProblems(session, plan);
  problems.push(...missing.map((m) => m.problem));
  problems.push(...refusedSysctlProblems(plan, missing.map((m) => m.key)));
  problems.push(...sysctlPairProblems(plan.changes, current, liveSysctl, (c) => (c.after?.source ? `${sourceWhere(c.after.source)}: ` : '')));
  if (problems.length) throw new PlanRefused(problems);
  // tc filters are read only on clsact hooks: those under a qdisc this plan removes are read now.
  const filters = removedForeignFilters(session, plan.changes);
  if (filters.length > 0) plan = { ...plan, foreignRemoved: [...(plan.foreignRemoved ?? []), ...filters] };
  const renamed = renamedAway(session, current, owns);
  const said = renamed.length > 0 ? { ...plan, renamedAway: renamed } : plan;
  return { plan: destroying ? destroyReasons(said) : said, current, desired, notOurs: [...stale.keys.keys()], notOursWhy: stale.keys, inventory: owns };
}

/**
 * Owned links not live under their name whose recorded ifindex is a live link of another name
 * that Voltron does not own: renamed by hand (`ip link set b1 name bX`). Not Voltron's to rename
 * back or delete (it may be in use under its new name), so the plan says so rather than let a
 * new b1 appear beside it silently (two links, one address twice).
 */
function renamedAway(session: KernelSession, current: ReadonlyMap<string, Resource>, inventory: Inventory): string[] {
  const gone = Object.entries(inventory.ifindex ?? {}).filter(([k]) => !current.has(k) && inventory.owned[k]?.kind === 'link');
  if (gone.length === 0) return [];
  const byIndex = liveLinksByIndex(session, current);
  const out: string[] = [];
  for (const [k, index] of gone) {
    const was = inventory.owned[k] as LinkRes;
    const now = byIndex.get(`${was.namespace}|${index}`);
    if (now && inventory.owned[resourceKey(now)] === undefined) out.push(`${resourceLabel(was)} (now ${visible(now.name)}, ifindex ${index})`);
  }
  return out;
}

/** Live links by `namespace|ifindex` (the read filled each namespace's index cache). */
function liveLinksByIndex(session: KernelSession, current: ReadonlyMap<string, Resource>): Map<string, LinkRes> {
  const out = new Map<string, LinkRes>();
  for (const r of current.values()) if (r.kind === 'link') out.set(`${r.namespace}|${session.ns(r.namespace).ifindex(r.name)}`, r);
  return out;
}

/**
 * The inventory without what Voltron owned in adopted namespaces someone recreated (`recreated`):
 * those objects went with the old namespace, and their namesakes in the new one are not
 * Voltron's. Its settings there are taken over afresh (the value found now is the original), and
 * the namespace's cookie is recorded again at the next verified apply.
 */
export function forgetRecreated(inv: Inventory, recreated: ReadonlyMap<string, string>): Inventory {
  if (recreated.size === 0) return inv;
  const gone = (k: string): boolean => {
    const r = inv.owned[k];
    return r !== undefined && recreated.has(resourceNamespace(r));
  };
  const keep = <T>(m: Readonly<Record<string, T>> | undefined, drop: (k: string) => boolean): Record<string, T> =>
    Object.fromEntries(Object.entries(m ?? {}).filter(([k]) => !drop(k)));
  const nsKeys = new Set([...recreated.keys()].map((name) => resourceKey({ kind: 'namespace', name })));
  const cookieGone = (k: string): boolean => nsKeys.has(k);
  return {
    ...inv,
    owned: keep(inv.owned, gone),
    original: keep(inv.original, gone),
    ifindex: keep(inv.ifindex, gone),
    netnsCookie: keep(inv.netnsCookie, cookieGone),
  };
}

/**
 * A declared namespace whose live namesake someone else made: as for a link, Voltron neither
 * takes it over (its objects would be created among foreign ones) nor deletes it (with theirs).
 */
function foreignNamespaceProblems(session: KernelSession, desired: StateMap, foreign: ReadonlyMap<string, string>): string[] {
  const out: string[] = [];
  for (const [ns, why] of foreign) {
    const r = desired.get(resourceKey({ kind: 'namespace', name: ns }));
    if (!r) continue;
    out.push(
      `${resourceLabel(r)}: the namespace Voltron created is gone, and one it did not create now holds its name (${why}); ` +
        `Voltron neither takes it over nor removes it, and nothing in it is Voltron's (delete it yourself: ip netns del ${session.physical(ns) ?? ns}, and Voltron creates its own; or stop declaring it)`,
    );
  }
  return out;
}

/**
 * Declared sysctls the kernel does not have (a typo, a module not loaded, a key only the host's
 * initial namespace has), or cannot write (read-only there) or read back (write-only): the plan
 * shows them as created or updated, and the write fails mid-apply (ENOENT, EACCES) or never
 * verifies.
 */
function missingSysctlProblems(session: KernelSession, plan: Plan): { key: string; problem: string }[] {
  // Devices the plan makes: only their keys may lack their directory now (else ENOENT mid-apply:
  // a device key in a namespace with undeclared devices, the root one or one with `ignore`).
  const made = new Set<string>();
  for (const c of plan.changes) {
    const l = c.after;
    if (l?.kind !== 'link' || (c.action !== 'create' && c.action !== 'replace')) continue;
    made.add(`${l.namespace}\0${l.name}`);
    if (l.veth?.primary) made.add(`${l.veth.peer.namespace}\0${l.veth.peer.name}`);
  }
  const asked = plan.changes.flatMap((c) => {
    if ((c.action !== 'create' && c.action !== 'update') || c.after?.kind !== 'sysctl') return [];
    const dev = sysctlDevice(c.after.key);
    const device = dev !== undefined && made.has(`${c.after.namespace}\0${dev}`) ? dev : undefined;
    return [{ namespace: c.after.namespace, key: c.after.key, device, dev, change: c }];
  });
  if (asked.length === 0) return [];
  return [...sysctlAccess(session, asked)].map(([{ change: c, namespace, key, dev }, access]) => {
    const where = c.after?.source ? `${sourceWhere(c.after.source)}: ` : '';
    const exists = session.exists(namespace);
    const ns = exists ? `namespace ${session.physical(namespace) ?? 'root'}` : 'a new namespace';
    const path = key.replace(/\./g, '/');
    const problem =
      access === 'missing'
        ? `${ns} ${exists ? 'has' : 'would have'} no such sysctl (no ${path} under /proc/sys: a typo, ${dev !== undefined ? `no device ${dev} there (the plan does not create it), ` : ''}a kernel module not loaded, or a key only the host's initial namespace has); writing it would fail (ENOENT)`
        : access === 'read-only'
          ? `the sysctl is read-only in ${ns} (${path} under /proc/sys; some keys are writable only in the host's initial namespace); writing it would fail (EACCES)`
          : `the sysctl is write-only (${path} under /proc/sys: an action, not a setting): Voltron cannot read it back, so an apply would never verify`;
    return { key: c.key, problem: `${where}${c.label}: ${problem}` };
  });
}

/**
 * Sysctl values the plan writes that the kernel would refuse (EINVAL mid-apply: `hop_limit: 300`)
 * or keep otherwise (never verified), tried first in a throwaway namespace. Keys reported
 * missing are not tried again.
 */
function refusedSysctlProblems(plan: Plan, missing: readonly string[]): string[] {
  const writes = plan.changes.flatMap((c) =>
    (c.action === 'create' || c.action === 'update') && c.after?.kind === 'sysctl' && !missing.includes(c.key) ? [{ key: c.after.key, value: c.after.value, device: sysctlDevice(c.after.key), change: c }] : [],
  );
  return [...refusedSysctlValues(writes)].map(([{ change: c }, why]) => `${c.after?.source ? `${sourceWhere(c.after.source)}: ` : ''}${c.label}: ${why}`);
}

/**
 * Addresses Voltron must create where one it never writes (set aside by the read: noprefixroute,
 * a scope, a lifetime ...) holds the same device and address: the kernel would refuse the create
 * (EEXIST) in the middle of the apply, and Voltron never changes an address it did not write.
 */
function foreignAddressClashes(session: KernelSession, plan: Plan, current: ReadonlyMap<string, Resource>): string[] {
  const creates = new Map(plan.changes.filter((c) => c.kind === 'address' && c.action === 'create').map((c) => [c.key, c]));
  if (creates.size === 0) return [];
  const out: string[] = [];
  for (const [k, r] of current) {
    const hash = k.lastIndexOf('#');
    if (r.kind !== 'address' || hash < 0 || r.unmodelled === undefined) continue;
    const c = creates.get(k.slice(0, hash));
    if (!c) continue;
    const ns = ipNetnsOption(session, r.namespace);
    out.push(
      `${c.label}: the address is there with what Voltron never writes (${r.unmodelled}); Voltron never changes an address it did not write ` +
        `(delete it yourself: ip${ns} addr del ${r.address} dev ${r.dev}; Voltron then adds its own)`,
    );
  }
  return out;
}

const RTPROT_NAMES: Readonly<Record<number, string>> = { 2: 'kernel', 3: 'boot', 4: 'static', 9: 'ra' };
const RTPROT_RA = 9;

/**
 * Routes Voltron must create where a foreign route (set aside above) holds the same destination,
 * table and metric. Unlike rules, the kernel keeps one route per such key whatever its protocol:
 * the create would fail (EEXIST), an append would be shadowed by the foreign route (IPv4) or
 * merge into it as a multipath route (IPv6), and Voltron never replaces a foreign route.
 * A foreign multipath route, or one with an encap, onlink flag or metrics Voltron does not model,
 * holds the key too (set aside even at a key Voltron never owned); a TOS or source-prefix route does not.
 */
function foreignRouteClashes(session: KernelSession, plan: Plan, current: ReadonlyMap<string, Resource>): string[] {
  const creates = new Map(plan.changes.filter((c) => c.kind === 'route' && c.action === 'create').map((c) => [c.key, c]));
  if (creates.size === 0) return [];
  const removed = plan.foreignRemoved ?? [];
  const out: string[] = [];
  for (const [k, r] of current) {
    const hash = k.lastIndexOf('#');
    if (r.kind !== 'route' || hash < 0) continue;
    const c = creates.get(k.slice(0, hash));
    const multipath = r.unmodelled?.startsWith('multipath') === true;
    // A TOS or source-prefix selector puts a route under another kernel key: it stays beside ours.
    if (!c || (r.unmodelled !== undefined && hasKeySelector(r.unmodelled))) continue;
    // A foreign route the plan's own changes remove (with its link) frees the key first.
    if (removed.some((x) => x.startsWith(`${resourceLabel(r)} (`))) continue;
    const proto = RTPROT_NAMES[r.protocol ?? 0] ?? String(r.protocol);
    const what = [r.unmodelled ?? '', r.type !== 'unicast' ? r.type : '', r.via ? `via ${r.via}` : '', r.dev ? `dev ${r.dev}` : '', `proto ${proto}`].filter((x) => x).join(' ');
    const ns = ipNetnsOption(session, r.namespace);
    const del = `ip${ns} route del ${r.to} table ${r.table} metric ${r.metric} proto ${proto}`;
    if (multipath && r.protocol === VOLTRON_RTPROT) {
      // IPv6 merges a route added with `ip -6 route append` into the one at its key: ours became multipath.
      out.push(
        `${c.label}: another route was merged into Voltron's, which is now a multipath route (${what}: an \`ip -6 route append\`); ` +
          `Voltron does not manage multipath routes and never changes a nexthop it did not add ` +
          `(delete the other nexthop yourself: ip${ns} route del ${r.to} via <its gateway> metric ${r.metric}; or the whole route: ${del}, and Voltron adds its own)`,
      );
      continue;
    }
    if (r.protocol === RTPROT_RA && r.dev !== undefined) {
      out.push(`${c.label}: ${raRouteClash(r, what, del)}`);
      continue;
    }
    // A multipath route, or one with an encap (onlink, metrics) Voltron does not model, is never adopted, so it may hold a key Voltron never had.
    const where = r.unmodelled !== undefined ? '' : ", where Voltron's route was";
    out.push(
      `${c.label}: a foreign route (${what}) holds its destination, table and metric${where}; ` +
        `the kernel keeps one route per destination, table and metric whatever its protocol, and Voltron never replaces a foreign route ` +
        `(delete it yourself: ${del}; or declare the route with another metric)`,
    );
  }
  return out;
}

/**
 * A route the kernel learned from a Router Advertisement at a declared route's key. Deleting it
 * does not last: the next advertisement adds it again, beside Voltron's (IPv6 keeps both at one
 * metric: the plan then sees nothing to do, and traffic may take either). What lasts is the
 * device's sysctl, declared: it stops new ones but leaves the one learned (measured).
 */
function raRouteClash(r: RouteRes, what: string, del: string): string {
  // A default route comes from the router lifetime, any other from a Route Information option.
  const key = r.to === '::/0' ? 'accept_ra_defrtr' : 'accept_ra_rt_info_max_plen';
  const where = r.namespace === '' ? 'the top-level `sysctls`' : `the \`sysctls\` of namespace ${r.namespace}`;
  return (
    `a route learned from a Router Advertisement (${what}) holds its destination, table and metric; the kernel keeps one route per destination, table and metric ` +
    `whatever its protocol, and deleting this one does not last: the next advertisement on '${r.dev}' adds it back, beside Voltron's. ` +
    `Either declare the route with a metric below ${r.metric} (it then wins), or stop ${r.dev}'s advertised routes: declare \`net.ipv6.conf.${r.dev}.${key}: 0\` in ${where} ` +
    `(\`accept_ra: 0\` stops its SLAAC addresses too), apply without this route, delete the learned one (${del}: the sysctl keeps it), then apply with it`
  );
}

/**
 * Links to create whose name is another live link's alternative name (`ip link property add dev
 * X altname NAME`; systemd gives NICs some): altnames share the kernel's name space with link
 * names, so the create fails (EEXIST) in the middle of the apply, while a dump, which reports
 * links by their name only, shows no link of that name. Unless the plan removes that link first.
 */
function altnameClashes(session: KernelSession, plan: Plan): string[] {
  const out: string[] = [];
  plan.changes.forEach((c, i) => {
    if (c.kind !== 'link' || c.action !== 'create') return;
    const l = c.after as LinkRes;
    const holder = session.ns(l.namespace).altnameHolder(l.name);
    if (holder === undefined) return;
    const gone = plan.changes.findIndex((r) => r.key === linkKey(l.namespace, holder) && removesLive(r));
    if (gone >= 0 && gone < i) return;
    const label = c.createdBy === undefined ? c.label : `${c.label}, the peer end of ${plan.changes.find((p) => p.key === c.createdBy)?.label ?? c.createdBy}`;
    const dev = visible(holder);
    out.push(
      `${label}: '${l.name}' is an alternative name of link ${nsLabel(l.namespace)}/${dev}, and the kernel refuses a link of that name (EEXIST) in the middle of the apply ` +
        `(remove the altname yourself: ip${ipNetnsOption(session, l.namespace)} link property del dev ${dev} altname ${l.name}; or declare another name)`,
    );
  });
  return out;
}

/**
 * VXLANs Voltron must create (or give VNIs) where a foreign VXLAN in the namespace receives the
 * same VNI on the same port and family (someone else's, or one of ours renamed by hand): the
 * kernel refuses ours ("VNI already exists" / "VNI in use") in the middle of the apply.
 */
function foreignVniClashes(session: KernelSession, plan: Plan, current: ReadonlyMap<string, Resource>, desired: StateMap, inventory: Inventory): string[] {
  const wants = plan.changes.filter((c) => c.kind === 'link' && (c.action === 'create' || c.action === 'replace' || (c.action === 'update' && c.fields.some((f) => f.field.startsWith('vnis')))));
  if (wants.length === 0) return [];
  const removed = plan.foreignRemoved ?? [];
  const out: string[] = [];
  for (const c of wants) {
    const mine = vniClaim(c.after as LinkRes);
    if (!mine) continue;
    for (const [k, r] of current) {
      // Foreign: neither declared nor owned under its key (a namesake set aside is foreign too).
      const own = !k.includes('#') && (desired.has(k) || inventory.owned[k] !== undefined);
      if (r.kind !== 'link' || own || removed.some((x) => x.startsWith(`${resourceLabel(r)} (`))) continue;
      const theirs = vniClaim(r);
      if (!theirs || theirs.group !== mine.group) continue;
      const shared = mine.runs.flatMap(([a, b]) => theirs.runs.filter(([c2, d]) => c2 <= b && a <= d).map(([c2, d]) => [Math.max(a, c2), Math.min(b, d)] as Range));
      if (shared.length === 0) continue;
      const x = r.vxlan!;
      const what = x.external && !x.vnifilter ? 'an external vxlan' : `VNI ${shared.map(rangeItem).join(', ')}`;
      const ns = ipNetnsOption(session, r.namespace);
      out.push(
        `${c.label}: ${what} on dstport ${x.dstport} is taken in namespace ${nsLabel(theirs.ns)} by ${resourceLabel(r)}${theirs.ns === r.namespace ? '' : ' (made there, moved since)'}, which Voltron did not create; ` +
          `the kernel refuses a second one (delete it yourself: ip${ns} link del ${r.name}; or declare another vni or dstport)`,
      );
    }
  }
  return out;
}

/**
 * Changes giving a VXLAN a VNI that another VXLAN of Voltron's still holds when they run, in the
 * plan's order: two VXLANs swapping VNIs (each replace needs the other's gone first; the plan
 * orders a VNI moved along a chain, see plan/vni.ts). The kernel would refuse the second one
 * (EEXIST) in the middle of the apply. Foreign holders: foreignVniClashes.
 */
function ownVniOrderClashes(plan: Plan, current: ReadonlyMap<string, Resource>, desired: StateMap, inventory: Inventory): string[] {
  const changes = plan.changes.filter((c) => c.kind === 'link' || c.kind === 'namespace');
  // Only a VXLAN replaced or updated in place gives a VNI up later in a plan (deletes run first):
  // without one (a fresh apply: creates only) nothing can clash, and the scan below is quadratic.
  const givesUp = (c: Change) => (c.action === 'replace' || c.action === 'update') && (c.before as LinkRes | undefined)?.type === 'vxlan';
  if (!changes.some(givesUp)) return [];
  // Live claims of Voltron's VXLANs, by key, as the plan runs.
  const held = new Map<string, { link: LinkRes; group: string; ns: string; runs: readonly Range[] }>();
  for (const [k, r] of current) {
    if (r.kind !== 'link' || k.includes('#') || !(desired.has(k) || inventory.owned[k] !== undefined)) continue;
    const claim = vniClaim(r);
    if (claim) held.set(k, { link: r, ...claim });
  }
  const out: string[] = [];
  for (const c of changes) {
    if (removesLive(c) && c.before) {
      const b = c.before;
      // What the kernel takes along: a namespace's VXLANs, the ones stacked on a deleted link.
      for (const [k, h] of held) {
        if (k === c.key || (b.kind === 'namespace' && h.ns === b.name) || (b.kind === 'link' && h.link.namespace === b.namespace && h.link.vxlan?.dev === b.name)) held.delete(k);
      }
    }
    const a = c.after;
    if (c.kind !== 'link' || a?.kind !== 'link' || a.type !== 'vxlan') continue;
    if (c.action === 'update' && !c.fields.some((f) => f.field === 'vnis')) continue;
    const mine = vniClaim(a);
    if (!mine) continue;
    for (const [k, h] of held) {
      if (k === c.key || h.group !== mine.group || !rangesOverlap(mine.runs, h.runs)) continue;
      const x = a.vxlan!;
      const shared = subtractRanges(mine.runs, subtractRanges(mine.runs, h.runs));
      const what = x.external && !x.vnifilter ? 'an external vxlan' : `VNI ${shared.map(rangeItem).join(', ')}`;
      out.push(
        `${c.label}: ${what} on dstport ${x.dstport} is still held by ${resourceLabel(h.link)} when this change runs, and that VXLAN gives it up ` +
          `only later in this plan (VNIs swapped or rotated among VXLANs: each needs another's gone first); the kernel keeps one VXLAN per VNI ` +
          `and port, so no order applies them all: do it in two applies (first move one of them to a VNI none of them uses)`,
      );
    }
    held.set(c.key, { link: a, ...mine });
  }
  return out;
}

/**
 * Declared links whose live namesake has what Voltron never writes and that changes its traffic
 * (a VXLAN with `gbp`: another packet format; a macvlan on a device of another namespace). Taken for the declared link, it would be
 * adopted as in sync; replacing it would destroy something Voltron did not make (and Voltron
 * never writes gbp, so it never made it). Refused, also with nothing else to change.
 */
function unmodelledLinkProblems(session: KernelSession, current: ReadonlyMap<string, Resource>, desired: StateMap): string[] {
  const out: string[] = [];
  for (const [k, d] of desired) {
    if (d.kind !== 'link') continue;
    const c = current.get(k);
    if (c?.kind !== 'link' || c.unmodelled === undefined) continue;
    out.push(
      `${resourceLabel(d)}: the ${c.type} there has what Voltron never writes (${c.unmodelled}), which changes its ${c.lower ? 'traffic' : 'packets'}; Voltron does not take it over ` +
        `(delete it yourself: ip${ipNetnsOption(session, c.namespace)} link del ${c.name}; Voltron then creates its own, or stop declaring it)`,
    );
  }
  return out;
}

/**
 * Macvlans Voltron must create on a parent where a foreign macvlan lives, one of the two in
 * passthru mode (someone else's, or one of ours renamed by hand): a passthru macvlan is alone on
 * its parent, and the kernel refuses ours (EINVAL) in the middle of the apply.
 */
function foreignPassthruClashes(session: KernelSession, plan: Plan, current: ReadonlyMap<string, Resource>, desired: StateMap, inventory: Inventory): string[] {
  const out: string[] = [];
  for (const c of plan.changes) {
    const mine = c.after as LinkRes | undefined;
    if (c.kind !== 'link' || (c.action !== 'create' && c.action !== 'replace') || !mine?.macvlan) continue;
    for (const r of foreignMacvlansBeside(mine, plan, current, desired, inventory)) {
      if (r.macvlan!.mode !== 'passthru' && mine.macvlan.mode !== 'passthru') continue;
      out.push(
        `${c.label}: ${resourceLabel(r)} (${r.macvlan!.mode}), which Voltron did not create, is on its parent ${r.macvlan!.parent}, and a passthru macvlan must be alone there; ` +
          `the kernel refuses ours (delete it yourself: ip${ipNetnsOption(session, r.namespace)} link del ${r.name}; or declare another parent or mode)`,
      );
    }
  }
  return out;
}

/** Foreign macvlans on the parent of `mine` (same namespace) that the plan's changes leave in place. */
function foreignMacvlansBeside(mine: LinkRes, plan: Plan, current: ReadonlyMap<string, Resource>, desired: StateMap, inventory: Inventory): LinkRes[] {
  const removed = plan.foreignRemoved ?? [];
  const out: LinkRes[] = [];
  for (const [k, r] of current) {
    const own = !k.includes('#') && (desired.has(k) || inventory.owned[k] !== undefined);
    if (r.kind !== 'link' || own || !r.macvlan || r.namespace !== mine.namespace || r.macvlan.parent !== mine.macvlan?.parent) continue;
    if (!removed.some((x) => x.startsWith(`${resourceLabel(r)} (`))) out.push(r);
  }
  return out;
}

/**
 * Up macvlans Voltron must create with, or give, a declared MAC that a foreign macvlan up on the
 * same parent has (someone else's, or one of ours renamed by hand): macvlan_open and
 * macvlan_set_mac_address refuse an address busy on the parent (EADDRINUSE) in the middle of
 * the apply.
 */
function foreignMacvlanMacClashes(session: KernelSession, plan: Plan, current: ReadonlyMap<string, Resource>, desired: StateMap, inventory: Inventory): string[] {
  const out: string[] = [];
  for (const c of plan.changes) {
    const mine = c.after as LinkRes | undefined;
    if (c.kind !== 'link' || !mine?.macvlan || mine.macvlan.mode === 'passthru' || mine.mac === undefined || (mine.state ?? 'up') !== 'up') continue;
    if (c.action === 'update' && !c.fields.some((f) => f.field === 'mac' || f.field === 'state')) continue;
    if (c.action === 'delete') continue;
    for (const r of foreignMacvlansBeside(mine, plan, current, desired, inventory)) {
      if (r.state !== 'up' || r.mac !== mine.mac) continue;
      out.push(
        `${c.label}: MAC address ${mine.mac} is that of ${resourceLabel(r)}, which Voltron did not create, up on the same parent ${r.macvlan!.parent}; ` +
          `the kernel refuses ours (EADDRINUSE) (delete it yourself: ip${ipNetnsOption(session, r.namespace)} link del ${r.name}; or declare another mac)`,
      );
    }
  }
  return out;
}

/**
 * A macvlan's or VXLAN's declared mtu above what its lower device (macvlan parent, vxlan dev)
 * allows when the config declares no mtu for that device (validation judges declared ones): the
 * kernel refuses a macvlan's (EINVAL) mid-apply, and lowers a VXLAN's at creation (to the
 * device's less its headers: 50 bytes, 70 over IPv6), so it never verifies. The device's mtu is
 * the live one, or for one the plan creates or recreates its type's default (1500 for a veth or
 * a VXLAN without a device). Not judged where the plan writes the device's mtu, or the device is
 * a bridge (its mtu follows its ports, which the plan may change). Other updates of the device
 * (state, master, alias) leave its mtu as it is.
 */
function mtuAboveLowerDevice(plan: Plan, current: ReadonlyMap<string, Resource>, desired: StateMap): string[] {
  const out: string[] = [];
  const made = new Set(plan.changes.filter((c) => c.action === 'create' || c.action === 'replace').map((c) => c.key));
  const mtuWritten = new Set(plan.changes.filter((c) => c.action === 'update' && c.fields.some((f) => f.field === 'mtu')).map((c) => c.key));
  for (const c of plan.changes) {
    const m = c.after as LinkRes | undefined;
    const lowerName = m?.macvlan?.parent ?? m?.vxlan?.dev;
    if (c.kind !== 'link' || !m || lowerName === undefined || m.mtu === undefined) continue;
    if (c.action === 'update' && !c.fields.some((f) => f.field === 'mtu')) continue;
    const pk = resourceKey({ kind: 'link', namespace: m.namespace, name: lowerName } as LinkRes);
    const declared = desired.get(pk) as LinkRes | undefined;
    const live = current.get(pk) as LinkRes | undefined;
    if (declared?.mtu !== undefined || mtuWritten.has(pk)) continue;
    const lower = made.has(pk) ? declared : live;
    if (lower?.type === 'bridge' && made.has(pk)) {
      out.push(...aboveNewBridge(c, m, lower, made, current, desired));
      continue;
    }
    const lowerMtu = made.has(pk) ? defaultMtu(declared) : live?.type === 'bridge' ? undefined : live?.mtu;
    if (lower === undefined || lowerMtu === undefined) continue;
    const headroom = m.vxlan ? (vxlanIsV6(m.vxlan) ? 70 : 50) : 0;
    const max = m.vxlan ? Math.max(68, lowerMtu - headroom) : lowerMtu;
    if (m.mtu <= max) continue;
    const has = made.has(pk) ? `will have when created (the kernel's default for a ${lower.type}; the config declares none for it)` : 'has (the config declares none for it)';
    const what = m.vxlan ? `the mtu ${lowerMtu} its dev ${lowerName} ${has}, less ${headroom} bytes of VXLAN headers: the kernel lowers it at creation or refuses it (EINVAL)` : `the mtu ${lowerMtu} its parent ${lowerName} ${has}, and the kernel refuses it (EINVAL)`;
    out.push(`${c.label}: mtu ${m.mtu} is above ${m.vxlan ? `${max}, ` : ''}${what}: declare the ${m.vxlan ? 'dev' : 'parent'}'s mtu, or a lower one here`);
  }
  return out;
}

/**
 * A macvlan on a bridge the plan creates (or recreates) without an mtu: the kernel gives the
 * bridge its ports' lowest mtu, so a port whose mtu the config does not declare, and which keeps
 * its live one (or gets its type's default), caps the macvlan too (validation judges declared
 * ones). A port whose mtu is not known here (a VXLAN on a device) is left out.
 */
function aboveNewBridge(c: Change, m: LinkRes, bridge: LinkRes, made: ReadonlySet<string>, current: ReadonlyMap<string, Resource>, desired: StateMap): string[] {
  if (m.macvlan === undefined || m.mtu === undefined) return [];
  const out: string[] = [];
  const ports = [...desired.values()].filter((r) => r.kind === 'link' && r.namespace === bridge.namespace && r.master === bridge.name);
  if (ports.length === 0 && m.mtu > NEW_BRIDGE_MTU) {
    out.push(`${c.label}: mtu ${m.mtu} is above the mtu ${NEW_BRIDGE_MTU} its parent ${bridge.name} will have when created (a bridge without ports; the config declares no mtu for it), and the kernel refuses it (EINVAL): declare the bridge's mtu, or a lower one here`);
  }
  for (const [k, r] of desired) {
    if (r.kind !== 'link' || r.namespace !== bridge.namespace || r.master !== bridge.name || r.mtu !== undefined) continue;
    const live = current.get(k) as LinkRes | undefined;
    const mtu = made.has(k) || live === undefined ? defaultMtu(r) : live.mtu;
    if (mtu === undefined || m.mtu <= mtu) continue;
    const has = made.has(k) || live === undefined ? `will have when created (the kernel's default for a ${r.type})` : 'has';
    out.push(
      `${c.label}: mtu ${m.mtu} is above the mtu ${mtu} its port ${r.name} ${has}, the config declaring none for it: the bridge ${bridge.name} the plan creates takes its ports' lowest mtu, ` +
        `and the kernel refuses the macvlan (EINVAL): declare the port's or the bridge's mtu, or a lower one here`,
    );
  }
  return out;
}

/** A new bridge's mtu, and that of one without ports (br_mtu_min: ETH_DATA_LEN). */
const NEW_BRIDGE_MTU = 1500;

/** The mtu the kernel gives a new link of this kind when none is declared, where it is fixed. */
function defaultMtu(l: LinkRes | undefined): number | undefined {
  if (l?.type === 'veth' || (l?.type === 'vxlan' && l.vxlan?.dev === undefined)) return 1500;
  return undefined;
}

export interface ApplyOutcome {
  readonly executed: readonly Change[];
  readonly inventory: Inventory;
  /**
   * The step that failed (index `step`); nothing after it was sent. `refused`: its create was
   * refused because the object exists (createRefused), so it made nothing either.
   */
  readonly failed?: { readonly change: Change; readonly error: Error; readonly step: number; readonly refused: boolean };
}

/**
 * Whether a change's kernel writes may go through the netlink pipeline: plain netlink writes
 * that want no reply (creating or updating a bridge, VXLAN or macvlan; adding an address).
 * Veths (a namespace fd must outlive the request), VLAN/VNI filters, namespaces, sysctls,
 * routes, rules, tc and BPF run synchronously, after everything posted before them.
 */
export function canPipeline(c: Change): boolean {
  if (c.kind === 'address') return c.action === 'create';
  if (c.kind !== 'link' || (c.action !== 'create' && c.action !== 'update') || c.createdBy) return false;
  const l = c.after as LinkRes | undefined;
  return l !== undefined && l.type !== 'veth' && l.type !== 'other' && l.vlans === undefined && l.vnis === undefined;
}

/** Below this many pipelinable changes the worker is not worth it. */
export const PIPELINE_MIN_CHANGES = 32;

/**
 * Execute the plan in order; stops at the first failure (the caller decides about rollback).
 * The journal records each step before its kernel write and marks it done after. The
 * VOLTRON_FAULT test seam (see faults.ts) is honoured here and nowhere else.
 *
 * With a pipeline, pipelinable steps are posted and confirmed later, in order, once the worker
 * has had the kernel's ack for them (at the next synchronous step, or at the end); a step counts
 * as executed, is journaled done and recorded in the inventory only then. If a posted request
 * fails, nothing after it was sent: the steps before it are confirmed and the plan stops there,
 * with the same error the synchronous path gives. One exception, as in createLink: a link create
 * refused with EEXIST/EBUSY may have lost its chosen ifindex to another process; the kernel then
 * chooses indexes in that namespace, and the step is re-run synchronously.
 */
export function executePlan(session: KernelSession, plan: Plan, inventory: Inventory, journal: Journal = NO_JOURNAL, onStep?: (c: Change, i: number) => void, pipeline?: NetlinkPipeline): ApplyOutcome {
  const fault = faultFromEnv();
  const inv = new InventoryBuilder(inventory);
  const found = new Map<string, string>();
  const executed: Change[] = [];
  const changes = plan.changes;
  const portsMove = bridgesWithPortChanges(changes);
  const confirm = (i: number): void => {
    const c = changes[i]!;
    faultAfter(fault, i);
    journal.done(i, c);
    inv.record(c, found.get(c.key));
    executed.push(c);
    onStep?.(c, i);
  };
  // Posted steps awaiting the worker's acks, in order.
  const posted: number[] = [];
  /** Wait for the worker; confirm what succeeded; the failure, if any. */
  const settle = (): PipelineFailure | undefined => {
    if (!pipeline) return undefined;
    try {
      pipeline.drain();
    } catch (e) {
      if (!(e instanceof PipelineFailed)) throw e;
    }
    const f = pipeline.takeFailure();
    for (const i of posted) {
      if (f && i >= f.step) break;
      confirm(i);
    }
    posted.length = 0;
    return f;
  };
  let preparedUpTo = 0;
  let syncStep = -1; // a step to re-run without the pipeline (its first posted request failed)
  if (pipeline) setRequestSink(pipeline);
  try {
    // i === changes.length: the end, where whatever is still posted is settled.
    for (let i = 0; i <= changes.length; i++) {
      const c = changes[i];
      const pipelined = c !== undefined && pipeline !== undefined && i !== syncStep && canPipeline(c);
      let failure: { readonly step: number; readonly error: Error; readonly firstOfStep?: boolean } | undefined;
      if (!pipelined && posted.length) failure = settle();
      if (c === undefined && !failure) break;
      if (c !== undefined && !failure) {
        if (journal.prepare && i >= preparedUpTo) {
          journal.prepare(i, changes.slice(i, i + JOURNAL_BATCH));
          preparedUpTo = i + JOURNAL_BATCH;
        }
        journal.begin(i, c);
        try {
          faultBefore(fault, i, c);
          if (pipelined) {
            pipeline.step = i;
            pipeline.posting = true;
          }
          if (!faultSkips(fault, i)) executeChange(c, { session, inventory, found, portsMove, between: fault?.half ? (x) => faultBetween(fault, i, x) : undefined, at: fault?.at !== undefined ? (p) => faultAt(fault, i, p) : undefined });
        } catch (e) {
          // A failure of an earlier posted request (found by a drain inside this step) comes first.
          failure = (e instanceof PipelineFailed || posted.length ? settle() : undefined) ?? { step: i, error: e as Error };
        } finally {
          if (pipeline) pipeline.posting = false;
        }
      }
      if (failure) {
        if (failure.firstOfStep && failure.step !== syncStep && changes[failure.step]!.kind === 'link' && changes[failure.step]!.action === 'create' && isIndexRace(failure.error)) {
          // A link create whose first request the kernel refused with EEXIST/EBUSY: the chosen
          // ifindex may have been taken by another process. Nothing of the step happened, and
          // nothing after it was sent: do what the synchronous path does (let the kernel choose
          // from now on) and run the step again, synchronously, going on from there.
          session.ns((changes[failure.step]!.after as LinkRes).namespace).unknowIndexes();
          syncStep = failure.step;
          i = failure.step - 1;
          continue;
        }
        const change = changes[failure.step]!;
        // A posted create whose first request was refused with EEXIST is as refused as a synchronous one.
        const refused = createRefused(failure.error) || (failure.firstOfStep === true && change.action === 'create' && failure.error instanceof NetlinkError && failure.error.errno === 17);
        // Both rules of a replace live: kept (--no-rollback), the inventory must name both.
        if (failedHalfDone(failure.error)) inv.recordHalf(change);
        return { executed, inventory: inv.result(), failed: { change, error: failure.error, step: failure.step, refused } };
      }
      if (pipelined) posted.push(i);
      else confirm(i);
    }
    return { executed, inventory: inv.result() };
  } finally {
    if (pipeline) {
      // Normally nothing is pending here; after an exception nothing posted may still go out.
      pipeline.abandon();
      setRequestSink(undefined);
    }
  }
}

/**
 * Drop inventory entries that are neither desired nor live any more (cascaded away), and
 * settings no longer declared that are at their original value (restored, or never changed):
 * released, so that a later change by someone else is not "restored" over.
 */
export function pruneInventory(inv: Inventory, desired: StateMap, current: StateMap): Inventory {
  const released = (k: string) => inv.original[k] !== undefined && settingValue(current.get(k)) === inv.original[k];
  const keep = (k: string) => desired.has(k) || (current.has(k) && !released(k));
  let stale = false;
  for (const k in inv.owned) if (!keep(k)) stale = true;
  for (const k in inv.original) if (inv.owned[k] === undefined) stale = true;
  if (!stale) return inv; // the usual case: nothing to drop, no copy
  const owned = Object.fromEntries(Object.entries(inv.owned).filter(([k]) => keep(k)));
  const original = Object.fromEntries(Object.entries(inv.original).filter(([k]) => owned[k] !== undefined));
  return { ...inv, owned, original };
}

/**
 * The inventory with the ifindex of every owned link and the netns cookie of every owned
 * namespace in `current` (a read made with `session`, whose caches it filled): how the next plan
 * tells Voltron's links and namespaces from namesakes. An owned object not live under its key
 * (gone, or set aside as someone else's) keeps what was recorded: a namesake stays foreign.
 * Adopted namespaces (declared, not made by Voltron) that hold owned objects get their cookie
 * recorded too: if one is recreated, the objects Voltron made in it are gone, and namesakes
 * someone else makes there must not pass for them (see setAsideStale).
 */
export function withIdentities(inv: Inventory, current: StateMap, session: KernelSession): Inventory {
  const ifindex: Record<string, number> = {};
  const netnsCookie: Record<string, string> = {};
  let owned = inv.owned;
  const keys = new Set(Object.keys(inv.owned));
  for (const r of Object.values(inv.owned)) keys.add(resourceKey({ kind: 'namespace', name: resourceNamespace(r) }));
  for (const k of keys) {
    const r = current.get(k);
    if (r?.kind === 'link') ifindex[k] = session.ns(r.namespace).ifindex(r.name);
    // An owned address's IFA_PROTO as verified: Voltron's tag (Linux 6.3+), or 0 where the
    // kernel keeps none (older kernels, addresses an older Voltron made): nothing to tell by.
    const o = owned[k];
    if (r?.kind === 'address' && o?.kind === 'address' && o.protocol !== r.protocol) {
      if (owned === inv.owned) owned = { ...inv.owned };
      (owned as Record<string, Resource>)[k] = { ...o, protocol: r.protocol };
    }
    const cookie = r?.kind === 'namespace' ? session.ns(r.name).cookie() : undefined;
    if (cookie !== undefined) netnsCookie[k] = cookie;
    if (r) continue;
    const oldIndex = inv.ifindex?.[k];
    const oldCookie = inv.netnsCookie?.[k];
    if (oldIndex !== undefined) ifindex[k] = oldIndex;
    if (oldCookie !== undefined) netnsCookie[k] = oldCookie;
  }
  return { ...inv, owned, ifindex, netnsCookie };
}

/** Whether two inventories record the same ifindexes, netns cookies and address protocols. */
export function sameIdentities(a: Inventory, b: Inventory): boolean {
  const same = (x: Readonly<Record<string, unknown>> = {}, y: Readonly<Record<string, unknown>> = {}): boolean => {
    const kx = Object.keys(x);
    return kx.length === Object.keys(y).length && kx.every((k) => x[k] === y[k]);
  };
  const protocols = (inv: Inventory) => {
    const out: Record<string, unknown> = {};
    for (const k in inv.owned) {
      const r = inv.owned[k]!;
      if (r.kind === 'address') out[k] = r.protocol;
    }
    return out;
  };
  return same(a.ifindex, b.ifindex) && same(a.netnsCookie, b.netnsCookie) && same(protocols(a), protocols(b));
}

/** Kinds keyed by the link they sit on (`dev`): on a link Voltron did not make, not Voltron's. */
const ON_LINK: ReadonlySet<ResourceKind> = new Set<ResourceKind>(['address', 'qdisc', 'tclass', 'tfilter']);

export interface Stale {
  /** Owned key → what gives its live object away as not Voltron's. */
  readonly keys: Map<string, string>;
  /** Owned namespaces (logical names) someone else made after Voltron's went → what gives it away. */
  readonly namespaces: ReadonlyMap<string, string>;
  /** Adopted namespaces (logical names) recreated since the owned objects in them were made → why. */
  readonly recreated: ReadonlyMap<string, string>;
  /** Keys of `keys` whose live link, or Voltron's own of that name, is one of Voltron's links renamed by hand. */
  readonly renamed: ReadonlySet<string>;
}

/** Settings are per namespace, not objects made in it: a recreated namespace has them too. */
export const SETTING_KINDS: ReadonlySet<ResourceKind> = new Set<ResourceKind>(['sysctl', 'tunsrc']);

/**
 * Owned keys whose live object Voltron did not make: its own went behind its back and someone
 * made another under the same name (a namespace with another netns cookie than the one
 * recorded, and everything in it; a link with another ifindex, and what sits on such a link; an
 * address without the protocol verified on Voltron's; a qdisc of another kind or handle, a class
 * under another parent, than the one recorded; routes and rules are told apart by
 * protocol in readCurrent). Each is set aside under
 * `<key>#N` in `current`, so the plan treats it as foreign (never updated, replaced or pruned).
 */
export function setAsideStale(session: KernelSession, current: Map<string, Resource>, inventory: Inventory): Stale {
  const stale = new Map<string, string>();
  const namespaces = foreignNamespaces(session, current, inventory, true);
  const recreated = foreignNamespaces(session, current, inventory, false);
  const links = new Set<string>();
  const renamed = new Set<string>();
  const explainRename = renamedLinks(session, current, inventory);
  for (const [k, r] of current) {
    if (inventory.owned[k] === undefined) continue;
    const ns = resourceNamespace(r);
    const foreignNs = namespaces.get(ns);
    if (foreignNs !== undefined) {
      stale.set(k, r.kind === 'namespace' ? foreignNs : `in namespace ${nsLabel(ns)}, which Voltron did not create`);
      continue;
    }
    // An adopted namespace stays adopted; what is in it now was made by someone else.
    if (recreated.has(ns)) {
      if (!SETTING_KINDS.has(r.kind)) stale.set(k, `in namespace ${nsLabel(ns)}, recreated since Voltron's last apply: ${recreated.get(ns)}`);
      continue;
    }
    // Voltron's addresses carry its tag (IFA_PROTO) once verified: one without it is a namesake.
    const known = inventory.owned[k];
    if (r.kind === 'address' && known?.kind === 'address' && known.protocol !== undefined && r.protocol !== known.protocol) {
      stale.set(k, `address protocol ${r.protocol ?? 0}, Voltron's was ${known.protocol}`);
      continue;
    }
    // The kernel keeps no identity for a qdisc or class, nor changes a qdisc's kind or handle or a
    // class's parent in place: Voltron's has the ones it recorded (its own replace records the new
    // ones). Another was put there by hand (`tc qdisc replace`; `tc class del` and `add` elsewhere
    // in the tree), and replacing it back would delete it and what hangs on it.
    if (r.kind === 'qdisc' && known?.kind === 'qdisc' && otherQdisc(r, known)) {
      stale.set(k, `qdisc ${r.qdisc}${r.handle === undefined ? '' : ` ${r.handle}`}, Voltron's was ${known.qdisc}${known.handle === undefined ? '' : ` ${known.handle}`}`);
      continue;
    }
    if (r.kind === 'tclass' && known?.kind === 'tclass' && r.parent !== known.parent) {
      stale.set(k, `class under ${r.parent}, Voltron's was under ${known.parent}`);
      continue;
    }
    const recorded = inventory.ifindex?.[k];
    if (r.kind === 'link' && recorded !== undefined) {
      const now = session.ns(r.namespace).ifindex(r.name);
      if (now !== recorded) {
        const moves = explainRename(r, now, recorded);
        if (moves !== undefined) renamed.add(k);
        stale.set(k, `ifindex ${now}, Voltron's was ${recorded}${moves ?? ''}`);
        links.add(`${r.namespace}/${r.name}`);
      }
    }
  }
  if (links.size > 0) {
    for (const [k, r] of current) {
      if (inventory.owned[k] === undefined || !ON_LINK.has(r.kind)) continue;
      const on = r as Resource & { namespace: string; dev: string };
      if (links.has(`${on.namespace}/${on.dev}`)) stale.set(k, `on link ${on.dev}, which Voltron did not create`);
    }
  }
  for (const k of stale.keys()) {
    const r = current.get(k)!;
    current.delete(k);
    setAside(current, k, r);
  }
  return { keys: stale, namespaces, recreated, renamed };
}

/** A live qdisc of another kind, or another handle, than the one Voltron recorded in its slot (a handle left to the kernel: any). */
function otherQdisc(live: QdiscRes, recorded: QdiscRes): boolean {
  if (live.qdisc !== recorded.qdisc) return true;
  return live.qdisc !== 'clsact' && recorded.handle !== undefined && live.handle !== recorded.handle;
}

/**
 * Indexes are unique in a namespace: a live link with the index recorded for another owned link,
 * or an owned link's recorded index on a live link of another name, is one of Voltron's links
 * renamed by hand (`ip link set A name B`; say, two names swapped). `explain` says so, for what
 * the plan should say instead of "someone else made it" (undefined: neither).
 */
function renamedLinks(session: KernelSession, current: ReadonlyMap<string, Resource>, inventory: Inventory): (r: LinkRes, now: number, recorded: number) => string | undefined {
  // Built on first use (a stale link is rare): "ns|index" → owned key, and → live name.
  let owned: Map<string, string> | undefined;
  let live: Map<string, LinkRes> | undefined;
  return (r, now, recorded) => {
    if (!owned || !live) {
      owned = new Map();
      for (const [k, i] of Object.entries(inventory.ifindex ?? {})) {
        const o = inventory.owned[k];
        if (o?.kind === 'link') owned.set(`${o.namespace}|${i}`, k);
      }
      live = liveLinksByIndex(session, current);
    }
    const other = owned.get(`${r.namespace}|${now}`);
    const mineNow = live.get(`${r.namespace}|${recorded}`)?.name;
    const parts = [
      other === undefined ? undefined : `this one is Voltron's ${resourceLabel(inventory.owned[other]!)}`,
      mineNow === undefined || mineNow === r.name ? undefined : `Voltron's is now named ${visible(mineNow)}`,
    ].filter((x) => x !== undefined);
    return parts.length === 0 ? undefined : `: renamed by hand, ${parts.join('; ')}`;
  };
}

/**
 * Live namespaces whose netns cookie is not the one recorded, owned ones (`owned`) or adopted
 * ones: logical name → why.
 */
function foreignNamespaces(session: KernelSession, current: ReadonlyMap<string, Resource>, inventory: Inventory, owned: boolean): Map<string, string> {
  const out = new Map<string, string>();
  const recorded = inventory.netnsCookie;
  if (recorded === undefined) return out;
  for (const k in recorded) {
    const r = current.get(k);
    if (r?.kind !== 'namespace' || (inventory.owned[k] !== undefined) !== owned) continue;
    const now = session.ns(r.name).cookie(); // one getsockopt on the socket the read opened
    if (now === undefined || now === recorded[k]) continue;
    out.set(r.name, owned ? `netns cookie ${now}, Voltron's was ${recorded[k]}` : `netns cookie ${now}, was ${recorded[k]}`);
  }
  return out;
}

export class NotConverged extends Error {
  constructor(readonly remaining: Plan) {
    super(`apply did not converge; still different after apply:\n  ${remaining.changes.map((c) => `${c.action} ${c.label}: ${c.reason}`).join('\n  ')}`);
    this.name = 'NotConverged';
  }
}
