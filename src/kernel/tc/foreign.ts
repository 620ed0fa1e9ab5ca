// tc filters Voltron does not model (any classifier on a qdisc or class, anything but cls_bpf on a
// clsact hook) are not read with the live state: no plan needs them, and dumping every parent of
// every device would cost each plan. But the kernel removes them with the qdisc they sit on (with
// its device): a plan that deletes or replaces such a qdisc reads the filters of what goes, and
// names them as foreign. Recreating an htb for an options change restores its classes, not its
// filters (a dumped filter cannot be replayed exactly: u32 hash table ids, bpf programs held only
// by the filter): such a plan is refused instead, naming the `tc filter del` to run first.
import { Attrs } from '../netlink/attrs';
import { QDISCS_RECREATED_ON_CHANGE, type LinkRes, type QdiscRes, type TcClassRes } from '../../model/types';
import type { Change } from '../../plan/types';
import type { KernelSession, NsContext } from '../session';
import { filterFromRaw } from './filter';
import { CLSACT_EGRESS, CLSACT_INGRESS, TC_H_CLSACT, TC_H_ROOT, formatTcId, parseClassId, parseParent, tcHandle, tcMajor } from './handles';
import { dumpClasses, dumpFilters, dumpQdiscs, isGone, type RawTc } from './raw';

/** Protocols as `tc filter show` names them (iproute2's ll_proto names), by host-order value. */
const PROTOCOLS: Record<number, string> = {
  0x0003: 'all',
  0x0800: 'ip',
  0x0806: 'arp',
  0x86dd: 'ipv6',
  0x8100: '802.1Q',
  0x88a8: '802.1ad',
  0x8847: 'mpls_uc',
  0x8848: 'mpls_mc',
};

function protocolName(info: number): string {
  const v = ((info & 0xff) << 8) | ((info >> 8) & 0xff);
  return PROTOCOLS[v] ?? `0x${v.toString(16).padStart(4, '0')}`;
}

/** Where a dumped filter sits, as tc shows it: `parent 1:` / `parent 1:10`, or a clsact hook. */
function parentText(parent: number): string {
  if (parent === CLSACT_INGRESS) return 'ingress';
  if (parent === CLSACT_EGRESS) return 'egress';
  return `parent ${formatTcId(parent)}`;
}

/** One label per filter priority (what `tc filter del ... pref N` removes), not per handle. */
export function foreignFilterLabel(ns: string, dev: string, f: RawTc): string {
  const chain = f.chain === 0 ? '' : ` chain ${f.chain}`;
  return `filter ${ns === '' ? '(root)' : ns}/${dev} ${parentText(f.parent)} protocol ${protocolName(f.info)} pref ${f.info >>> 16} ${f.kind}${chain}`;
}

/** Per-namespace dumps, made once per plan and only for namespaces a removal touches. */
class TcView {
  private qdiscs?: RawTc[];
  private readonly classes = new Map<number, RawTc[]>();
  constructor(readonly ctx: NsContext) {}

  qdiscsOf(ifindex: number): RawTc[] {
    this.qdiscs ??= dumpQdiscs(this.ctx).filter((q) => q.handle !== 0);
    return this.qdiscs.filter((q) => q.ifindex === ifindex);
  }

  classesOf(ifindex: number): RawTc[] {
    let c = this.classes.get(ifindex);
    if (!c) this.classes.set(ifindex, (c = dumpClasses(this.ctx, ifindex)));
    return c;
  }

  /**
   * The filter parents of a qdisc and all below it: the qdisc itself, its classes, the qdiscs
   * grafted on them, recursively (a filter may sit on any of them). clsact: its two hooks.
   */
  parentsUnder(ifindex: number, q: RawTc): number[] {
    if (q.parent === TC_H_CLSACT && q.kind === 'clsact') return [CLSACT_INGRESS, CLSACT_EGRESS];
    const qdiscs = this.qdiscsOf(ifindex);
    const majors = new Set([tcMajor(q.handle)]);
    const out = [q.handle];
    for (let grew = true; grew; ) {
      grew = false;
      for (const s of qdiscs) {
        if (s.parent === TC_H_ROOT || s.parent === TC_H_CLSACT || !majors.has(tcMajor(s.parent)) || majors.has(tcMajor(s.handle))) continue;
        majors.add(tcMajor(s.handle));
        out.push(s.handle);
        grew = true;
      }
    }
    if (majors.size > 1 || this.hasClasses(q)) for (const c of this.classesOf(ifindex)) if (majors.has(tcMajor(c.handle)) && c.handle !== q.handle) out.push(c.handle);
    return out;
  }

