// BPF ELF objects: open, configure (pin paths, autoload), load with the verifier log
// captured into a BpfError, and enumerate programs and maps.
import fs from 'node:fs';
import path from 'node:path';
import { koffi } from '../ffi';
import { BpfError, check, ensureLibbpfInit, libbpfLogMark, libbpfLogSince } from './errors';
import { BpfMap, MapShape } from './map';
import { BpfObjectOpenOpts, bpf, lastErrno } from './native';
import { ObjectOwner, ObjectProgram } from './program';

/** Options for {@link BpfObject.open}. */
export interface OpenObjectOptions {
  /** Override the object name (default: file name without extension). */
  objectName?: string;
  /** Directory for maps declared with `__uint(pinning, LIBBPF_PIN_BY_NAME)` (default /sys/fs/bpf). */
  pinRoot?: string;
  /** Size of the verifier log buffer (default 1 MiB). 0 disables log capture. */
  logSize?: number;
  /**
   * Verifier log level for every program (0 default: no log on success, libbpf retries a
   * failed load with level 1 into our buffer; 1/2 verbose, 4 stats always logged).
   */
  logLevel?: number;
  /** Pin paths per map name, applied before load (reuses an existing pinned map). */
  mapPinPaths?: Record<string, string>;
  /** Programs to skip at load (by function name). */
  skipPrograms?: string[];
}

/**
 * An opened (and possibly loaded) BPF ELF object. Close with {@link BpfObject.close}
 * (try/finally): that closes every program and map fd it owns; attached links and
 * pins keep kernel objects alive independently.
 *
 * @example
 * const obj = BpfObject.open('dist/bpf/counter.bpf.o', { mapPinPaths: { counters: '/sys/fs/bpf/x/counters' } });
 * try { obj.load(); ... } finally { obj.close(); }
 */
export class BpfObject implements ObjectOwner {
  private ptr: unknown;
  private logBuf: unknown;
  private readonly logSize: number;
  private _loaded = false;
  private readonly programsByName = new Map<string, ObjectProgram>();
  private readonly mapsByName = new Map<string, ObjectMap>();

  private constructor(
    ptr: unknown,
    logBuf: unknown,
    logSize: number,
    /** Path the object was opened from. */
    readonly path: string,
  ) {
    this.ptr = ptr;
    this.logBuf = logBuf;
    this.logSize = logSize;
    let p = bpf.object__next_program(ptr, null);
    while (p) {
      const prog = new ObjectProgram(p, this);
      this.programsByName.set(prog.name, prog);
      p = bpf.object__next_program(ptr, p);
    }
    let m = bpf.object__next_map(ptr, null);
    while (m) {
      const map = new ObjectMap(m, this);
      this.mapsByName.set(map.name, map);
      m = bpf.object__next_map(ptr, m);
    }
  }

  /** Open an ELF object file (bpf_object__open_file). Nothing is loaded into the kernel yet. */
  static open(file: string, opts: OpenObjectOptions = {}): BpfObject {
    ensureLibbpfInit();
    const abs = path.resolve(file);
    if (!fs.existsSync(abs)) throw new BpfError('bpf_object__open_file', 2, { target: abs });
    const logSize = opts.logSize ?? 1 << 20;
    // libbpf keeps this pointer until load: it must be stable memory, not a Buffer.
    const logBuf = logSize > 0 ? koffi.alloc('char', logSize) : null;
    if (logBuf) koffi.encode(logBuf, 'uint8_t', 0);
    const copts = {
      sz: koffi.sizeof(BpfObjectOpenOpts),
      object_name: opts.objectName ?? null,
      relaxed_maps: false,
      pin_root_path: opts.pinRoot ?? null,
      _stub_attach_prog_fd: 0,
      kconfig: null,
      btf_custom_path: null,
      kernel_log_buf: logBuf,
      kernel_log_size: logSize,
      kernel_log_level: opts.logLevel ?? 0,
    };
    const mark = libbpfLogMark();
    const ptr = bpf.object__open_file(abs, copts);
    if (!ptr) {
      const e = lastErrno();
      if (logBuf) koffi.free(logBuf);
      throw new BpfError('bpf_object__open_file', e || 22, { target: abs, libbpfLog: libbpfLogSince(mark) });
    }
    const obj = new BpfObject(ptr, logBuf, logSize, abs);
    try {
      for (const [name, pinPath] of Object.entries(opts.mapPinPaths ?? {})) obj.map(name).setPinPath(pinPath);
      for (const name of opts.skipPrograms ?? []) obj.program(name).setAutoload(false);
    } catch (e) {
      obj.close();
      throw e;
    }
    return obj;
  }

  /** Open and load in one step; the object is closed again if loading fails. */
  static load(file: string, opts: OpenObjectOptions = {}): BpfObject {
    const obj = BpfObject.open(file, opts);
    try {
      obj.load();
    } catch (e) {
      obj.close();
      throw e;
    }
    return obj;
  }

  /** Object name (bpf_object__name). */
  get name(): string {
    return bpf.object__name(this.live()) as string;
  }

  /** True after a successful {@link BpfObject.load}. */
  get loaded(): boolean {
    return this._loaded;
  }

  /** True after {@link BpfObject.close}. */
  get closed(): boolean {
    return this.ptr === null;
  }

