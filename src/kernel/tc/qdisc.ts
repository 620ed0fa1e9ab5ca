// Qdiscs: read (one RTM_GETQDISC dump per namespace) and write (create/update/replace/delete).
import { QDISCS_RECREATED_ON_CHANGE, type QdiscKind, type QdiscRes } from '../../model/types';
import * as R from '../netlink/rtnl';
import { NLM_F_CREATE, NLM_F_EXCL, NLM_F_REPLACE } from '../netlink/socket';
import type { KernelSession, NsContext } from '../session';
import { CLSACT_HANDLE, TC_H_CLSACT, TC_H_ROOT, formatParent, formatTcId, parseParent, parseQdiscHandle, tcHandle, tcMajor, tcMinor } from './handles';
import { decodeQdiscOptions, encodeQdiscOptions, htbUnmodelledAttrs, restorableQdiscOptions } from './options';
import { restoredClassOptions } from './tclass';
import { dumpClasses, dumpQdiscs, ignoringGone, tcRequest, type RawTc } from './raw';
import { psched, type Psched } from './rates';


/**
 * Model form of a dumped qdisc, or undefined for the kernel's own defaults: every qdisc the
 * kernel attaches by itself (noqueue, pfifo_fast, mq and its children, fq_codel as
 * default_qdisc, the pfifo leaf of a new htb class) has handle 0; user-created ones never do.
 */
export function qdiscFromRaw(ns: string, dev: string, q: RawTc, p: Psched = psched()): QdiscRes | undefined {
  if (q.handle === 0) return undefined;
  const ingressSlot = q.parent === TC_H_CLSACT;
  const base = { kind: 'qdisc' as const, namespace: ns, dev, parent: ingressSlot ? 'clsact' : formatParent(q.parent) };
  // Kinds outside QdiscKind (prio, ingress...) are reported as-is so a declared qdisc in the
  // same slot plans a replace instead of failing with EEXIST; their options are opaque.
  const qdisc = q.kind as QdiscKind;
  if (q.kind === 'clsact') return { ...base, qdisc, options: {} };
  return { ...base, handle: formatTcId(q.handle), qdisc, options: decodeQdiscOptions(q.kind, q.options, p) };
}

/** Declared qdiscs of a namespace (defaults skipped), with the raw entries for the class/filter readers. */
export function readQdiscs(ctx: NsContext, names: ReadonlyMap<number, string>): { res: QdiscRes[]; raw: RawTc[] } {
  const raw = dumpQdiscs(ctx);
  const res: QdiscRes[] = [];
  const p = psched();
  for (const q of raw) {
    const dev = names.get(q.ifindex);
    if (dev === undefined) continue;
    const r = qdiscFromRaw(ctx.logical, dev, q, p);
    if (r) res.push(r);
  }
  return { res, raw };
}

function handleOf(q: QdiscRes): number {
  return q.qdisc === 'clsact' ? CLSACT_HANDLE : parseQdiscHandle(q.handle);
}

function parentOf(q: QdiscRes): number {
  const p = parseParent(q.qdisc === 'clsact' ? 'clsact' : q.parent);
  if (p === undefined) throw new Error(`qdisc ${q.dev}: bad parent '${q.parent}'`);
  return p;
}

function label(q: QdiscRes): string {
  return `qdisc ${q.qdisc} ${q.handle ?? ''} on ${q.dev} parent ${q.parent}`.replace(/ {2}/g, ' ');
}

function send(session: KernelSession, q: QdiscRes, handle: number, flags: number, op: string): void {
  const ctx = session.ns(q.namespace);
  const msg = tcRequest(ctx.ifindex(q.dev), handle, parentOf(q), 0, q.qdisc, encodeQdiscOptions(q.qdisc, q.options));
  ctx.sock.request(R.RTM_NEWQDISC, flags, msg, `${op} ${label(q)}`);
}

/** Create; fails with EEXIST if a non-default qdisc already sits in that slot. */
export function createQdisc(session: KernelSession, q: QdiscRes): void {
  send(session, q, handleOf(q), NLM_F_CREATE | NLM_F_EXCL, 'create');
}

/**
 * Change options in place (same kind, same handle: `tc qdisc change`). htb has no change
 * operation in the kernel: it is recreated with its classes and child qdiscs restored
 * (see recreateKeepingChildren). clsact has no options.
 */
export function updateQdisc(session: KernelSession, after: QdiscRes, before?: QdiscRes): void {
  if (after.qdisc === 'clsact') return;
  const handle = handleOf(after) || (before ? handleOf(before) : 0);
  if (QDISCS_RECREATED_ON_CHANGE.has(after.qdisc)) return recreateKeepingChildren(session, { ...after, handle: formatTcId(handle) });
  send(session, after, handle, 0, 'change');
}

/**
 * Replace the qdisc in a slot by another (kind or handle change). When the handle changes (or
 * is left to the kernel) this is one NLM_F_CREATE|NLM_F_REPLACE request: the kernel builds the
 * new qdisc and swaps it in atomically (`tc qdisc replace`). The kernel refuses that swap when
 * the new qdisc keeps the old handle with another kind, and never regrafts the ingress/clsact
 * slot: those are delete + create, with default queueing in between. Either way the old qdisc's
 * classes, child qdiscs and filters go with it.
 */
