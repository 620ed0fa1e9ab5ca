// htb classes: read (per device with an htb qdisc) and write. The model carries rate and ceil;
// the buckets (buffer/cbuffer) get iproute2's defaults (rate/HZ + 1600 bytes, in ticks) and the
// quantum is left to the kernel (rate / r2q), so a class looks exactly as `tc class add` makes it.
// A change keeps what `tc` set by hand on a live class beyond that (liveTuning).
import type { TcClassRes } from '../../model/types';
import { AttrWriter, Attrs } from '../netlink/attrs';
import * as R from '../netlink/rtnl';
import { NLM_F_CREATE, NLM_F_EXCL } from '../netlink/socket';
import type { KernelSession, NsContext } from '../session';
import * as C from './constants';
import { TC_H_ROOT, formatTcId, parseClassId, parseParent, tcHandle, tcMajor } from './handles';
import { decodeQdiscOptions, ratespec, ratespecRate } from './options';
import { dumpClasses, dumpQdiscs, tcRequest, type RawTc } from './raw';
import { bytesToTicks, psched, rate32, tcCalcXmittime, ticksToBytes, type Psched } from './rates';

/** iproute2's default mtu for htb rate computations. */
const HTB_MTU = 1600;

/**
 * What a class made by hand (`tc class add ... burst 20k prio 3 quantum 3000`) has beyond rate and
 * ceil: a `tc class change` resets all of it, so an update carries it over (see liveTuning).
 * `burst`/`cburst` in bytes (kept as bytes when the rate changes), quantum 0 for the kernel's.
 */
export interface HtbTuning {
  readonly burst?: number;
  readonly cburst?: number;
  readonly quantum: number;
  readonly prio: number;
}

/** iproute2's default bucket: rate / get_hz() + mtu bytes (u64 division), then tc_calc_xmittime. */
function defaultBuffer(rate: number, p: Psched): number {
  return tcCalcXmittime(rate, Math.floor(rate / p.hz) + HTB_MTU, p);
}

/** TCA_OPTIONS of an htb class: tc_htb_opt (44 bytes) + 64-bit rates when above u32. */
export function encodeHtbClass(rate: number, ceil: number, p: Psched = psched(), tuning?: HtbTuning): Buffer {
  const r = rate32(rate);
  const c = rate32(ceil);
  const opt = Buffer.concat([ratespec(r.r32), ratespec(c.r32), Buffer.alloc(20)]);
  opt.writeUInt32LE(tuning?.burst !== undefined ? bytesToTicks(rate, tuning.burst, p) : defaultBuffer(rate, p), 24);
  opt.writeUInt32LE(tuning?.cburst !== undefined ? bytesToTicks(ceil, tuning.cburst, p) : defaultBuffer(ceil, p), 28);
  // quantum 0: the kernel's (rate / r2q); level (out only) 0
  opt.writeUInt32LE(tuning?.quantum ?? 0, 32);
  opt.writeUInt32LE(tuning?.prio ?? 0, 40);
  const w = new AttrWriter().raw(C.TCA_HTB_PARMS, opt);
  if (r.r64 !== undefined) w.u64(C.TCA_HTB_RATE64, r.r64);
  if (c.r64 !== undefined) w.u64(C.TCA_HTB_CEIL64, c.r64);
  return w.toBuffer();
}

export function decodeHtbClass(b: Buffer | undefined): { rate: number; ceil: number } | undefined {
  if (!b) return undefined;
  const a = Attrs.parse(b);
  const opt = a.get(C.TCA_HTB_PARMS);
  if (!opt || opt.length < 24) return undefined;
  return {
    rate: Number(a.u64(C.TCA_HTB_RATE64) ?? BigInt(ratespecRate(opt, 0))),
    ceil: Number(a.u64(C.TCA_HTB_CEIL64) ?? BigInt(ratespecRate(opt, 12))),
  };
}

/** Model form of a dumped htb class; parent TC_H_ROOT (a top-level class) becomes '<major>:'. */
export function classFromRaw(ns: string, dev: string, c: RawTc): TcClassRes | undefined {
  if (c.kind !== 'htb') return undefined;
  const rates = decodeHtbClass(c.options);
  if (!rates) return undefined;
  const parent = c.parent === TC_H_ROOT ? tcHandle(tcMajor(c.handle), 0) : c.parent;
  return { kind: 'tclass', namespace: ns, dev, classid: formatTcId(c.handle), parent: formatTcId(parent), rate: rates.rate, ceil: rates.ceil };
}

/** htb classes of the given devices (one class dump per device). */
export function readClasses(ctx: NsContext, devices: ReadonlyMap<number, string>): TcClassRes[] {
  const out: TcClassRes[] = [];
  for (const [ifindex, dev] of devices) {
    for (const c of dumpClasses(ctx, ifindex)) {
      const r = classFromRaw(ctx.logical, dev, c);
      if (r) out.push(r);
    }
  }
  return out;
}

function classParent(c: TcClassRes): number {
  const p = parseParent(c.parent);
  if (p === undefined) throw new Error(`class ${c.classid} on ${c.dev}: bad parent '${c.parent}'`);
  return p;
}

