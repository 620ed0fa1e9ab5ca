// Map handles over a map fd: element and batch operations with size-checked Buffers
// (libbpf reads/writes exactly key_size/value_size bytes, so short Buffers would be
// memory corruption), typed u32/u64 helpers and per-CPU value handling.
import { koffi } from '../ffi';
import { BpfError, check, ensureLibbpfInit } from './errors';
import { numPossibleCpus, perCpuStride, readU32, sumU64Fields, u32, u64, writeU32 } from './codec';
import { PER_CPU_MAP_TYPES, UpdateFlags } from './constants';
import { MapInfo, mapInfo } from './info';
import { BpfMapBatchOpts, BpfMapCreateOpts, bpf, cfn } from './native';

const ENOENT = 2;
const ENOSPC = 28;

/** Static shape of a map (what sizes Buffers must have). */
export interface MapShape {
  name: string;
  type: number;
  keySize: number;
  valueSize: number;
  maxEntries: number;
}

/** Options for {@link BpfMap.create}. */
export interface CreateMapOptions {
  /** enum bpf_map_type, e.g. MapType.HASH. */
  type: number;
  /** Map name (kernel keeps up to 15 characters). */
  name?: string;
  keySize: number;
  valueSize: number;
  maxEntries: number;
  /** BPF_F_* flags (e.g. BPF_F_NO_PREALLOC = 1). */
  flags?: number;
}

/** Options for batch calls. */
export interface BatchOptions {
  /** Entries per bpf() call (default: min(max_entries, 8192)); grown automatically on ENOSPC. */
  chunk?: number;
  /** BPF_F_LOCK etc. for the elements (elem_flags). */
  elemFlags?: number;
}

/**
 * Packed result of a batch lookup: `count` keys back to back in `keys`
 * (keySize each) and values in `values` (valueStride each; for per-CPU maps a
 * stride holds every possible CPU's copy).
 */
export class BatchResult {
  constructor(
    /** Packed keys. */
    readonly keys: Buffer,
    /** Packed values. */
    readonly values: Buffer,
    /** Number of entries. */
    readonly count: number,
    /** Bytes per key. */
    readonly keySize: number,
    /** Bytes per value slot (value_size, or per-CPU stride × CPUs). */
    readonly valueStride: number,
  ) {}

  /** Key `i` (a view into `keys`). */
  key(i: number): Buffer {
    return this.keys.subarray(i * this.keySize, (i + 1) * this.keySize);
  }

  /** Value `i` (a view into `values`). */
  value(i: number): Buffer {
    return this.values.subarray(i * this.valueStride, (i + 1) * this.valueStride);
  }

  /** All entries as [key, value] views. */
  *entries(): Generator<[Buffer, Buffer]> {
    for (let i = 0; i < this.count; i++) yield [this.key(i), this.value(i)];
  }
}

/**
 * A BPF map reached through a file descriptor: from a loaded object
 * ({@link BpfObject.map}), a pin ({@link BpfMap.openPinned}), an id or created directly.
 * Keys and values are Buffers in host byte order; see `codec.ts` for encoders.
 * Call {@link BpfMap.close} when done (a no-op for maps owned by a BpfObject).
 */
export class BpfMap {
  /** -1 once closed. */
  protected ownFd: number;
  protected shape: MapShape | null;
  private readonly owned: boolean;
  private scratchCount = Buffer.alloc(4);

  /** Wrap an fd. With `owned`, close() closes it. Prefer the static constructors. */
  constructor(fd: number, owned: boolean, shape?: MapShape) {
    this.ownFd = fd;
    this.owned = owned;
    this.shape = shape ?? null;
  }

  /** Open a pinned map (bpf_obj_get on a bpffs path). */
  static openPinned(path: string): BpfMap {
    ensureLibbpfInit();
    const fd = check('bpf_obj_get', bpf.obj_get(path) as number, path);
    return BpfMap.adopt(fd);
  }

  /** Open a map by kernel id. */
  static fromId(id: number): BpfMap {
    ensureLibbpfInit();
    const fd = check('bpf_map_get_fd_by_id', bpf.map_get_fd_by_id(id) as number, `map id ${id}`);
    return BpfMap.adopt(fd);
  }

  /** Create a standalone map (bpf_map_create). */
  static create(opts: CreateMapOptions): BpfMap {
    ensureLibbpfInit();
    const copts = { sz: koffi.sizeof(BpfMapCreateOpts), map_flags: opts.flags ?? 0 };
    const fd = check(
      'bpf_map_create',
      bpf.map_create(opts.type, opts.name ?? null, opts.keySize, opts.valueSize, opts.maxEntries, copts) as number,
      opts.name,
    );
    return BpfMap.adopt(fd);
  }

