// Executes one planned change against the kernel. Each kind maps create/update/replace/
// delete onto its kernel module; other modules (tc, bpf) register their own handlers.
import type { LinkRes, Resource, RuleRes } from '../model/types';
import { ruleAddsFirst } from '../plan/handover';
import { ipv6MtuDevice } from '../plan/ipv6-mtu';
import type { Change, Inventory } from '../plan/types';
import { createAddress, deleteAddress } from '../kernel/address';
import { releaseBridgePorts } from '../kernel/bridge-stp';
import { awaitCarrierEvent, createLink, deleteLink, pinBridgeMtu, updateLink } from '../kernel/link';
import { createNamespace, deleteNamespace } from '../kernel/namespace';
import { NetlinkError } from '../kernel/netlink/socket';
import { createRoute, deleteRoute, replaceRoute } from '../kernel/route';
import { createRule, deleteRule } from '../kernel/rule';
import type { KernelSession } from '../kernel/session';
import { readSysctls, writeSysctl } from '../kernel/sysctl';
import { readTunsrc, writeTunsrc } from '../kernel/tunsrc';
import { setBridgeVlans, setVnis } from '../kernel/vlan';
import { mergeRanges, subtractRanges } from '../util/ranges';

export interface ExecContext {
  readonly session: KernelSession;
  readonly inventory: Inventory;
  /**
   * Filled with the value a setting (sysctl, tunsrc) had just before a create wrote it: one planned before its
   * namespace or device existed has no before-state, yet removing it must restore that value.
   */
  readonly found?: Map<string, string>;
  /** Bridges (`ns/name`) whose ports the plan changes: their MTU writes are pins (see execLink). */
  readonly portsMove?: ReadonlySet<string>;
  /** Called between the two kernel writes of a step that makes before it breaks (the fault seam). */
  readonly between?: (c: Change) => void;
  /** Called at named points inside a step that has several (a bpf create's pins; the fault seam). */
  readonly at?: (point: string) => void;
}

export type KindExecutor = (change: Change, ctx: ExecContext) => void;
const executors = new Map<string, KindExecutor>();

/** Register the executor of a resource kind (used by the tc and bpf modules). */
export function registerExecutor(kind: Resource['kind'], fn: KindExecutor): void {
  executors.set(kind, fn);
}

/** Errors of creates the kernel refused because the object already exists (see createRefused). */
const refused = new WeakSet<object>();

/**
 * Whether `e` is a create refused because its object already exists (EEXIST from the creating
 * request itself): the step made nothing, and what holds the key is someone else's (it was absent
 * when planned). Rollback must then leave it alone.
 */
export function createRefused(e: unknown): boolean {
  return typeof e === 'object' && e !== null && refused.has(e);
}

/** Errors of make-before-break rule replaces that failed after their add (see halfDone). */
const halfDone = new WeakSet<object>();

/**
 * Whether `e` failed a rule replace between its two writes: the new rule is live, the old one
 * too (see InventoryBuilder.recordHalf).
 */
export function failedHalfDone(e: unknown): boolean {
  return typeof e === 'object' && e !== null && halfDone.has(e);
}

/** Run an exclusive create, marking an "already exists" refusal (createRefused). */
function exclusive(fn: () => void): void {
  try {
    fn();
  } catch (e) {
    const exists = (e instanceof NetlinkError && e.errno === 17) || (e as NodeJS.ErrnoException)?.code === 'EEXIST';
    if (exists && typeof e === 'object' && e !== null) refused.add(e);
    throw e;
  }
}

/** Deletes tolerate "already gone": the kernel cascades (a link takes its addresses along). */
function ignoringGone(fn: () => void): void {
  try {
    fn();
  } catch (e) {
    if (e instanceof NetlinkError && [2, 3, 19, 99].includes(e.errno)) return; // ENOENT ESRCH ENODEV EADDRNOTAVAIL
    if (e instanceof Error && /not found in namespace/.test(e.message)) return;
    throw e;
  }
}

const LINK_ATTRS = ['mtu', 'mac', 'state', 'master', 'alias'];

function syncLinkExtras(ctx: ExecContext, after: LinkRes, before: LinkRes | undefined): void {
  const ns = ctx.session.ns(after.namespace);
  if (after.vlans !== undefined) {
    const want = new Map(after.vlans.map((v) => [v.vid, v]));
    const have = new Map((before?.vlans ?? []).map((v) => [v.vid, v]));
    const add = [...want.values()].filter((v) => {
      const h = have.get(v.vid);
      return !h || !!h.pvid !== !!v.pvid || !!h.untagged !== !!v.untagged;
    });
    const remove = [...have.values()].filter((v) => !want.has(v.vid));
    setBridgeVlans(ns, after.name, after.type === 'bridge', add, remove);
  }
  if (after.vnis !== undefined) {
    // Run arithmetic: linear in the runs, whatever the number of VNIs.
    const want = mergeRanges(after.vnis);
    const have = mergeRanges(before?.vnis ?? []);
    setVnis(ns, after.name, subtractRanges(want, have), subtractRanges(have, want));
  }
}

/** A veth end the pair just created: set its declared attributes, as its own create would. */
function setPeerAttributes(ctx: ExecContext, peer: LinkRes): void {
  updateLink(ctx.session, peer, LINK_ATTRS.filter((f) => (peer as unknown as Record<string, unknown>)[f] !== undefined));
  syncLinkExtras(ctx, peer, undefined);
}

