// Attach programs: tcx / XDP / cgroup through bpf_link_create, and the legacy
// clsact + cls_bpf path (bpf_tc_*) as a fallback for kernels without tcx (< 6.6).
// Interface lookups and link creation run inside the target network namespace:
// the kernel resolves ifindex in the calling thread's namespace.
import fs from 'node:fs';
import { koffi } from '../ffi';
import { withNetns } from '../netns';
import { AttachType } from './constants';
import { BpfError, check, ensureLibbpfInit, libbpfLogMark } from './errors';
import { BpfLink, ProgramLike } from './link';
import { BpfLinkCreateOpts, BpfTcHook, BpfTcOpts, bpf, cfn, lastErrno } from './native';
import { ObjectProgram } from './program';

/** Where an interface lives. Give `ifindex` (in `netns`) or `ifname`. */
export interface InterfaceTarget {
  /** Interface name, resolved with if_nametoindex inside `netns`. */
  ifname?: string;
  /** Interface index (must be the index inside `netns`). */
  ifindex?: number;
  /** Named network namespace (/run/netns/<name>); null/undefined: our own. */
  netns?: string | null;
}

/** tc hook direction. */
export type TcDirection = 'ingress' | 'egress';

const O_RDONLY = 0;
const O_DIRECTORY = 0o200000;
const O_CLOEXEC = 0o2000000;

function inNetns<T>(netns: string | null | undefined, fn: () => T): T {
  return netns ? withNetns(netns, fn) : fn();
}

/** Resolve an interface index (inside the target namespace). Throws BpfError(ENODEV) if absent. */
export function resolveIfindex(target: InterfaceTarget): number {
  if (target.ifindex !== undefined) return target.ifindex;
  if (!target.ifname) throw new Error('interface target needs ifname or ifindex');
  const name = target.ifname;
  const idx = inNetns(target.netns, () => cfn.if_nametoindex(name) as number);
  if (idx === 0) {
    throw new BpfError('if_nametoindex', lastErrno() || 19, { target: `${name}${target.netns ? ` in netns ${target.netns}` : ''}` });
  }
  return idx;
}

function describe(target: InterfaceTarget, ifindex: number): string {
  return `${target.ifname ?? `ifindex ${ifindex}`}${target.netns ? ` in netns ${target.netns}` : ''}`;
}

function linkCreate(prog: ProgramLike, targetFd: number, attachType: number, flags: number, what: string): BpfLink {
  ensureLibbpfInit();
  const mark = libbpfLogMark();
  const opts = { sz: koffi.sizeof(BpfLinkCreateOpts), flags };
  const fd = check('bpf_link_create', bpf.link_create(prog.fd, targetFd, attachType, opts) as number, what, mark);
  return new BpfLink(fd);
}

/**
 * Attach a SEC("tc") program with a tcx link (kernel >= 6.6):
 * bpf_link_create(prog, ifindex, BPF_TCX_INGRESS|EGRESS). The program goes after
 * existing tcx programs; return TCX_NEXT (-1) to let later ones run.
 */
export function attachTcx(prog: ProgramLike, target: InterfaceTarget & { direction: TcDirection }): BpfLink {
  const type = target.direction === 'ingress' ? AttachType.TCX_INGRESS : AttachType.TCX_EGRESS;
  return inNetns(target.netns, () => {
    const ifindex = resolveIfindex({ ...target, netns: null });
    return linkCreate(prog, ifindex, type, 0, `tcx ${target.direction} ${describe(target, ifindex)}`);
  });
}

/**
 * Attach an XDP program with a link (BPF_XDP). `flags`: XdpFlags.SKB_MODE / DRV_MODE,
 * 0 lets the kernel pick native mode when the driver supports it.
 */
export function attachXdp(prog: ProgramLike, target: InterfaceTarget & { flags?: number }): BpfLink {
  return inNetns(target.netns, () => {
    const ifindex = resolveIfindex({ ...target, netns: null });
    return linkCreate(prog, ifindex, AttachType.XDP, target.flags ?? 0, `xdp ${describe(target, ifindex)}`);
  });
}