  /** Classless qdiscs (fq_codel, tbf's own) need no class dump. */
  private hasClasses(q: RawTc): boolean {
    return q.kind === 'htb' || q.kind === 'hfsc' || q.kind === 'prio' || q.kind === 'drr' || q.kind === 'qfq' || q.kind === 'cbs' || q.kind === 'ets' || q.kind === 'mqprio';
  }

  /** Foreign filter priorities under these parents (modelled ones are plan objects already). */
  filters(ifindex: number, dev: string, parents: readonly number[]): RawTc[] {
    const out: RawTc[] = [];
    for (const p of parents) for (const f of dumpFilters(this.ctx, ifindex, p)) if (!filterFromRaw(this.ctx.logical, dev, f)) out.push(f);
    return out;
  }
}

/** The live qdisc in a modelled qdisc's slot (handle as recorded; any, for a clsact), and its device. */
function liveQdisc(view: (ns: string) => TcView, session: KernelSession, q: QdiscRes): { ns: string; dev: string; ifindex: number; roots: RawTc[] } {
  const ifindex = session.ns(q.namespace).ifindex(q.dev);
  const parent = parseParent(q.parent);
  const handle = q.handle === undefined ? undefined : parseParent(q.handle);
  const live = view(q.namespace)
    .qdiscsOf(ifindex)
    .filter((x) => x.parent === parent && (handle === undefined || x.handle === handle || q.qdisc === 'clsact'));
  return { ns: q.namespace, dev: q.dev, ifindex, roots: live };
}

/** The live qdiscs a change removes (each with all below it), and the device they are on. */
function removedQdiscs(view: (ns: string) => TcView, session: KernelSession, c: Change): { ns: string; dev: string; ifindex: number; roots: RawTc[] }[] {
  if (c.action !== 'delete' && c.action !== 'replace') return [];
  const b = c.before;
  if (b?.kind === 'qdisc') return [liveQdisc(view, session, b as QdiscRes)];
  if (b?.kind === 'link') {
    const l = b as LinkRes;
    const ctx = session.ns(l.namespace);
    const ifindex = ctx.ifindex(l.name);
    return [{ ns: l.namespace, dev: l.name, ifindex, roots: view(l.namespace).qdiscsOf(ifindex) }];
  }
  return [];
}

/** Per-namespace TcViews, made on first use. */
function viewsOf(session: KernelSession): (ns: string) => TcView {
  const views = new Map<string, TcView>();
  return (ns) => {
    let v = views.get(ns);
    if (!v) views.set(ns, (v = new TcView(session.ns(ns))));
    return v;
  };
}

/** The `tc filter del` that removes one filter priority (what foreignFilterLabel names). */
function filterDel(session: KernelSession, ns: string, dev: string, f: RawTc): string {
  const phys = session.physical(ns);
  return `tc${phys === null ? '' : ` -n ${phys}`} filter del dev ${dev} ${parentText(f.parent)} pref ${f.info >>> 16}`;
}

/** Whether a change recreates its qdisc: an options update of a kind the kernel cannot change in place. */
export function recreatesQdisc(c: Change): boolean {
  return c.action === 'update' && c.before?.kind === 'qdisc' && c.after?.kind === 'qdisc' && QDISCS_RECREATED_ON_CHANGE.has((c.after as QdiscRes).qdisc);
}

/**
 * Qdiscs the plan recreates (an htb options change: deleted and created again, classes and child
 * qdiscs restored) under which sit tc filters Voltron does not own: the kernel removes them with
 * the old qdisc, and Voltron cannot put them back as they were. Each with the filters (one per
 * priority) and the `tc filter del` that removes them first. Reads only for such a plan.
 */
