// Declared programs on a clsact hook: a direct-action cls_bpf filter, not a bpf_link. Nothing
// to pin but the program (<dir>/prog), so the filter is found again by its place, recorded in
// meta: namespace, ifindex, direction, priority, handle. Read through the tc filter dump.
import fs from 'node:fs';
import { CLSACT_DEFAULT_PRIORITY, type BpfAttach } from '../../model/types';
import { BpfProgram, TcFilter, attachTcClsact, destroyClsact, resolveIfindex, type ProgramLike } from '../libbpf';
import type { KernelSession, NsContext } from '../session';
import { decodeBpfOptions } from '../tc/filter';
import { CLSACT_EGRESS, CLSACT_HANDLE, CLSACT_INGRESS, TC_H_CLSACT, directionParent } from '../tc/handles';
import { dumpFilters, dumpQdiscs } from '../tc/raw';
import type { BpfMeta } from './meta';
import { bpfRoot, programDir, progPin, stagedProgPin } from './paths';

export { CLSACT_DEFAULT_PRIORITY };
/** Handle of our filter at its priority. */
export const CLSACT_FILTER_HANDLE = 1;

export interface ClsactTarget {
  readonly netns: string | null;
  readonly ifindex: number;
  readonly direction: 'ingress' | 'egress';
  readonly priority: number;
  readonly handle: number;
}

export interface LiveFilter {
  readonly progId: number;
  readonly tag: string;
}

/** attach.priority, else the default. */
export function clsactPriority(a: BpfAttach): number {
  return a.priority ?? CLSACT_DEFAULT_PRIORITY;
}

/** The recorded filter place, or undefined when meta is not a complete clsact record. */
export function recordedTarget(meta: BpfMeta): ClsactTarget | undefined {
  const t = meta.target;
  if (meta.attach.type !== 'clsact' || t.ifindex === undefined || !t.direction || t.priority === undefined || t.handle === undefined) return undefined;
  return { netns: t.netns ?? null, ifindex: t.ifindex, direction: t.direction, priority: t.priority, handle: t.handle };
}

export function sameTarget(a: ClsactTarget, b: ClsactTarget): boolean {
  return a.netns === b.netns && a.ifindex === b.ifindex && a.direction === b.direction && a.priority === b.priority && a.handle === b.handle;
}

/**
 * Netlink context of the recorded namespace if it still exists and still is the device named in
 * the declaration (a recreated device has a new ifindex: our filter went with the old one).
 */
function placeContext(session: KernelSession, meta: BpfMeta, t: ClsactTarget): NsContext | undefined {
  const logical = meta.attach.namespace ?? '';
  if (session.physical(logical) !== t.netns || !session.exists(logical)) return undefined;
  try {
    if (resolveIfindex({ ifname: meta.attach.dev!, netns: t.netns }) !== t.ifindex) return undefined;
  } catch {
    return undefined;
  }
  return session.ns(logical);
}

function pinnedProgId(pin: string): number | undefined {
  if (!fs.existsSync(pin)) return undefined;
  try {
    const p = BpfProgram.openPinned(pin);
    try {
      return p.id;
    } finally {
      p.close();
    }
  } catch {
    return undefined;
  }
}

/**
 * The programs of a record: the one it names, and those pinned in its directory (`prog`, and
 * `prog_new` while a swap is under way, so a crash between the swap and the record keeps the
 * filter recognisably ours). A filter at the recorded place running any other program is not
 * ours: someone deleted ours and added theirs (`tc filter add ... bpf` takes pref 49152, handle
 * 1 too), or put another program in it by hand.
 */
export function ownProgIds(session: KernelSession, meta: BpfMeta): ReadonlySet<number> {
  const dir = programDir(bpfRoot(session.sandbox), meta.name);
  const ids = [meta.progId, pinnedProgId(progPin(dir)), pinnedProgId(stagedProgPin(dir))];
  return new Set(ids.filter((id): id is number => id !== undefined && id > 0));
}