  private static adopt(fd: number): BpfMap {
    try {
      const i = mapInfo(fd);
      return new BpfMap(fd, true, i);
    } catch (e) {
      cfn.close(fd);
      throw e;
    }
  }

  /** The map fd; throws if the handle (or its owning object) is closed. */
  get fd(): number {
    if (this.ownFd < 0) throw new Error(`BPF map ${this.shape?.name ?? ''} is closed`);
    return this.ownFd;
  }

  protected get meta(): MapShape {
    if (!this.shape) this.shape = mapInfo(this.fd);
    return this.shape;
  }

  /** Map name. */
  get name(): string {
    return this.meta.name;
  }
  /** enum bpf_map_type. */
  get type(): number {
    return this.meta.type;
  }
  /** Key size in bytes. */
  get keySize(): number {
    return this.meta.keySize;
  }
  /** Value size in bytes (one CPU's copy for per-CPU maps). */
  get valueSize(): number {
    return this.meta.valueSize;
  }
  /** max_entries. */
  get maxEntries(): number {
    return this.meta.maxEntries;
  }
  /** Whether values are per CPU (lookups return one padded copy per possible CPU). */
  get isPerCpu(): boolean {
    return PER_CPU_MAP_TYPES.has(this.type);
  }
  /** Bytes a lookup writes: value_size, or round_up(value_size, 8) × possible CPUs. */
  get valueBufferSize(): number {
    return this.isPerCpu ? perCpuStride(this.valueSize) * numPossibleCpus() : this.valueSize;
  }

  /** Kernel's view of the map (id, flags...). */
  info(): MapInfo {
    return mapInfo(this.fd);
  }

  private checkKey(key: Buffer): void {
    if (key.length !== this.keySize) throw new RangeError(`map ${this.name}: key is ${key.length} bytes, map wants ${this.keySize}`);
  }

  private checkValue(value: Buffer): void {
    if (value.length < this.valueBufferSize) {
      throw new RangeError(`map ${this.name}: value is ${value.length} bytes, map needs ${this.valueBufferSize}`);
    }
  }

  /** Encode a number as this map's key (u32 or u64 keys), or pass a Buffer through. */
  keyOf(key: number | bigint | Buffer): Buffer {
    if (Buffer.isBuffer(key)) return key;
    if (this.keySize === 4) return u32(Number(key));
    if (this.keySize === 8) return u64(key);
    throw new RangeError(`map ${this.name}: numeric key needs key_size 4 or 8, not ${this.keySize}`);
  }

  /**
   * Look up `key`. Returns the value (a new Buffer, or `out` if given) or undefined if
   * absent. Per-CPU maps return every CPU's copy (see {@link splitPerCpu}).
   */
  lookup(key: Buffer, out?: Buffer): Buffer | undefined {
    this.checkKey(key);
    const value = out ?? Buffer.allocUnsafe(this.valueBufferSize);
    this.checkValue(value);
    const r = bpf.map_lookup_elem(this.fd, key, value) as number;
    if (r === -ENOENT) return undefined;
    check('bpf_map_lookup_elem', r, this.name);
    return value;
  }

  /** Insert or replace (flags: UpdateFlags.ANY / NOEXIST / EXIST). */
  update(key: Buffer, value: Buffer, flags: number = UpdateFlags.ANY): void {
    this.checkKey(key);
    this.checkValue(value);
    check('bpf_map_update_elem', bpf.map_update_elem(this.fd, key, value, flags) as number, this.name);
  }

  /** Delete `key`; false if it was not present. */
  delete(key: Buffer): boolean {
    this.checkKey(key);
    const r = bpf.map_delete_elem(this.fd, key) as number;
    if (r === -ENOENT) return false;
    check('bpf_map_delete_elem', r, this.name);
    return true;
  }

  /** Key following `key` (null: first key), or undefined at the end. */
  nextKey(key: Buffer | null): Buffer | undefined {
    if (key) this.checkKey(key);
    const next = Buffer.allocUnsafe(this.keySize);
    const r = bpf.map_get_next_key(this.fd, key, next) as number;
    if (r === -ENOENT) return undefined;
    check('bpf_map_get_next_key', r, this.name);
    return next;
  }