export function filtersLostToRecreate(session: KernelSession, changes: readonly Change[]): { change: Change; filters: { label: string; del: string }[] }[] {
  const view = viewsOf(session);
  const out: { change: Change; filters: { label: string; del: string }[] }[] = [];
  for (const c of changes) {
    if (!recreatesQdisc(c)) continue;
    let t: ReturnType<typeof liveQdisc>;
    try {
      t = liveQdisc(view, session, c.before as QdiscRes);
    } catch (e) {
      if (isGone(e)) continue;
      throw e;
    }
    const v = view(t.ns);
    const seen = new Set<string>();
    const filters: { label: string; del: string }[] = [];
    for (const q of t.roots) {
      for (const f of v.filters(t.ifindex, t.dev, v.parentsUnder(t.ifindex, q))) {
        const label = foreignFilterLabel(t.ns, t.dev, f);
        if (seen.has(label)) continue;
        seen.add(label);
        filters.push({ label, del: filterDel(session, t.ns, t.dev, f) });
      }
    }
    if (filters.length > 0) out.push({ change: c, filters });
  }
  return out;
}

/**
 * Labels of the foreign tc filters the plan's changes remove, each with what takes it (as the
 * plan's other foreign removals). Reads nothing unless the plan deletes or replaces a qdisc or a
 * link: a no-op plan and a fresh apply make no dump.
 */
export function removedForeignFilters(session: KernelSession, changes: readonly Change[]): string[] {
  const view = viewsOf(session);
  const seen = new Set<string>();
  const out: string[] = [];
  for (const c of changes) {
    if (c.before === undefined || (c.before.kind !== 'qdisc' && c.before.kind !== 'link')) continue;
    let targets: ReturnType<typeof removedQdiscs>;
    try {
      targets = removedQdiscs(view, session, c);
    } catch (e) {
      // Gone since the read (a race): nothing of it left to name.
      if (isGone(e)) continue;
      throw e;
    }
    for (const t of targets) {
      const v = view(t.ns);
      for (const q of t.roots) {
        for (const f of v.filters(t.ifindex, t.dev, v.parentsUnder(t.ifindex, q))) {
          const label = foreignFilterLabel(t.ns, t.dev, f);
          const id = `${t.ns}|${label}`;
          if (seen.has(id)) continue;
          seen.add(id);
          out.push(`${label} (with ${c.label})`);
        }
      }
    }
  }
  return out;
}

/**
 * The attribute holding the class a classifier sends to (`flowid`/`classid`), by kind: 1 for
 * u32, fw, route, basic, flower, matchall; 3 for bpf. Other kinds bind no class Voltron can see.
 */
const CLASSID_ATTR: Record<string, number> = { u32: 1, fw: 1, route: 1, basic: 1, flower: 1, matchall: 1, bpf: 3 };

function boundClass(f: RawTc): number | undefined {
  const attr = CLASSID_ATTR[f.kind];
  return attr === undefined || !f.options ? undefined : Attrs.parse(f.options).u32(attr);
}

/**
 * Classes the plan deletes (or moves: delete and create) that a foreign filter still sends
 * traffic to: the kernel refuses the delete (EBUSY, "class in use") in the middle of the apply.
 * Each with the filters, and the `tc filter del` that frees it. Reads only for such a plan.
 */
export function classesInUse(session: KernelSession, changes: readonly Change[]): { change: Change; filters: { label: string; del: string }[] }[] {
  const view = viewsOf(session);
  const out: { change: Change; filters: { label: string; del: string }[] }[] = [];
  for (const c of changes) {
    if ((c.action !== 'delete' && c.action !== 'replace') || c.before?.kind !== 'tclass') continue;
    const cl = c.before as TcClassRes;
    const v = view(cl.namespace);
    const classid = parseClassId(cl.classid);
    let ifindex: number;
    try {
      ifindex = v.ctx.ifindex(cl.dev);
    } catch (e) {
      if (isGone(e)) continue;
      throw e;
    }
    const root = v.qdiscsOf(ifindex).find((q) => q.handle === tcHandle(tcMajor(classid), 0));
    if (!root) continue;
    const seen = new Set<string>();
    const filters: { label: string; del: string }[] = [];
    for (const f of v.filters(ifindex, cl.dev, v.parentsUnder(ifindex, root))) {
      if (boundClass(f) !== classid) continue;
      const label = foreignFilterLabel(cl.namespace, cl.dev, f);
      if (seen.has(label)) continue;
      seen.add(label);
      filters.push({ label, del: filterDel(session, cl.namespace, cl.dev, f) });
    }
    if (filters.length > 0) out.push({ change: c, filters });
  }
  return out;
}
