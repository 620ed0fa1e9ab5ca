// Rollback by convergence, not by replaying inverse steps. Before an apply we record the
// restore target: the pre-apply live state of every object the apply could touch. Undoing is
// then an ordinary plan (desired = that snapshot, current = live) executed by the same engine.
//
// Why not only invert the journal's steps in reverse? Kernel cascades: deleting a link takes its
// addresses and routes, deleting a namespace takes everything inside, recreating a link gives it
// a new ifindex and no addresses. "create(before)" of one object does not bring back what
// vanished with it, and a step interrupted by SIGKILL may be half done (a veth pair created,
// its VLANs not yet set). A restore plan computed against what is really live handles all of
// that, orders itself by the same dependency rules as any plan, and is idempotent: if the
// rollback itself is interrupted, running it again converges to the same state.
// `inverseChange` documents the per-step inverse and is used for the report only.
import { resourceLabel } from '../model/keys';
import { VOLTRON_RTPROT, vxlanIsV6, type LinkRes, type Resource, type RuleRes, type StateMap } from '../model/types';
import { sameRule } from '../plan/handover';
import { pushTo } from '../util/multimap';
import { computePlan } from '../plan';
import { bridgesWithPortChanges } from '../plan/bridge-mtu';
import type { Change, Inventory, Plan } from '../plan/types';
import type { KernelSession } from '../kernel/session';
import { executeChange } from './execute';
import { readCurrent, type PlanResult } from './reconcile';
import { setAside } from '../kernel/read';

export interface RestoreTarget {
  /** Pre-apply live objects that are owned, desired or changed by the plan: restored exactly. */
  readonly objects: Readonly<Record<string, Resource>>;
  /** Every key the plan may create or change (with its desired or live form): removed if not in `objects`. */
  readonly scope: Readonly<Record<string, Resource>>;
  /**
   * Foreign pre-apply objects: never touched by the restore. Those a cascade took with an owned
   * container are not recreated (the kernel regenerates its own: lo, link-local addresses,
   * kernel routes, default rules, and a re-creation of others would guess); they are reported.
   */
  readonly foreign: Readonly<Record<string, Resource>>;
  /**
   * Owned keys whose live object someone else made after Voltron's went (PlanResult.notOurs):
   * the restore neither owns nor removes them (absent in journals of older versions).
   */
  readonly notOurs?: readonly string[];
}

function strip(r: Resource): Resource {
  const { source: _s, ...rest } = r as Resource & { source?: unknown };
  return rest as Resource;
}

/** The restore target of an apply, from its plan result and the pre-apply inventory. */
export function restoreTargetOf(pr: PlanResult, inventory: Inventory): RestoreTarget {
  const scope: Record<string, Resource> = {};
  for (const c of pr.plan.changes) scope[c.key] = strip((c.after ?? c.before)!);
  const mine = new Set([...Object.keys(inventory.owned), ...pr.desired.keys(), ...Object.keys(scope)]);
  const objects: Record<string, Resource> = {};
  const foreign: Record<string, Resource> = {};
  for (const [k, r] of pr.current) (mine.has(k) ? objects : foreign)[k] = strip(r);
  return { objects, scope, foreign, ...(pr.notOurs.length ? { notOurs: pr.notOurs } : {}) };
}

/** The per-step inverse (for reports): what undoing one executed change means. */
export function inverseChange(c: Change): Change[] {
  const base = { key: c.key, kind: c.kind, label: c.label, reason: `undo ${c.action}`, dependsOn: [], disruptive: true };
  const back = c.fields.map((f) => ({ field: f.field, before: f.after, after: f.before }));
  switch (c.action) {
    case 'create':
      return [{ ...base, action: 'delete', fields: [], before: c.after! }];
    case 'delete':
      return [{ ...base, action: 'create', fields: [], after: c.before! }];
    case 'update':
      return [{ ...base, action: 'update', fields: back, before: c.after!, after: c.before! }];
    case 'replace':
      return [
        { ...base, action: 'delete', fields: [], before: c.after! },
        { ...base, action: 'create', fields: [], after: c.before! },
      ];
  }
}

export interface RestoreOutcome {
  readonly plan: Plan;
  readonly executed: readonly Change[];
  readonly errors: readonly { readonly change: Change; readonly error: Error }[];
  /** What still differs from the pre-apply state after the restore (empty: verified). */
  readonly remaining: Plan;
  /** Labels of foreign pre-apply objects that are gone (taken by a cascade of the plan). */
  readonly foreignGone: readonly string[];
  /** Values the apply set that no kernel call clears (an UNCLEARABLE field unset before): kept, said so. */
  readonly kept: readonly string[];
  /** The live state read after the restore. */
  readonly current: ReadonlyMap<string, Resource>;
}