/** Our filter at `t`: a bpf filter there running one of `ours` (anything else is someone else's). */
function findFilter(ctx: NsContext, t: ClsactTarget, ours: ReadonlySet<number>): LiveFilter | undefined {
  const f = dumpFilters(ctx, t.ifindex, directionParent(t.direction)).find((x) => x.kind === 'bpf' && x.chain === 0 && x.info >>> 16 === t.priority && x.handle === t.handle);
  if (!f) return undefined;
  const o = decodeBpfOptions(f.options);
  return o.id && o.tag && ours.has(o.id) ? { progId: o.id, tag: o.tag } : undefined;
}

/** Program in our recorded filter now, or undefined (namespace, device, qdisc or filter gone, or not ours). */
export function liveFilter(session: KernelSession, meta: BpfMeta): LiveFilter | undefined {
  const t = recordedTarget(meta);
  if (!t) return undefined;
  try {
    const ctx = placeContext(session, meta, t);
    return ctx ? findFilter(ctx, t, ownProgIds(session, meta)) : undefined;
  } catch {
    return undefined;
  }
}

function clsactExists(ctx: NsContext, ifindex: number): boolean {
  return dumpQdiscs(ctx).some((q) => q.ifindex === ifindex && q.kind === 'clsact' && q.handle === CLSACT_HANDLE);
}

/**
 * Filters at the hook and priority `a` declares that run none of `ours` (a bpf filter running
 * another program, or any other classifier), as `tc` would name them; empty when the namespace,
 * device or clsact is not there yet.
 */
export function foreignFiltersAt(session: KernelSession, a: BpfAttach, ours: ReadonlySet<number>): string[] {
  const logical = a.namespace ?? '';
  if (!session.exists(logical)) return [];
  try {
    const ifindex = resolveIfindex({ ifname: a.dev!, netns: session.physical(logical) });
    const ctx = session.ns(logical);
    if (!clsactExists(ctx, ifindex)) return [];
    const priority = clsactPriority(a);
    return dumpFilters(ctx, ifindex, directionParent(a.direction!))
      .filter((f) => f.info >>> 16 === priority)
      .flatMap((f) => {
        if (f.kind !== 'bpf') return [`${f.kind} handle 0x${f.handle.toString(16)}`];
        const o = decodeBpfOptions(f.options);
        return o.id !== undefined && ours.has(o.id) ? [] : [`bpf handle 0x${f.handle.toString(16)}${o.name ? ` ${o.name}` : ''} prog id ${o.id ?? '?'} tag ${o.tag ?? '?'}`];
      });
  } catch {
    return []; // device gone meanwhile: the apply reports what it finds
  }
}

/**
 * The kind of a qdisc other than clsact holding the device's ingress/clsact slot (`ingress`), if
 * any. The attach takes it for the clsact (the hook create answers EEXIST), and an ingress qdisc
 * has one filter block whatever the parent: a filter added for egress runs on ingress traffic.
 */
export function otherQdiscInClsactSlot(session: KernelSession, a: BpfAttach): string | undefined {
  const logical = a.namespace ?? '';
  if (!session.exists(logical)) return undefined;
  try {
    const ifindex = resolveIfindex({ ifname: a.dev!, netns: session.physical(logical) });
    return dumpQdiscs(session.ns(logical)).find((q) => q.ifindex === ifindex && q.parent === TC_H_CLSACT && q.kind !== 'clsact')?.kind;
  } catch {
    return undefined; // device gone meanwhile: the apply reports what it finds
  }
}

/** A handle on an existing filter (update/detach only; nothing is created). */
export function filterAt(t: ClsactTarget, progId = 0): TcFilter {
  return new TcFilter(t.ifindex, t.netns, t.direction, t.handle, t.priority, progId);
}

export interface ClsactAttached {
  readonly filter: TcFilter;
  readonly target: ClsactTarget;
  readonly clsactCreated: boolean;
  /** Our filter was already at this place and only got the new program. */
  readonly inPlace: boolean;
}