  private live(): unknown {
    if (this.ptr === null) throw new Error(`BPF object ${this.path} is closed`);
    return this.ptr;
  }

  /**
   * Create maps (or reuse pinned ones), load every program into the kernel (verifier),
   * pin maps that have pin paths. On rejection throws BpfError with `verifierLog`.
   */
  load(): void {
    const ptr = this.live();
    if (this._loaded) throw new Error(`BPF object ${this.path} is already loaded`);
    const mark = libbpfLogMark();
    const r = bpf.object__load(ptr) as number;
    if (r < 0) {
      throw new BpfError('bpf_object__load', -r, {
        target: this.path,
        verifierLog: this.verifierLog(),
        libbpfLog: libbpfLogSince(mark),
      });
    }
    this._loaded = true;
  }

  /**
   * Contents of the object's kernel log buffer: the verifier log of the last program
   * load that produced one (a failed load, or any load with logLevel > 0).
   */
  verifierLog(): string {
    if (!this.logBuf) return '';
    return (koffi.decode(this.logBuf, 'char', -1) as string).slice(0, this.logSize);
  }

  /** All programs, in ELF order. */
  get programs(): ObjectProgram[] {
    this.live();
    return [...this.programsByName.values()];
  }

  /** All maps (including .bss/.data/.rodata internal maps), in ELF order. */
  get maps(): ObjectMap[] {
    this.live();
    return [...this.mapsByName.values()];
  }

  /** Program by function name; throws if absent. */
  program(name: string): ObjectProgram {
    this.live();
    const p = this.programsByName.get(name);
    if (!p) throw new Error(`BPF object ${this.path} has no program "${name}" (has: ${[...this.programsByName.keys()].join(', ')})`);
    return p;
  }

  /** Map by name; throws if absent. */
  map(name: string): ObjectMap {
    this.live();
    const m = this.mapsByName.get(name);
    if (!m) throw new Error(`BPF object ${this.path} has no map "${name}" (has: ${[...this.mapsByName.keys()].join(', ')})`);
    return m;
  }

  /** Free the object: closes all its program and map fds (idempotent). */
  close(): void {
    if (this.ptr !== null) {
      bpf.object__close(this.ptr);
      this.ptr = null;
    }
    if (this.logBuf) {
      koffi.free(this.logBuf);
      this.logBuf = null;
    }
  }
}

/**
 * A map inside a {@link BpfObject}: configure before load (pin path, max entries),
 * use all {@link BpfMap} operations after load. Its fd belongs to the object.
 */
export class ObjectMap extends BpfMap {
  private readonly mapName: string;

  /** @internal Created by BpfObject. */
  constructor(
    private readonly ptr: unknown,
    private readonly owner: ObjectOwner,
  ) {
    super(-1, false);
    this.mapName = bpf.map__name(ptr) as string;
  }

  private live(): unknown {
    if (this.owner.closed) throw new Error(`map ${this.mapName}: object ${this.owner.path} is closed`);
    return this.ptr;
  }

  override get fd(): number {
    const p = this.live();
    if (!this.owner.loaded) throw new Error(`map ${this.mapName}: object ${this.owner.path} is not loaded`);
    return check('bpf_map__fd', bpf.map__fd(p) as number, this.mapName);
  }

  protected override get meta(): MapShape {
    if (this.shape && this.owner.loaded && !this.owner.closed) return this.shape;
    const p = this.live();
    const s: MapShape = {
      name: this.mapName,
      type: bpf.map__type(p) as number,
      keySize: bpf.map__key_size(p) as number,
      valueSize: bpf.map__value_size(p) as number,
      maxEntries: bpf.map__max_entries(p) as number,
    };
    // Shape is frozen once loaded: cache it so element calls stay one FFI call.
    if (this.owner.loaded) this.shape = s;
    return s;
  }

  override get name(): string {
    return this.mapName;
  }

  /**
   * Pin path to use at load: if a map is already pinned there, libbpf reuses it (after
   * checking type/sizes match); otherwise the new map is pinned there after load.
   */
  setPinPath(pinPath: string | null): void {
    check('bpf_map__set_pin_path', bpf.map__set_pin_path(this.live(), pinPath) as number, this.mapName);
  }

  /** Current pin path, or null. */
  get pinPath(): string | null {
    return (bpf.map__pin_path(this.live()) as string | null) ?? null;
  }

  /** Whether libbpf pinned (or reused a pin of) this map. */
  get isPinned(): boolean {
    return bpf.map__is_pinned(this.live()) as boolean;
  }

  /** Change max_entries before load. */
  setMaxEntries(n: number): void {
    check('bpf_map__set_max_entries', bpf.map__set_max_entries(this.live(), n) as number, this.mapName);
  }

  /** Pin after load (bpf_map__pin; null path: the configured pin path). */
  override pin(pinPath: string | null = null): void {
    check('bpf_map__pin', bpf.map__pin(this.live(), pinPath) as number, pinPath ?? this.mapName);
  }

  /** Remove the pin (bpf_map__unpin; null path: the configured pin path). */
  unpin(pinPath: string | null = null): void {
    check('bpf_map__unpin', bpf.map__unpin(this.live(), pinPath) as number, pinPath ?? this.mapName);
  }

  override get closed(): boolean {
    return this.owner.closed;
  }

  /** No-op: the fd belongs to the object (close the BpfObject). */
  override close(): void {}
}