export function replaceQdisc(session: KernelSession, before: QdiscRes | undefined, after: QdiscRes): void {
  if (!before) return send(session, after, handleOf(after), NLM_F_CREATE | NLM_F_REPLACE, 'replace');
  const sameHandle = after.handle === undefined || handleOf(after) === handleOf(before);
  if (before.qdisc === after.qdisc && sameHandle) return updateQdisc(session, after, before);
  const ingressSlot = parentOf(after) === TC_H_CLSACT || parentOf(before) === TC_H_CLSACT;
  if (ingressSlot || (sameHandle && after.handle !== undefined)) {
    ignoringGone(() => deleteQdisc(session, before));
    return createQdisc(session, after);
  }
  send(session, after, handleOf(after), NLM_F_CREATE | NLM_F_REPLACE, 'replace');
}

/** Delete (the handle guards against removing another qdisc that took the slot meanwhile). */
export function deleteQdisc(session: KernelSession, q: QdiscRes): void {
  const ctx = session.ns(q.namespace);
  const msg = tcRequest(ctx.ifindex(q.dev), handleOf(q), parentOf(q), 0);
  ctx.sock.request(R.RTM_DELQDISC, 0, msg, `delete ${label(q)}`);
}

/**
 * Recreate a qdisc that cannot be changed in place, restoring what hangs below it: its classes
 * (kernel parameters as dumped, but for a quantum derived from the old r2q: restoredClassOptions)
 * and the non-default qdiscs under them, recursively. The new htb keeps the old one's direct_qlen.
 * Filters under it are not restored (the plan names them: foreign.ts).
 * Not atomic: the device runs its default qdisc for the few requests in between.
 */
function recreateKeepingChildren(session: KernelSession, after: QdiscRes): void {
  const ctx = session.ns(after.namespace);
  const ifindex = ctx.ifindex(after.dev);
  const major = tcMajor(handleOf(after));
  const qdiscs = dumpQdiscs(ctx).filter((q) => q.ifindex === ifindex && q.handle !== 0);
  const classes = dumpClasses(ctx, ifindex);
  const majors = new Set([major]);
  const keepClasses: RawTc[] = [];
  const keepQdiscs: RawTc[] = [];
  for (let grew = true; grew; ) {
    grew = false;
    for (const c of classes) {
      // Only htb classes are user-made; others (tbf's 10:1) come with their qdisc.
      if (c.kind === 'htb' && majors.has(tcMajor(c.handle)) && !keepClasses.includes(c)) {
        keepClasses.push(c);
        grew = true;
      }
    }
    for (const q of qdiscs) {
      const under = q.parent !== TC_H_ROOT && q.parent !== TC_H_CLSACT && majors.has(tcMajor(q.parent));
      if (under && !keepQdiscs.includes(q)) {
        keepQdiscs.push(q);
        majors.add(tcMajor(q.handle));
        grew = true;
      }
    }
  }
  const self = qdiscs.find((q) => q.handle === handleOf(after) && q.parent === parentOf(after));
  if (self) deleteQdisc(session, { ...after, qdisc: self.kind as QdiscKind });
  const kept = self?.kind === after.qdisc ? htbUnmodelledAttrs(self.options) : Buffer.alloc(0);
  const options = Buffer.concat([encodeQdiscOptions(after.qdisc, after.options) ?? Buffer.alloc(0), kept]);
  ctx.sock.request(R.RTM_NEWQDISC, NLM_F_CREATE | NLM_F_EXCL, tcRequest(ifindex, handleOf(after), parentOf(after), 0, after.qdisc, options), `create ${label(after)}`);
  // The old qdisc's classes derived their quantum from its r2q: let the new one derive it again.
  const oldR2q = self?.kind === 'htb' ? decodeQdiscOptions('htb', self.options)['r2q'] : undefined;
  // Restore parents before children: a class needs its parent class, a qdisc its class.
  const done = new Set<number>([handleOf(after)]);
  // What must exist first: a top-level class (parent TC_H_ROOT) needs its qdisc, others their parent.
  const needs = (o: RawTc) => (o.parent === TC_H_ROOT ? tcHandle(tcMajor(o.handle), 0) : tcMinor(o.parent) ? o.parent : tcHandle(tcMajor(o.parent), 0));
  let pending: { t: 'class' | 'qdisc'; o: RawTc }[] = [
    ...keepClasses.map((o) => ({ t: 'class' as const, o })),
    ...keepQdiscs.map((o) => ({ t: 'qdisc' as const, o })),
  ];
  while (pending.length > 0) {
    const next = pending.filter((x) => done.has(needs(x.o)));
    if (next.length === 0) throw new Error(`restoring tc objects under ${label(after)}: unresolvable parents`);
    for (const { t, o } of next) {
      const own = t === 'class' && tcMajor(o.handle) === major;
      const options = t === 'qdisc' ? restorableQdiscOptions(o.kind, o.options) : own ? restoredClassOptions(o, oldR2q) : o.options;
      const msg = tcRequest(ifindex, o.handle, o.parent, 0, o.kind, options);
      if (t === 'class') ctx.sock.request(R.RTM_NEWTCLASS, NLM_F_CREATE | NLM_F_EXCL, msg, `restore class ${formatTcId(o.handle)} on ${after.dev}`);
      // A new class got a default leaf (handle 0): graft the saved qdisc over it.
      else ctx.sock.request(R.RTM_NEWQDISC, NLM_F_CREATE | NLM_F_REPLACE, msg, `restore qdisc ${formatTcId(o.handle)} on ${after.dev}`);
      done.add(o.handle);
    }
    pending = pending.filter((x) => !next.includes(x));
  }
}