/**
 * Attach to a cgroup v2 directory with a link, like bpf_program__attach_cgroup (which
 * is bpf_link_create(prog, cgroup_fd, expected_attach_type)). The attach type defaults
 * to the program's section (cgroup_skb/egress → CGROUP_INET_EGRESS, sockops →
 * CGROUP_SOCK_OPS); pass it for programs opened from pins.
 */
export function attachCgroup(prog: ProgramLike, cgroupPath: string, attachType?: number): BpfLink {
  let type = attachType;
  if (type === undefined) {
    if (!(prog instanceof ObjectProgram)) throw new Error('attachCgroup: attachType is required for programs not loaded from an object');
    type = prog.expectedAttachType;
  }
  const cg = cfn.open(cgroupPath, O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0) as number;
  if (cg < 0) throw new BpfError('open', lastErrno(), { target: cgroupPath });
  try {
    return linkCreate(prog, cg, type, 0, `cgroup ${cgroupPath}`);
  } finally {
    cfn.close(cg);
  }
}

const BPF_TC_INGRESS = 1;
const BPF_TC_EGRESS = 2;
const BPF_TC_F_REPLACE = 1;
const EEXIST = 17;
const ENOENT = 2;

/** Options for the legacy clsact path. */
export interface TcFilterOptions extends InterfaceTarget {
  direction: TcDirection;
  /** Filter handle (default 1). */
  handle?: number;
  /** Filter priority (default 1). */
  priority?: number;
}

/**
 * A cls_bpf direct-action filter on a clsact qdisc (the pre-tcx way). Unlike links it
 * is not tied to an fd: it stays until detached, even after this process exits.
 * {@link TcFilter.close} detaches it; {@link TcFilter.release} forgets it without detaching.
 */
export class TcFilter {
  private active = true;

  /** @internal Created by attachTcClsact. */
  constructor(
    /** Interface index (inside `netns`). */
    readonly ifindex: number,
    /** Namespace of the interface. */
    readonly netns: string | null,
    /** Hook direction. */
    readonly direction: TcDirection,
    /** Filter handle. */
    readonly handle: number,
    /** Filter priority. */
    readonly priority: number,
    private _progId: number,
  ) {}

  /** Id of the attached program. */
  get progId(): number {
    return this._progId;
  }

  private hook(): Record<string, number> {
    return {
      sz: koffi.sizeof(BpfTcHook),
      ifindex: this.ifindex,
      attach_point: this.direction === 'ingress' ? BPF_TC_INGRESS : BPF_TC_EGRESS,
      parent: 0,
    };
  }

  /** Atomically replace the program (bpf_tc_attach with BPF_TC_F_REPLACE, same handle/priority). */
  update(prog: ProgramLike): void {
    const opts = { sz: koffi.sizeof(BpfTcOpts), prog_fd: prog.fd, flags: BPF_TC_F_REPLACE, prog_id: 0, handle: this.handle, priority: this.priority };
    inNetns(this.netns, () => check('bpf_tc_attach', bpf.tc_attach(this.hook(), opts) as number, `ifindex ${this.ifindex}`));
    this._progId = opts.prog_id;
  }

  /** Remove the filter (bpf_tc_detach). Already gone counts as success. */
  detach(): void {
    if (!this.active) return;
    const opts = { sz: koffi.sizeof(BpfTcOpts), prog_fd: 0, flags: 0, prog_id: 0, handle: this.handle, priority: this.priority };
    const r = inNetns(this.netns, () => bpf.tc_detach(this.hook(), opts) as number);
    if (r < 0 && r !== -ENOENT) check('bpf_tc_detach', r, `ifindex ${this.ifindex}`);
    this.active = false;
  }

  /** Stop managing the filter without removing it. */
  release(): void {
    this.active = false;
  }

  /** Detach (idempotent), for try/finally symmetry with links. */
  close(): void {
    this.detach();
  }
}

/**
 * Legacy attach: ensure a clsact qdisc (bpf_tc_hook_create; an existing one is fine)
 * and add a direct-action cls_bpf filter (bpf_tc_attach).
 */
