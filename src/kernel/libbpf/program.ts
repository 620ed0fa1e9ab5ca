// Program handles: fd-based (pinned / by id) and object-owned (from a BpfObject).
import { check, ensureLibbpfInit } from './errors';
import { ProgInfo, progInfo } from './info';
import { bpf, cfn } from './native';

/**
 * A loaded BPF program reached through an fd. Anything with an `fd` can be attached
 * (see attach.ts). Close with {@link BpfProgram.close}; attached links and pins keep
 * the program alive in the kernel after that.
 */
export class BpfProgram {
  protected ownFd: number;
  private readonly owned: boolean;

  /** Wrap a program fd; with `owned`, close() closes it. */
  constructor(fd: number, owned: boolean) {
    this.ownFd = fd;
    this.owned = owned;
  }

  /** Open a pinned program (bpf_obj_get). */
  static openPinned(path: string): BpfProgram {
    ensureLibbpfInit();
    return new BpfProgram(check('bpf_obj_get', bpf.obj_get(path) as number, path), true);
  }

  /** Open a program by kernel id (bpf_prog_get_fd_by_id). */
  static fromId(id: number): BpfProgram {
    ensureLibbpfInit();
    return new BpfProgram(check('bpf_prog_get_fd_by_id', bpf.prog_get_fd_by_id(id) as number, `prog id ${id}`), true);
  }

  /** Program fd; throws once closed (or before its object is loaded). */
  get fd(): number {
    if (this.ownFd < 0) throw new Error('BPF program is closed');
    return this.ownFd;
  }

  /** Kernel program info (id, tag, name, run stats). */
  info(): ProgInfo {
    return progInfo(this.fd);
  }

  /** Kernel program id. */
  get id(): number {
    return this.info().id;
  }

  /** Program tag: 16 hex chars (bpf_prog_info.tag), identical for identical instructions. */
  get tag(): string {
    return this.info().tag;
  }

  /** Pin the program at a bpffs path (bpf_obj_pin). */
  pin(path: string): void {
    check('bpf_obj_pin', bpf.obj_pin(this.fd, path) as number, path);
  }

  /** Whether this handle has been closed. */
  get closed(): boolean {
    return this.ownFd < 0;
  }

  /** Close the fd if owned (idempotent). */
  close(): void {
    if (this.ownFd >= 0 && this.owned) cfn.close(this.ownFd);
    this.ownFd = -1;
  }
}

/** Liveness token shared by a BpfObject and the handles it hands out. */
export interface ObjectOwner {
  readonly closed: boolean;
  readonly loaded: boolean;
  readonly path: string;
}

/**
 * A program inside a {@link BpfObject}. Before load it can be configured (autoload,
 * log level); after load `fd`, `tag`, `id` are available. Its fd belongs to the object:
 * close the object, not the program.
 */
export class ObjectProgram extends BpfProgram {
  /** Function name of the program (bpf_program__name). */
  readonly name: string;
  /** ELF section, e.g. "tc" or "cgroup_skb/egress". */
  readonly sectionName: string;

  /** @internal Created by BpfObject. */
  constructor(
    private readonly ptr: unknown,
    private readonly owner: ObjectOwner,
  ) {
    super(-1, false);
    this.name = bpf.program__name(ptr) as string;
    this.sectionName = bpf.program__section_name(ptr) as string;
  }

  private live(): unknown {
    if (this.owner.closed) throw new Error(`program ${this.name}: object ${this.owner.path} is closed`);
    return this.ptr;
  }

  override get fd(): number {
    const p = this.live();
    if (!this.owner.loaded) throw new Error(`program ${this.name}: object ${this.owner.path} is not loaded`);
    return check('bpf_program__fd', bpf.program__fd(p) as number, this.name);
  }

  /** enum bpf_prog_type, as libbpf derived it from the section name. */
  get type(): number {
    return bpf.program__type(this.live()) as number;
  }

  /** enum bpf_attach_type libbpf derived from the section (e.g. 1 for cgroup_skb/egress). */
  get expectedAttachType(): number {
    return bpf.program__expected_attach_type(this.live()) as number;
  }

  /** Skip (false) or include (true) this program at load. Before load only. */
  setAutoload(autoload: boolean): void {
    check('bpf_program__set_autoload', bpf.program__set_autoload(this.live(), autoload) as number, this.name);
  }

  /** Per-program verifier log level (VerifierLogLevel). Before load only. */
  setLogLevel(level: number): void {
    check('bpf_program__set_log_level', bpf.program__set_log_level(this.live(), level) as number, this.name);
  }

  override get closed(): boolean {
    return this.owner.closed;
  }

  /** No-op: the fd belongs to the object (close the BpfObject). */
  override close(): void {}
}