function send(session: KernelSession, c: TcClassRes, ceil: number, flags: number, op: string, tuning?: (ctx: NsContext, ifindex: number) => HtbTuning | undefined): void {
  const ctx = session.ns(c.namespace);
  const ifindex = ctx.ifindex(c.dev);
  const msg = tcRequest(ifindex, parseClassId(c.classid), classParent(c), 0, 'htb', encodeHtbClass(c.rate, ceil, psched(), tuning?.(ctx, ifindex)));
  ctx.sock.request(R.RTM_NEWTCLASS, flags, msg, `${op} class ${c.classid} on ${c.dev}`);
}

/**
 * The live class's hand-set tuning (HtbTuning): buckets other than iproute2's defaults for its
 * rates, a quantum other than the kernel's for its rate (rate / the qdisc's r2q, within
 * 1000..200000), its prio. The model carries none of it, so a change of an adopted class's rate
 * would otherwise reset what `tc` set on it.
 */
export function liveTuning(ctx: NsContext, ifindex: number, classid: number, p: Psched = psched()): HtbTuning | undefined {
  const live = dumpClasses(ctx, ifindex).find((x) => x.handle === classid && x.kind === 'htb');
  const opt = live?.options && Attrs.parse(live.options).get(C.TCA_HTB_PARMS);
  const rates = decodeHtbClass(live?.options);
  if (!opt || opt.length < 44 || !rates) return undefined;
  const buffer = opt.readUInt32LE(24);
  const cbuffer = opt.readUInt32LE(28);
  const quantum = opt.readUInt32LE(32);
  const qdisc = dumpQdiscs(ctx).find((q) => q.ifindex === ifindex && q.kind === 'htb' && q.handle === tcHandle(tcMajor(classid), 0));
  const r2q = qdisc ? decodeQdiscOptions('htb', qdisc.options, p)['r2q'] : undefined;
  return {
    burst: buffer === defaultBuffer(rates.rate, p) ? undefined : ticksToBytes(rates.rate, buffer, p),
    cburst: cbuffer === defaultBuffer(rates.ceil, p) ? undefined : ticksToBytes(rates.ceil, cbuffer, p),
    quantum: r2q && quantum === kernelQuantum(rates.rate, r2q) ? 0 : quantum,
    prio: opt.readUInt32LE(40),
  };
}

/** The quantum the kernel gives a class sent with quantum 0: rate / r2q, clamped to 1000..200000 (htb_change_class). */
export function kernelQuantum(rate: number, r2q: number): number {
  return Math.min(Math.max(Math.floor(rate / r2q), 1000), 200_000);
}

/**
 * A dumped class's options to restore it under a recreated htb (which may have another r2q): a
 * quantum the kernel derived from the old qdisc's r2q is sent as 0, so the kernel derives it again
 * from the new one (a restored 125000 would keep rate / 10 after `r2q: 20`). A hand-set quantum,
 * the buckets and prio are kept as dumped. Other kinds' options are returned as they are.
 */
export function restoredClassOptions(c: RawTc, oldR2q: number | undefined): Buffer | undefined {
  const rates = decodeHtbClass(c.options);
  if (c.kind !== 'htb' || !c.options || !rates || !oldR2q) return c.options;
  const out = Buffer.from(c.options);
  const opt = Attrs.parse(out).get(C.TCA_HTB_PARMS);
  if (opt && opt.length >= 44 && opt.readUInt32LE(32) === kernelQuantum(rates.rate, oldR2q)) opt.writeUInt32LE(0, 32);
  return out;
}

/** Create; ceil defaults to rate like tc. */
export function createClass(session: KernelSession, c: TcClassRes): void {
  send(session, c, c.ceil ?? c.rate, NLM_F_CREATE | NLM_F_EXCL, 'create');
}

/**
 * Change rate/ceil in place (`tc class change`: same classid, the leaf qdisc and filters stay).
 * An undeclared ceil keeps the live one, raised to the rate if it would fall below it; what the
 * model does not carry (hand-set buckets, quantum, prio) is kept (liveTuning).
 */
export function updateClass(session: KernelSession, after: TcClassRes, before?: TcClassRes): void {
  send(session, after, after.ceil ?? Math.max(before?.ceil ?? after.rate, after.rate), 0, 'change', (ctx, ifindex) => liveTuning(ctx, ifindex, parseClassId(after.classid)));
}

/**
 * Delete a class with its subtree, as the plan counts it (src/plan/cascade.ts): htb refuses
 * (EBUSY) to delete a class that still has child classes, so those go first, deepest first.
 * Each class's leaf qdisc goes with it.
 */
export function deleteClass(session: KernelSession, c: TcClassRes): void {
  const ctx = session.ns(c.namespace);
  const ifindex = ctx.ifindex(c.dev);
  const live = dumpClasses(ctx, ifindex).map((x) => ({ id: formatTcId(x.handle), parent: formatTcId(x.parent) }));
  const del = (classid: string): void => {
    for (const child of live) if (child.parent === classid && child.id !== classid) del(child.id);
    const msg = tcRequest(ifindex, parseClassId(classid), 0, 0);
    ctx.sock.request(R.RTM_DELTCLASS, 0, msg, `delete class ${classid} on ${c.dev}`);
  };
  del(c.classid);
}