export function attachTcClsact(prog: ProgramLike, opts: TcFilterOptions): TcFilter {
  ensureLibbpfInit();
  const handle = opts.handle ?? 1;
  const priority = opts.priority ?? 1;
  return inNetns(opts.netns, () => {
    const ifindex = resolveIfindex({ ...opts, netns: null });
    const what = `clsact ${opts.direction} ${describe(opts, ifindex)}`;
    const hook = {
      sz: koffi.sizeof(BpfTcHook),
      ifindex,
      attach_point: opts.direction === 'ingress' ? BPF_TC_INGRESS : BPF_TC_EGRESS,
      parent: 0,
    };
    const hr = bpf.tc_hook_create(hook) as number;
    if (hr < 0 && hr !== -EEXIST) check('bpf_tc_hook_create', hr, what);
    const topts = { sz: koffi.sizeof(BpfTcOpts), prog_fd: prog.fd, flags: 0, prog_id: 0, handle, priority };
    check('bpf_tc_attach', bpf.tc_attach(hook, topts) as number, what);
    return new TcFilter(ifindex, opts.netns ?? null, opts.direction, handle, priority, topts.prog_id);
  });
}

/**
 * Remove the whole clsact qdisc of an interface (all its tc filters, both directions).
 * Missing qdisc counts as success.
 */
export function destroyClsact(target: InterfaceTarget): void {
  ensureLibbpfInit();
  inNetns(target.netns, () => {
    const ifindex = resolveIfindex({ ...target, netns: null });
    const hook = { sz: koffi.sizeof(BpfTcHook), ifindex, attach_point: BPF_TC_INGRESS | BPF_TC_EGRESS, parent: 0 };
    const r = bpf.tc_hook_destroy(hook) as number;
    if (r < 0 && r !== -ENOENT && r !== -22) check('bpf_tc_hook_destroy', r, describe(target, ifindex));
  });
}

/** Result of {@link attachTc}: a tcx link, or a clsact filter on older kernels. */
export type TcAttachment = { kind: 'tcx'; link: BpfLink } | { kind: 'clsact'; filter: TcFilter };

/**
 * Attach a tc program, preferring tcx. `mode: 'auto'` falls back to clsact when the
 * kernel rejects the tcx attach type (EINVAL / EOPNOTSUPP: kernel < 6.6).
 */
export function attachTc(
  prog: ProgramLike,
  opts: TcFilterOptions & { mode?: 'auto' | 'tcx' | 'clsact' },
): TcAttachment {
  const mode = opts.mode ?? 'auto';
  if (mode === 'clsact') return { kind: 'clsact', filter: attachTcClsact(prog, opts) };
  try {
    return { kind: 'tcx', link: attachTcx(prog, opts) };
  } catch (e) {
    if (mode === 'auto' && e instanceof BpfError && (e.errno === 22 || e.errno === 95)) {
      return { kind: 'clsact', filter: attachTcClsact(prog, opts) };
    }
    throw e;
  }
}

/** Close a {@link TcAttachment} (link fd close, or filter detach). */
export function closeTcAttachment(a: TcAttachment): void {
  if (a.kind === 'tcx') a.link.close();
  else a.filter.close();
}

/** True if `p` is inside a mounted bpffs (pins only work there). */
export function isBpffs(p: string): boolean {
  try {
    // statfs magic is not exposed by Node; bpffs shows up in /proc/self/mounts.
    const mounts = fs.readFileSync('/proc/self/mounts', 'utf8').split('\n');
    const real = fs.realpathSync(p);
    let best = '';
    let bestType = '';
    for (const line of mounts) {
      const [, mnt, type] = line.split(' ');
      if (!mnt) continue;
      const m = mnt.replace(/\\040/g, ' ');
      if ((real === m || real.startsWith(m.endsWith('/') ? m : `${m}/`)) && m.length >= best.length) {
        best = m;
        bestType = type ?? '';
      }
    }
    return bestType === 'bpf';
  } catch {
    return false;
  }
}
