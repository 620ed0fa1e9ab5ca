// Ring buffer consumer that never blocks the event loop.
//
// Choice: libbpf's ring_buffer__poll(rb, timeout>0) would block the only JS thread in
// epoll_wait, and Node cannot watch an arbitrary epoll fd without a native addon. So we
// drain from a timer with ring_buffer__consume(), which reads the mmap'ed producer
// position directly (no syscall when empty) and never sleeps. Latency is bounded by
// the interval (default 50 ms); the kernel side buffers events meanwhile (size the
// ringbuf map for interval × event rate). poll(0) is available for callers who want
// the epoll readiness check instead.
import type { IKoffiRegisteredCallback } from 'koffi';
import { koffi } from '../ffi';
import { BpfError, check, ensureLibbpfInit } from './errors';
import { RingBufferSampleFn, bpf } from './native';

/** Anything with a map fd (BpfMap, ObjectMap). */
export interface MapLike {
  readonly fd: number;
}

/**
 * Event handler: receives a copy of one record. Return `false` to stop the current
 * drain early (remaining records stay queued for the next one).
 */
export type RingBufferHandler = (data: Buffer) => void | boolean;

/** Options for {@link RingBuffer.start}. */
export interface RingBufferLoopOptions {
  /** Drain period in ms (default 50). */
  intervalMs?: number;
  /** Called with errors thrown by the handler or libbpf; default: stop the loop and rethrow. */
  onError?: (err: unknown) => void;
  /** Do not keep the process alive just for this loop (timer.unref()). */
  unref?: boolean;
}

// A negative return stops libbpf's consume loop and is passed back to us; this value
// is outside the errno range so it cannot be mistaken for a real error.
const STOP = -100000;

/**
 * Consumer for one or more BPF_MAP_TYPE_RINGBUF maps. Always {@link RingBuffer.close}
 * it (stops the loop, frees the ring and the callback slot).
 */
export class RingBuffer {
  private rb: unknown;
  private readonly cbs: unknown[] = [];
  private pendingError: unknown = null;
  private timer: NodeJS.Timeout | null = null;
  /** Records delivered since creation. */
  delivered = 0;

  /** Create a consumer for `map` (ring_buffer__new). */
  constructor(map: MapLike, handler: RingBufferHandler) {
    ensureLibbpfInit();
    const cb = this.callbackFor(handler);
    const rb = bpf.ring_buffer__new(map.fd, cb, null, null);
    if (!rb) {
      const e = koffi.errno();
      this.unregisterAll();
      throw new BpfError('ring_buffer__new', e || 22, { target: `map fd ${map.fd}` });
    }
    this.rb = rb;
  }

  // One registered C callback per map, bound to its handler (no ctx pointer games).
  private callbackFor(handler: RingBufferHandler): unknown {
    const cb = koffi.register(
      (_ctx: unknown, data: unknown, size: number | bigint) => this.onSample(handler, data, size),
      koffi.pointer(RingBufferSampleFn),
    );
    this.cbs.push(cb);
    return cb;
  }

  private unregisterAll(): void {
    for (const cb of this.cbs) koffi.unregister(cb as IKoffiRegisteredCallback);
    this.cbs.length = 0;
  }

  private onSample(handler: RingBufferHandler, data: unknown, size: number | bigint): number {
    try {
      // Copy: the record's memory is handed back to the kernel when we return.
      const copy = Buffer.from(new Uint8Array(koffi.view(data, Number(size))));
      this.delivered++;
      const r = handler(copy);
      return r === false ? STOP : 0;
    } catch (e) {
      this.pendingError = e;
      return STOP;
    }
  }

  private live(): unknown {
    if (this.rb === null) throw new Error('ring buffer is closed');
    return this.rb;
  }

  /** Add another ring buffer map with its own handler (ring_buffer__add). */
  add(map: MapLike, handler: RingBufferHandler): void {
    const rb = this.live();
    check('ring_buffer__add', bpf.ring_buffer__add(rb, map.fd, this.callbackFor(handler), null) as number, `map fd ${map.fd}`);
  }

  private settle(r: number, op: string, before: number): number {
    if (this.pendingError !== null) {
      const e = this.pendingError;
      this.pendingError = null;
      throw e;
    }
    if (r < 0 && r !== STOP && r !== -4 /* EINTR */) check(op, r);
    return this.delivered - before;
  }

  /** Drain every ring without waiting (ring_buffer__consume); returns records handled. */
  consume(): number {
    const before = this.delivered;
    return this.settle(bpf.ring_buffer__consume(this.live()) as number, 'ring_buffer__consume', before);
  }

  /**
   * epoll for ready rings and drain them (ring_buffer__poll). Use only timeoutMs = 0
   * on the main thread: anything else blocks the event loop.
   */
  poll(timeoutMs = 0): number {
    const before = this.delivered;
    return this.settle(bpf.ring_buffer__poll(this.live(), timeoutMs) as number, 'ring_buffer__poll', before);
  }

  /** epoll fd of the ring set (for callers with their own readiness machinery). */
  get epollFd(): number {
    return bpf.ring_buffer__epoll_fd(this.live()) as number;
  }

  /** Start draining every `intervalMs` from a timer. Idempotent. */
  start(opts: RingBufferLoopOptions = {}): void {
    this.live();
    if (this.timer) return;
    const onError =
      opts.onError ??
      ((e: unknown) => {
        this.stop();
        throw e;
      });
    this.timer = setInterval(() => {
      try {
        this.consume();
      } catch (e) {
        onError(e);
      }
    }, opts.intervalMs ?? 50);
    if (opts.unref) this.timer.unref();
  }

  /** Stop the drain loop (records stay queued in the kernel). */
  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  /** Whether the drain loop is running. */
  get running(): boolean {
    return this.timer !== null;
  }

  /** Stop, free the ring (ring_buffer__free) and the callback slot. Idempotent. */
  close(): void {
    this.stop();
    if (this.rb !== null) {
      bpf.ring_buffer__free(this.rb);
      this.rb = null;
      this.unregisterAll();
    }
  }
}