  /**
   * Iterate keys with get_next_key (one syscall per key; use {@link lookupBatch} for
   * big maps). If the current key of a hash map is deleted meanwhile, the kernel
   * restarts from the first key, so concurrent deletes can repeat keys.
   */
  *keys(): Generator<Buffer> {
    let k = this.nextKey(null);
    while (k) {
      yield k;
      k = this.nextKey(k);
    }
  }

  /** Iterate [key, value] pairs (keys() + lookup(); entries deleted meanwhile are skipped). */
  *entries(): Generator<[Buffer, Buffer]> {
    for (const k of this.keys()) {
      const v = this.lookup(k);
      if (v) yield [k, v];
    }
  }

  /**
   * Read the whole map with BPF_MAP_LOOKUP_BATCH (or LOOKUP_AND_DELETE_BATCH with
   * `remove`), chunk by chunk. Much faster than keys()+lookup() on large maps.
   */
  lookupBatch(opts: BatchOptions & { remove?: boolean } = {}): BatchResult {
    const ks = this.keySize;
    const vs = this.valueBufferSize;
    let chunk = Math.max(1, opts.chunk ?? Math.min(this.maxEntries, 8192));
    // Hash maps use a u32 bucket cursor, arrays a key: size the token for both.
    const tokIn = Buffer.alloc(Math.max(ks, 8));
    const tokOut = Buffer.alloc(Math.max(ks, 8));
    let capacity = Math.max(this.maxEntries, chunk);
    let keys: Buffer = Buffer.allocUnsafe(capacity * ks);
    let values: Buffer = Buffer.allocUnsafe(capacity * vs);
    let total = 0;
    let first = true;
    const bopts = { sz: koffi.sizeof(BpfMapBatchOpts), elem_flags: opts.elemFlags ?? 0, flags: 0 };
    const fn = opts.remove ? bpf.map_lookup_and_delete_batch : bpf.map_lookup_batch;
    const op = opts.remove ? 'bpf_map_lookup_and_delete_batch' : 'bpf_map_lookup_batch';
    for (;;) {
      if (total + chunk > capacity) {
        // Per-CPU LRU maps can briefly exceed max_entries; grow rather than overrun.
        capacity = Math.max(capacity * 2, total + chunk);
        keys = grow(keys, capacity * ks);
        values = grow(values, capacity * vs);
      }
      writeU32(this.scratchCount, 0, chunk);
      const r = fn(
        this.fd,
        first ? null : tokIn,
        tokOut,
        keys.subarray(total * ks),
        values.subarray(total * vs),
        this.scratchCount,
        bopts,
      ) as number;
      const got = readU32(this.scratchCount);
      if (r === -ENOSPC && got === 0) {
        chunk *= 2; // a hash bucket holds more entries than one chunk
        continue;
      }
      if (r < 0 && r !== -ENOENT) check(op, r, this.name);
      total += got;
      if (r === -ENOENT) break;
      tokOut.copy(tokIn);
      first = false;
    }
    return new BatchResult(keys.subarray(0, total * ks), values.subarray(0, total * vs), total, ks, vs);
  }

  /**
   * Update many entries in one call (BPF_MAP_UPDATE_BATCH). `keys`/`values` are packed
   * Buffers or arrays of Buffers; returns the number of entries written.
   */
  updateBatch(keys: Buffer | Buffer[], values: Buffer | Buffer[], opts: { flags?: number; count?: number } = {}): number {
    const k = Array.isArray(keys) ? Buffer.concat(keys) : keys;
    const v = Array.isArray(values) ? Buffer.concat(values) : values;
    const count = opts.count ?? Math.floor(k.length / this.keySize);
    if (k.length < count * this.keySize) throw new RangeError(`map ${this.name}: keys buffer too short for ${count} entries`);
    if (v.length < count * this.valueBufferSize) {
      throw new RangeError(`map ${this.name}: values buffer too short for ${count} entries`);
    }
    if (count === 0) return 0;
    writeU32(this.scratchCount, 0, count);
    const bopts = { sz: koffi.sizeof(BpfMapBatchOpts), elem_flags: opts.flags ?? UpdateFlags.ANY, flags: 0 };
    const r = bpf.map_update_batch(this.fd, k, v, this.scratchCount, bopts) as number;
    if (r < 0) {
      throw new BpfError('bpf_map_update_batch', -r, {
        target: `${this.name}: ${readU32(this.scratchCount)} of ${count} written`,
      });
    }
    return readU32(this.scratchCount);
  }