function execLink(c: Change, ctx: ExecContext): void {
  const before = c.before as LinkRes | undefined;
  const after = c.after as LinkRes | undefined;
  const s = ctx.session;
  if (c.action === 'delete') return ignoringGone(() => deleteLink(s, before!));
  // A veth end created by its peer's change (createdBy) is never deleted or created here:
  // deleting it would take the pair, creating it is the primary's job.
  if (c.action === 'replace' && before && !c.createdBy) ignoringGone(() => deleteLink(s, before));
  if (c.action === 'create' || c.action === 'replace') {
    if (c.createdBy || (after!.type === 'veth' && after!.veth && !after!.veth.primary)) {
      // The pair was created by the primary end: set this end's own attributes.
      updateLink(s, after!, LINK_ATTRS.filter((f) => (after as unknown as Record<string, unknown>)[f] !== undefined));
    } else {
      exclusive(() => createLink(s, after!));
    }
    syncLinkExtras(ctx, after!, undefined);
    if (c.pairedPeer) setPeerAttributes(ctx, c.pairedPeer);
    return;
  }
  const fields = c.fields.map((f) => f.field);
  // The same MTU before and after: a bridge's pin (src/plan/bridge-mtu.ts). A changed MTU too when
  // the bridge's ports move: ports deleted earlier in the plan may already have brought the bridge
  // to the declared MTU, and the kernel ignores (and does not mark) a write of the MTU it has.
  const moving = ctx.portsMove?.has(`${after!.namespace}/${after!.name}`) === true;
  const pin = after!.type === 'bridge' && c.fields.some((f) => f.field === 'mtu' && (f.before === f.after || moving));
  if (pin) pinBridgeMtu(s, after!);
  updateLink(s, after!, fields.filter((f) => !f.startsWith('vlans') && !f.startsWith('vnis') && !(pin && f === 'mtu')));
  if (after!.type === 'bridge' && fields.includes('bridge.stp') && !after!.bridge?.stp) releaseBridgePorts(s.ns(after!.namespace), after!.name);
  if (fields.some((f) => f.startsWith('vlans') || f.startsWith('vnis'))) syncLinkExtras(ctx, after!, before);
}

function restoreValue(c: Change, ctx: ExecContext): string | undefined {
  const r = c.restore;
  if (r?.kind === 'sysctl') return r.value;
  if (r?.kind === 'tunsrc') return r.address;
  return ctx.inventory.original[c.key];
}

export function executeChange(c: Change, ctx: ExecContext): void {
  const s = ctx.session;
  const ext = executors.get(c.kind);
  if (ext) return ext(c, ctx);
  switch (c.kind) {
    case 'namespace':
      if (c.action === 'delete') return deleteNamespace(s, c.before as never);
      if (c.action === 'create') return exclusive(() => createNamespace(s, c.after as never));
      return; // a namespace has no fields to update
    case 'link':
      return execLink(c, ctx);
    case 'address':
      if (c.action !== 'create') ignoringGone(() => deleteAddress(s, c.before as never));
      if (c.action !== 'delete') exclusive(() => createAddress(s, c.after as never));
      return;
    case 'route':
      if (c.action === 'update') return replaceRoute(s, c.after as never, c.before as never);
      if (c.action !== 'create') ignoringGone(() => deleteRoute(s, c.before as never));
      if (c.action !== 'delete') exclusive(() => createRoute(s, c.after as never));
      return;
    case 'rule':
      if (c.action === 'replace' && ruleAddsFirst(c.before as RuleRes, c.after as RuleRes)) {
        // Make before break (see ruleAddsFirst): the old rule, first at its priority, keeps
        // matching until it goes; then the new one does.
        exclusive(() => createRule(s, c.after as RuleRes));
        try {
          ctx.between?.(c);
          return ignoringGone(() => deleteRule(s, c.before as RuleRes));
        } catch (e) {
          if (typeof e === 'object' && e !== null) halfDone.add(e);
          throw e;
        }
      }
      if (c.action !== 'create') ignoringGone(() => deleteRule(s, c.before as never));
      if (c.action !== 'delete') exclusive(() => createRule(s, c.after as never));
      return;
    case 'sysctl': {
      const res = (c.after ?? c.before) as { namespace: string; key: string; value: string };
      const target = c.action === 'delete' ? restoreValue(c, ctx) : res.value;
      if (c.action === 'create' && !c.before && ctx.found) {
        const [now] = readSysctls(s, res.namespace, [res.key]);
        if (now) ctx.found.set(c.key, now.value);
      }
      // The kernel resets a device's IPv6 mtu when it acts on a carrier that came on: after that.
      const dev = ipv6MtuDevice(res.key);
      if (dev !== undefined && target !== undefined) ignoringGone(() => awaitCarrierEvent(s.ns(res.namespace), dev));
      if (target !== undefined) writeSysctl(s, { namespace: res.namespace, key: res.key, value: target });
      return;
    }
    case 'tunsrc': {
      // Like a sysctl: one planned before its namespace existed records the value found now.
      if (c.action === 'create' && !c.before && ctx.found) ctx.found.set(c.key, readTunsrc(s, (c.after as { namespace: string }).namespace).address);
      const target = c.action === 'delete' ? restoreValue(c, ctx) ?? '::' : (c.after as { address: string }).address;
      writeTunsrc(s, { namespace: ((c.before ?? c.after) as { namespace: string }).namespace, address: target });
      return;
    }
    default:
      throw new Error(`${c.label}: no executor for kind ${c.kind} (module not loaded)`);
  }
}
