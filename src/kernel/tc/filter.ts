// tc bpf filters (cls_bpf, direct-action) on clsact hooks. The program fd comes from the BPF
// layer through a resolver registered at runtime (setFilterProgramResolver).
import type { TcFilterRes } from '../../model/types';
import { AttrWriter, Attrs } from '../netlink/attrs';
import * as R from '../netlink/rtnl';
import { NLM_F_CREATE, NLM_F_EXCL } from '../netlink/socket';
import type { KernelSession, NsContext } from '../session';
import * as C from './constants';
import { CLSACT_EGRESS, CLSACT_INGRESS, directionParent } from './handles';
import { dumpFilters, tcRequest, type RawTc } from './raw';

/** Handle our filters get (one per priority): creating handle 1 again fails with EEXIST. */
const FILTER_HANDLE = 1;

/** Returns a loaded program's fd for a model program reference; the caller (BPF layer) owns the fd. */
export type ProgramFdResolver = (program: string) => number;
let resolver: ProgramFdResolver | undefined;

/** Register how filter programs are found (the BPF layer does this at startup). */
export function setFilterProgramResolver(fn: ProgramFdResolver | undefined): void {
  resolver = fn;
}

export function hasFilterProgramResolver(): boolean {
  return resolver !== undefined;
}

function programFd(program: string): number {
  if (!resolver) throw new Error(`tc filter program '${program}': no BPF program resolver registered`);
  const fd = resolver(program);
  if (!Number.isInteger(fd) || fd < 0) throw new Error(`tc filter program '${program}': resolver returned no fd`);
  return fd;
}

function htons(v: number): number {
  return ((v & 0xff) << 8) | ((v >> 8) & 0xff);
}

/** tcm_info of a filter: priority in the upper half, protocol (network order) in the lower. */
export function filterInfo(priority: number, protocol = C.ETH_P_ALL): number {
  return ((priority << 16) | htons(protocol)) >>> 0;
}

export function encodeBpfOptions(fd: number, name: string): Buffer {
  return new AttrWriter().u32(C.TCA_BPF_FD, fd).str(C.TCA_BPF_NAME, name).u32(C.TCA_BPF_FLAGS, C.TCA_BPF_FLAG_ACT_DIRECT).toBuffer();
}

export interface BpfFilterInfo {
  readonly name?: string;
  readonly tag?: string;
  readonly id?: number;
  readonly directAction: boolean;
}

export function decodeBpfOptions(b: Buffer | undefined): BpfFilterInfo {
  const a = Attrs.parse(b ?? Buffer.alloc(0));
  const tag = a.get(C.TCA_BPF_TAG);
  return {
    name: a.str(C.TCA_BPF_NAME),
    tag: tag ? tag.toString('hex') : undefined,
    id: a.u32(C.TCA_BPF_ID),
    directAction: ((a.u32(C.TCA_BPF_FLAGS) ?? 0) & C.TCA_BPF_FLAG_ACT_DIRECT) !== 0,
  };
}

/**
 * Model form of a dumped filter. Only cls_bpf filters of chain 0 are managed; program is the
 * TCA_BPF_NAME we wrote (a foreign filter without one reads as `id:<prog id>`).
 */
export function filterFromRaw(ns: string, dev: string, f: RawTc): TcFilterRes | undefined {
  if (f.kind !== 'bpf' || f.chain !== 0) return undefined;
  const direction = f.parent === CLSACT_INGRESS ? 'ingress' : f.parent === CLSACT_EGRESS ? 'egress' : undefined;
  if (!direction) return undefined;
  const o = decodeBpfOptions(f.options);
  const res: TcFilterRes = { kind: 'tfilter', namespace: ns, dev, direction, priority: f.info >>> 16, program: o.name ?? `id:${o.id ?? 0}` };
  return o.tag ? { ...res, tag: o.tag } : res;
}

/** bpf filters on both clsact hooks of the given devices; the lowest handle wins per priority. */
export function readFilters(ctx: NsContext, devices: ReadonlyMap<number, string>): TcFilterRes[] {
  const out: TcFilterRes[] = [];
  for (const [ifindex, dev] of devices) {
    for (const parent of [CLSACT_INGRESS, CLSACT_EGRESS]) {
      const seen = new Set<number>();
      const raw = dumpFilters(ctx, ifindex, parent).sort((a, b) => a.handle - b.handle);
      for (const f of raw) {
        const r = filterFromRaw(ctx.logical, dev, f);
        if (r && !seen.has(r.priority)) {
          seen.add(r.priority);
          out.push(r);
        }
      }
    }
  }
  return out;
}

function liveHandle(ctx: NsContext, ifindex: number, f: TcFilterRes): number | undefined {
  const prio = f.priority;
  return dumpFilters(ctx, ifindex, directionParent(f.direction))
    .filter((x) => x.kind === 'bpf' && x.chain === 0 && x.info >>> 16 === prio)
    .sort((a, b) => a.handle - b.handle)[0]?.handle;
}

function send(session: KernelSession, f: TcFilterRes, handle: number, flags: number, op: string): void {
  const ctx = session.ns(f.namespace);
  const fd = programFd(f.program);
  const msg = tcRequest(ctx.ifindex(f.dev), handle, directionParent(f.direction), filterInfo(f.priority), 'bpf', encodeBpfOptions(fd, f.program));
  ctx.sock.request(R.RTM_NEWTFILTER, flags, msg, `${op} filter ${f.direction} pref ${f.priority} on ${f.dev} (${f.program})`);
}

/** Attach; EEXIST if this priority already holds our handle. Needs a clsact qdisc on the device. */
export function createFilter(session: KernelSession, f: TcFilterRes): void {
  send(session, f, FILTER_HANDLE, NLM_F_CREATE | NLM_F_EXCL, 'create');
}

/**
 * Point an existing filter at the (re-resolved) program: cls_bpf swaps the program atomically,
 * no packet passes unfiltered. Creates the filter if it is gone.
 */
export function updateFilter(session: KernelSession, f: TcFilterRes): void {
  const ctx = session.ns(f.namespace);
  const handle = liveHandle(ctx, ctx.ifindex(f.dev), f);
  if (handle === undefined) return createFilter(session, f);
  send(session, f, handle, 0, 'change');
}

/** Delete every filter at this priority of the hook (protocol left 0: matches any). */
export function deleteFilter(session: KernelSession, f: TcFilterRes): void {
  const ctx = session.ns(f.namespace);
  const msg = tcRequest(ctx.ifindex(f.dev), 0, directionParent(f.direction), filterInfo(f.priority, 0));
  ctx.sock.request(R.RTM_DELTFILTER, 0, msg, `delete filter ${f.direction} pref ${f.priority} on ${f.dev}`);
}