  /**
   * Delete many keys in one call (BPF_MAP_DELETE_BATCH); returns how many were deleted.
   * The kernel stops at the first absent key (BpfError ENOENT, `target` tells how many
   * went before it); use {@link BpfMap.clear} to empty a map.
   */
  deleteBatch(keys: Buffer | Buffer[]): number {
    const k = Array.isArray(keys) ? Buffer.concat(keys) : keys;
    const count = Math.floor(k.length / this.keySize);
    if (count === 0) return 0;
    writeU32(this.scratchCount, 0, count);
    const bopts = { sz: koffi.sizeof(BpfMapBatchOpts), elem_flags: 0, flags: 0 };
    const r = bpf.map_delete_batch(this.fd, k, this.scratchCount, bopts) as number;
    if (r < 0) {
      throw new BpfError('bpf_map_delete_batch', -r, {
        target: `${this.name}: ${readU32(this.scratchCount)} of ${count} deleted`,
      });
    }
    return readU32(this.scratchCount);
  }

  /**
   * Remove every entry (hash-like maps): LOOKUP_AND_DELETE_BATCH, or key-by-key where
   * the map type has no batch delete. Returns the number removed.
   */
  clear(): number {
    try {
      return this.lookupBatch({ remove: true }).count;
    } catch (e) {
      if (!(e instanceof BpfError) || (e.errno !== 22 && e.errno !== 95 && e.errno !== 524)) throw e;
    }
    let n = 0;
    for (let k = this.nextKey(null); k; k = this.nextKey(null)) if (this.delete(k)) n++;
    return n;
  }

  /**
   * Look up `key` and sum each u64 field of the value across CPUs (plain maps: just
   * the fields). For `struct { u64 packets; u64 bytes; }` this gives [packets, bytes].
   */
  lookupU64Fields(key: number | bigint | Buffer): bigint[] | undefined {
    const v = this.lookup(this.keyOf(key));
    if (!v) return undefined;
    return sumU64Fields(v, this.valueSize, this.isPerCpu ? numPossibleCpus() : 1);
  }

  /** First u64 of the value (summed over CPUs for per-CPU maps), or undefined if absent. */
  lookupU64(key: number | bigint | Buffer): bigint | undefined {
    if (this.valueSize < 8) throw new RangeError(`map ${this.name}: value_size ${this.valueSize} < 8`);
    return this.lookupU64Fields(key)?.[0];
  }

  /** Per-CPU copies of a per-CPU map value (views into one Buffer), or undefined if absent. */
  lookupPerCpu(key: number | bigint | Buffer): Buffer[] | undefined {
    if (!this.isPerCpu) throw new Error(`map ${this.name} is not a per-CPU map`);
    const v = this.lookup(this.keyOf(key));
    if (!v) return undefined;
    const stride = perCpuStride(this.valueSize);
    const out: Buffer[] = [];
    for (let c = 0; c < numPossibleCpus(); c++) out.push(v.subarray(c * stride, c * stride + this.valueSize));
    return out;
  }

  /** Store a u64 value (value_size 8, not per-CPU). */
  updateU64(key: number | bigint | Buffer, value: bigint | number, flags: number = UpdateFlags.ANY): void {
    if (this.isPerCpu || this.valueSize !== 8) {
      throw new Error(`map ${this.name}: updateU64 needs a plain map with 8-byte values`);
    }
    this.update(this.keyOf(key), u64(value), flags);
  }

  /** Store per-CPU copies (each `valueSize` bytes; missing CPUs get zeroes). */
  updatePerCpu(key: number | bigint | Buffer, perCpu: Buffer[], flags: number = UpdateFlags.ANY): void {
    if (!this.isPerCpu) throw new Error(`map ${this.name} is not a per-CPU map`);
    const stride = perCpuStride(this.valueSize);
    const buf = Buffer.alloc(this.valueBufferSize);
    perCpu.slice(0, numPossibleCpus()).forEach((v, c) => v.copy(buf, c * stride, 0, this.valueSize));
    this.update(this.keyOf(key), buf, flags);
  }

  /** Pin the map at a bpffs path (bpf_obj_pin). */
  pin(path: string): void {
    check('bpf_obj_pin', bpf.obj_pin(this.fd, path) as number, path);
  }

  /** Whether this handle has been closed. */
  get closed(): boolean {
    return this.ownFd < 0;
  }

  /** Close the fd if this handle owns it (idempotent). Pins keep the map alive. */
  close(): void {
    if (this.ownFd >= 0 && this.owned) cfn.close(this.ownFd);
    this.ownFd = -1;
  }
}

function grow(b: Buffer, size: number): Buffer {
  const n = Buffer.allocUnsafe(size);
  b.copy(n);
  return n;
}