function inputs(session: KernelSession, target: RestoreTarget, inv: Inventory): { desired: StateMap; current: Map<string, Resource>; inventory: Inventory } {
  const owned: Record<string, Resource> = { ...inv.owned, ...target.scope, ...target.objects };
  for (const k of target.notOurs ?? []) delete owned[k];
  const inventory: Inventory = { ...inv, owned };
  const desired = new Map<string, Resource>(Object.entries(target.objects));
  const current = readLive(session, target, desired, inventory);
  reachableVxlanMtus(desired, current);
  return { desired, current, inventory: withHandoverLeftovers(target, current, inventory) };
}

/**
 * A rule replace made before it is broken (plan/handover.ts ruleAddsFirst) and interrupted
 * between its two writes leaves both rules at one priority, both Voltron's: the read keeps the
 * first under the key and sets the other aside (`<key>#N`), where the restore would leave it as
 * someone else's. The old rule (the snapshot's) is put under the key and the new one (the
 * plan's) is owned where it was set aside, so the restore deletes it, by its full spec; unless
 * such a rule was there before the apply (set aside as foreign then).
 */
function withHandoverLeftovers(target: RestoreTarget, current: Map<string, Resource>, inv: Inventory): Inventory {
  const replaced = Object.keys(target.scope).filter((k) => target.scope[k]!.kind === 'rule' && target.objects[k]?.kind === 'rule');
  if (replaced.length === 0) return inv;
  const aside = new Map<string, string[]>();
  for (const k of current.keys()) {
    const at = k.lastIndexOf('#');
    if (at > 0 && current.get(k)!.kind === 'rule') pushTo(aside, k.slice(0, at), k);
  }
  let owned: Record<string, Resource> | undefined;
  for (const k of replaced) {
    const old = target.objects[k] as RuleRes;
    const made = target.scope[k] as RuleRes;
    // A twin of the new rule live before the apply (left by an earlier one) is not this apply's.
    if (sameRule(old, made) || Object.keys(target.foreign).some((f) => f.startsWith(`${k}#`) && sameRule(target.foreign[f] as RuleRes, made))) continue;
    const slots = [k, ...(aside.get(k) ?? [])].filter((s) => current.has(s));
    const oldAt = slots.find((s) => sameRule(current.get(s) as RuleRes, old));
    const madeAt = slots.find((s) => s !== oldAt && (current.get(s) as RuleRes).protocol === (made.protocol ?? VOLTRON_RTPROT) && sameRule(current.get(s) as RuleRes, made));
    if (oldAt === undefined || madeAt === undefined) continue;
    const o = current.get(oldAt)!;
    const m = current.get(madeAt)!;
    const slot = madeAt === k ? oldAt : madeAt;
    current.set(k, o);
    current.set(slot, m);
    (owned ??= { ...inv.owned })[slot] = m;
  }
  return owned === undefined ? inv : { ...inv, owned };
}

/**
 * A VXLAN keeps its MTU when its device's is lowered afterwards (the kernel does not follow),
 * so a snapshot can hold one above the device's less the headers (50 bytes, 70 over IPv6).
 * That MTU cannot be recreated: the kernel lowers it at creation and refuses it later. Unless
 * the VXLAN is still live with it, the target is what the kernel gives.
 */
function reachableVxlanMtus(desired: Map<string, Resource>, current: ReadonlyMap<string, Resource>): void {
  for (const [k, r] of desired) {
    if (r.kind !== 'link' || r.type !== 'vxlan' || r.mtu === undefined || r.vxlan?.dev === undefined) continue;
    const live = current.get(k);
    if (live?.kind === 'link' && live.mtu === r.mtu) continue;
    const dev = [desired, current].map((m) => linkOf(m, r.namespace, r.vxlan!.dev!)).find((l) => l?.mtu !== undefined);
    if (dev === undefined) continue;
    const max = Math.max(68, dev.mtu! - (vxlanIsV6(r.vxlan) ? 70 : 50));
    if (r.mtu > max) desired.set(k, { ...r, mtu: max });
  }
}

function linkOf(m: ReadonlyMap<string, Resource>, namespace: string, name: string): LinkRes | undefined {
  for (const r of m.values()) if (r.kind === 'link' && r.namespace === namespace && r.name === name) return r;
  return undefined;
}

/** readCurrent, with namesakes someone else made set aside as the plan did (a prune would delete them). */
function readLive(session: KernelSession, target: RestoreTarget, desired: StateMap, inventory: Inventory, mode: 'plan' | 'show' = 'plan'): Map<string, Resource> {
  const current = readCurrent(session, desired, inventory, mode);
  for (const k of target.notOurs ?? []) {
    const r = current.get(k);
    if (r === undefined) continue;
    current.delete(k);
    setAside(current, k, r);
  }
  return current;
}

/**
 * Fields an absent value of which is the kernel's choice, not a value to write back: a link
 * without a MAC in the snapshot is a bridge whose last port left (all-zero address, which the
 * kernel refuses to set); recreated, it has a random one.
 */
