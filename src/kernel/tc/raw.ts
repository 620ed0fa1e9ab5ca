// tcmsg-level plumbing shared by qdiscs, classes and filters: parse dumped messages, build
// requests, and errors that mean "already gone".
import { AttrWriter, Attrs } from '../netlink/attrs';
import * as R from '../netlink/rtnl';
import { NetlinkError, type NlMessage } from '../netlink/socket';
import type { NsContext } from '../session';
import { TCA_CHAIN, TCA_KIND, TCA_OPTIONS } from './constants';

/** One qdisc, class or filter as the kernel dumped it. */
export interface RawTc {
  readonly ifindex: number;
  readonly handle: number;
  readonly parent: number;
  readonly info: number;
  readonly kind: string;
  readonly options?: Buffer;
  readonly chain: number;
}

export function parseTc(m: NlMessage): RawTc {
  const d = m.data;
  const a = Attrs.parse(d, 20);
  return {
    ifindex: d.readInt32LE(4),
    handle: d.readUInt32LE(8),
    parent: d.readUInt32LE(12),
    info: d.readUInt32LE(16),
    kind: a.str(TCA_KIND) ?? '',
    options: a.get(TCA_OPTIONS),
    chain: a.u32(TCA_CHAIN) ?? 0,
  };
}

/** Every qdisc of the namespace (root trees and ingress/clsact), default ones included. */
export function dumpQdiscs(ctx: NsContext): RawTc[] {
  return ctx.sock
    .dump(R.RTM_GETQDISC, R.tcmsg(R.AF_UNSPEC, 0, 0, 0, 0), 'dump qdiscs')
    .filter((m) => m.type === R.RTM_NEWQDISC)
    .map(parseTc);
}

/** Classes of one device (the kernel's class dump needs an ifindex). */
export function dumpClasses(ctx: NsContext, ifindex: number): RawTc[] {
  return ctx.sock
    .dump(R.RTM_GETTCLASS, R.tcmsg(R.AF_UNSPEC, ifindex, 0, 0, 0), `dump classes of if${ifindex}`)
    .filter((m) => m.type === R.RTM_NEWTCLASS)
    .map(parseTc);
}

/** Filters of one device under one parent (a clsact hook). Per-priority header entries (handle 0) are dropped. */
export function dumpFilters(ctx: NsContext, ifindex: number, parent: number): RawTc[] {
  return ctx.sock
    .dump(R.RTM_GETTFILTER, R.tcmsg(R.AF_UNSPEC, ifindex, 0, parent, 0), `dump filters of if${ifindex}`)
    .filter((m) => m.type === R.RTM_NEWTFILTER)
    .map(parseTc)
    .filter((f) => f.handle !== 0);
}

/** tcmsg + TCA_KIND + TCA_OPTIONS (options unflagged, as iproute2 sends them). */
export function tcRequest(ifindex: number, handle: number, parent: number, info: number, kind?: string, options?: Buffer): Buffer {
  const w = new AttrWriter();
  if (kind !== undefined) w.str(TCA_KIND, kind);
  if (options !== undefined) w.raw(TCA_OPTIONS, options);
  return Buffer.concat([R.tcmsg(R.AF_UNSPEC, ifindex, handle, parent, info), w.toBuffer()]);
}

const ENOENT = 2;
const ESRCH = 3;
const ENODEV = 19;
const EINVAL = 22;

/** True for errors meaning the object (or its device/parent) no longer exists. */
export function isGone(e: unknown): boolean {
  if (e instanceof NetlinkError) {
    if ([ENOENT, ESRCH, ENODEV].includes(e.errno)) return true;
    // A vanished parent qdisc is reported as EINVAL with one of these extacks; "Invalid handle":
    // another qdisc took the slot (ours is gone).
    return e.errno === EINVAL && /does ?n[o']t exist|not found|Cannot find|Invalid handle/i.test(e.extack ?? '');
  }
  return e instanceof Error && /not found in namespace/.test(e.message);
}

export function ignoringGone(fn: () => void): void {
  try {
    fn();
  } catch (e) {
    if (!isGone(e)) throw e;
  }
}