/**
 * Ensure clsact and add our filter (NLM_F_EXCL: a foreign filter at that place is an error, not
 * overwritten). When `prev` recorded this very place and the filter is still there, it is ours:
 * the program is swapped in place instead. `onPlace` learns the place (and whether the clsact
 * will be Voltron's) before anything is added there.
 */
export function attachClsact(session: KernelSession, prog: ProgramLike, a: BpfAttach, prev?: BpfMeta, onPlace?: (target: ClsactTarget, clsactCreated: boolean) => void): ClsactAttached {
  const logical = a.namespace ?? '';
  const netns = session.physical(logical);
  const ifindex = resolveIfindex({ ifname: a.dev!, netns });
  const target: ClsactTarget = { netns, ifindex, direction: a.direction!, priority: clsactPriority(a), handle: CLSACT_FILTER_HANDLE };
  const ctx = session.ns(logical);
  const existed = clsactExists(ctx, ifindex);
  const old = prev && recordedTarget(prev);
  const prevOwnsQdisc = !!prev?.clsactCreated && !!old && old.netns === netns && old.ifindex === ifindex;
  let filter: TcFilter;
  const inPlace = !!prev && !!old && sameTarget(old, target) && findFilter(ctx, target, ownProgIds(session, prev)) !== undefined;
  if (inPlace) {
    filter = filterAt(target);
    filter.update(prog);
  } else {
    if (existed && dumpFilters(ctx, ifindex, directionParent(target.direction)).some((x) => x.info >>> 16 === target.priority))
      throw new Error(
        `clsact ${target.direction} on ${logical || '(root)'}/${a.dev}: pref ${target.priority} already holds a tc filter that is not this program's; it is left as is (remove it or use another priority)`,
      );
    onPlace?.(target, !existed || prevOwnsQdisc);
    try {
      filter = attachTcClsact(prog, { ifindex, netns, direction: target.direction, handle: target.handle, priority: target.priority });
    } catch (e) {
      if (!existed) quietly(() => removeEmptyClsact(ctx, target)); // the hook create made one just now
      throw e;
    }
  }
  return { filter, target, clsactCreated: !existed || prevOwnsQdisc, inPlace };
}

/** Cleanup after a failure: its own error must not hide the one being reported. */
function quietly(fn: () => void): void {
  try {
    fn();
  } catch {
    // the original error is what matters
  }
}

function removeEmptyClsact(ctx: NsContext, t: ClsactTarget): void {
  if (!clsactExists(ctx, t.ifindex)) return;
  const left = dumpFilters(ctx, t.ifindex, CLSACT_INGRESS).length + dumpFilters(ctx, t.ifindex, CLSACT_EGRESS).length;
  if (left === 0) destroyClsact({ ifindex: t.ifindex, netns: t.netns });
}

/** Undo an attach whose commit failed: the filter it added, and the clsact if it made it. */
export function undoAttach(session: KernelSession, a: ClsactAttached, logical: string): void {
  if (a.inPlace) return; // the filter was ours before; it now runs the new program, still ours
  quietly(() => a.filter.detach());
  if (a.clsactCreated) quietly(() => removeEmptyClsact(session.ns(logical), a.target));
}

/**
 * Remove the recorded filter if it is still ours (already gone is fine; one running another
 * program is someone else's and stays); then the clsact qdisc too if Voltron created it and no
 * filter is left on either hook.
 */
export function dropFilter(session: KernelSession, meta: BpfMeta): void {
  const t = recordedTarget(meta);
  if (!t) return;
  const ctx = placeContext(session, meta, t);
  if (!ctx) return; // namespace or device gone: the filter went with it
  if (findFilter(ctx, t, ownProgIds(session, meta))) filterAt(t).detach();
  if (meta.clsactCreated) removeEmptyClsact(ctx, t);
}