const UNCLEARABLE: ReadonlySet<string> = new Set(['mac']);
const UNCLEARABLE_WHY: Readonly<Record<string, string>> = { mac: "it had the kernel's all-zero MAC before the apply, which no kernel call sets back" };

/**
 * Fields the live object has but the snapshot lacks (an apply set an optional field such as a
 * link's alias or master that was unset before). The plan engine treats an absent desired
 * field as "not managed", so the restore adds an explicit update clearing them.
 */
function clearedFields(plan: Plan, desired: StateMap, current: ReadonlyMap<string, Resource>): Change[] {
  const planned = new Set(plan.changes.map((c) => c.key));
  const out: Change[] = [];
  for (const [k, want] of desired) {
    const live = current.get(k);
    if (!live || planned.has(k)) continue;
    const w = want as unknown as Record<string, unknown>;
    const l = live as unknown as Record<string, unknown>;
    const extra = Object.keys(l).filter((f) => f !== 'source' && !UNCLEARABLE.has(f) && l[f] !== undefined && w[f] === undefined);
    if (extra.length === 0) continue;
    out.push({
      action: 'update',
      key: k,
      kind: want.kind,
      label: resourceLabel(want),
      reason: `clear ${extra.join(', ')} (unset before the apply)`,
      fields: extra.map((f) => ({ field: f, before: l[f], after: undefined })),
      disruptive: false,
      before: live,
      after: want,
      dependsOn: [],
    });
  }
  return out;
}

/**
 * UNCLEARABLE values the apply set that the restore leaves: unset in the snapshot, live with
 * the value the plan wrote. Not a difference the verification can fix, but one the user is
 * told about (a bridge that had the all-zero MAC and was given one keeps it: "nothing changed"
 * would not be true). A value the kernel chose (a recreated bridge's random MAC) is not one.
 */
function keptFields(target: RestoreTarget, current: ReadonlyMap<string, Resource>): string[] {
  const out: string[] = [];
  for (const [k, want] of Object.entries(target.objects)) {
    const live = current.get(k) as unknown as Record<string, unknown> | undefined;
    const set = target.scope[k] as unknown as Record<string, unknown> | undefined;
    if (!live || !set) continue;
    const w = want as unknown as Record<string, unknown>;
    for (const f of UNCLEARABLE) {
      if (w[f] === undefined && live[f] !== undefined && live[f] === set[f]) out.push(`${resourceLabel(want)} keeps ${f} ${String(live[f])}: ${UNCLEARABLE_WHY[f]}`);
    }
  }
  // A sysctl that could not be read before the apply and now holds what it wrote: one with no
  // "unset" to write (IPv6 stable_secret reads EIO until first set, and stays set).
  for (const [k, set] of Object.entries(target.scope)) {
    const live = current.get(k);
    if (set.kind !== 'sysctl' || target.objects[k] !== undefined || live?.kind !== 'sysctl' || live.value !== set.value) continue;
    out.push(`${resourceLabel(set)} keeps ${live.value}: it was unset before the apply, and the kernel has no way to unset it`);
  }
  return out;
}

/**
 * Bring the live state back to the restore target. Best effort: a failing change is recorded
 * and the rest still run (restore as much as possible); `remaining` tells whether it worked.
 */
export function restore(session: KernelSession, target: RestoreTarget, preInventory: Inventory): RestoreOutcome {
  const executed: Change[] = [];
  const errors: { change: Change; error: Error }[] = [];
  const first = inputs(session, target, preInventory);
  const main = computePlan(first);
  // Clearing runs after the main plan (which recreates what is missing) on a fresh read.
  const run = (changes: readonly Change[], inventory: Inventory) => {
    const portsMove = bridgesWithPortChanges(changes);
    for (const c of changes) {
      try {
        executeChange(c, { session, inventory, portsMove });
        executed.push(c);
      } catch (e) {
        errors.push({ change: c, error: e as Error });
      }
    }
  };
  run(main.changes, first.inventory);
  const mid = inputs(session, target, preInventory);
  const clears = clearedFields(computePlan(mid), mid.desired, mid.current);
  run(clears, mid.inventory);
  const again = inputs(session, target, preInventory);
  const left = computePlan(again);
  const remaining: Plan = { ...left, changes: [...left.changes, ...clearedFields(left, again.desired, again.current)] };
  // The foreign objects were read in full (a plan that removes a container reads everything); a
  // plan read skips kinds and families nothing owned uses: only a full read tells what is gone.
  const live = Object.keys(target.foreign).length === 0 ? again.current : readLive(session, target, again.desired, again.inventory, 'show');
  const foreignGone = Object.entries(target.foreign)
    .filter(([k]) => !live.has(k))
    .map(([, r]) => resourceLabel(r));
  const kept = keptFields(target, again.current);
  return { plan: { ...main, changes: [...main.changes, ...clears] }, executed, errors, remaining, foreignGone, kept, current: again.current };
}
