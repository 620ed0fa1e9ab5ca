// bpf_link handles: fd-based, so links made by any attach path (tcx, XDP, cgroup) or
// opened from a pin share one API: pin/unpin, in-place program update, info, detach.
import { koffi } from '../ffi';
import { BpfError, check, ensureLibbpfInit } from './errors';
import { LinkInfo, linkInfo } from './info';
import { BpfLinkUpdateOpts, bpf, cfn, lastErrno } from './native';

/** Anything that has a program fd (BpfProgram, ObjectProgram). */
export interface ProgramLike {
  readonly fd: number;
}

const BPF_F_REPLACE = 1 << 2;

/**
 * A BPF link (kernel attachment object). Closing the last fd detaches the program
 * unless the link is pinned; {@link BpfLink.detach} detaches even a pinned link.
 * Use try/finally: `const l = attachTcx(...); try { ... } finally { l.close(); }`.
 */
export class BpfLink {
  private ownFd: number;
  private pinnedAt: string | null;

  /** Wrap a link fd (owned: close() closes it). Prefer the attach functions or openPinned. */
  constructor(fd: number, pinPath: string | null = null) {
    this.ownFd = fd;
    this.pinnedAt = pinPath;
  }

  /** Open a pinned link (bpf_obj_get). The returned handle knows its pin path. */
  static openPinned(path: string): BpfLink {
    ensureLibbpfInit();
    return new BpfLink(check('bpf_obj_get', bpf.obj_get(path) as number, path), path);
  }

  /** Open a link by kernel id (bpf_link_get_fd_by_id). */
  static fromId(id: number): BpfLink {
    ensureLibbpfInit();
    return new BpfLink(check('bpf_link_get_fd_by_id', bpf.link_get_fd_by_id(id) as number, `link id ${id}`));
  }

  /** Link fd; throws once closed. */
  get fd(): number {
    if (this.ownFd < 0) throw new Error('BPF link is closed');
    return this.ownFd;
  }

  /** Kernel link info: id, attached program id, target (ifindex / cgroup id, attach type). */
  info(): LinkInfo {
    return linkInfo(this.fd);
  }

  /** Kernel link id (stable across {@link BpfLink.update}). */
  get id(): number {
    return this.info().id;
  }

  /** Id of the program currently attached through this link. */
  get progId(): number {
    return this.info().progId;
  }

  /** Path this handle pinned (or was opened from), or null. */
  get pinPath(): string | null {
    return this.pinnedAt;
  }

  /** Pin the link in bpffs (bpf_obj_pin): it then survives this process. */
  pin(path: string): void {
    check('bpf_obj_pin', bpf.obj_pin(this.fd, path) as number, path);
    this.pinnedAt = path;
  }

  /** Remove the pin (unlink); the link stays attached while fds remain open. */
  unpin(): void {
    if (!this.pinnedAt) throw new Error('BPF link is not pinned by this handle');
    if ((cfn.unlink(this.pinnedAt) as number) !== 0) {
      throw new BpfError('unlink', lastErrno(), { target: this.pinnedAt });
    }
    this.pinnedAt = null;
  }

  /**
   * Replace the attached program in place (bpf_link_update): same link id, no gap in
   * coverage. With `expected`, the kernel only swaps if that program is still attached
   * (BPF_F_REPLACE), so two writers cannot silently overwrite each other.
   */
  update(program: ProgramLike, expected?: ProgramLike): void {
    const opts = {
      sz: koffi.sizeof(BpfLinkUpdateOpts),
      flags: expected ? BPF_F_REPLACE : 0,
      old_prog_fd: expected ? expected.fd : 0,
    };
    check('bpf_link_update', bpf.link_update(this.fd, program.fd, opts) as number, `link fd ${this.fd}`);
  }

  /** Detach the program now (bpf_link_detach), even if pinned; the link becomes defunct. */
  detach(): void {
    check('bpf_link_detach', bpf.link_detach(this.fd) as number, `link fd ${this.fd}`);
  }

  /** Whether this handle has been closed. */
  get closed(): boolean {
    return this.ownFd < 0;
  }

  /** Close the fd (idempotent). Detaches unless pinned or other fds exist. */
  close(): void {
    if (this.ownFd >= 0) cfn.close(this.ownFd);
    this.ownFd = -1;
  }
}
