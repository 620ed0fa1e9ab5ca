// Netlink writes on a second thread. The kernel does a request's work inside the sender's
// send(): on one thread, encoding the next request waits for the kernel to finish the last one.
// A large apply instead posts its fire-and-forget writes (no reply wanted) into a shared ring,
// and a worker thread sends them in order and reads each ack, so our per-request JavaScript
// (encoding, journal, inventory, progress) runs while the kernel works. The worker stops at the
// first rejected request and skips everything after it; the caller learns which request failed
// (and so which plan step) at the next drain. Anything that needs a reply, a dump, or a write
// outside netlink drains first (see socket.ts and apply/reconcile.ts).
import { Worker } from 'node:worker_threads';
import { koffiPath } from '../ffi';
import { SyscallError } from '../libc';
import { NetlinkError } from './socket';

const RING_BYTES = 4 << 20;
const TEXT_BYTES = 4096;
// Control words (Int32Array indexes).
const POSTED = 0; // records posted by the main thread (monotonic)
const DONE = 1; // records handled by the worker (monotonic)
const FAIL_AT = 2; // 1-based record number of the first failure, 0: none
const FAIL_KIND = 3; // 1: kernel rejection (errno + extack), 2: syscall error (text names it)
const FAIL_ERRNO = 4;
const FAIL_TEXT_LEN = 5;
const DEAD = 6; // the worker failed to start or crashed: text says why
const ABORT = 7; // skip everything posted (the apply is being abandoned)
const READY = 8; // the worker has loaded koffi (until then, exiting the process would abort it)
const CTRL_WORDS = 16;
// Record header: fd (i32) and length (u32). fd -1: wrap to offset 0. fd -2: exit.
const WRAP = -1;
const EXIT = -2;
/** No progress for this long while draining: the worker is stuck (its recv has a 10 s timeout). */
const DRAIN_TIMEOUT_MS = 60_000;

// The worker: a plain loop over the ring. Source text, so the CLI bundle needs no second entry.
const WORKER_SOURCE = String.raw`'use strict';
const { workerData } = require('node:worker_threads');
const ctrl = new Int32Array(workerData.ctrl);
const text = Buffer.from(workerData.text);
function setText(s) {
  const n = text.write(s.slice(0, 1000), 0);
  ctrl[5] = n;
}
try {
  const k = require(workerData.koffi);
  const lib = k.load('libc.so.6');
  const send = lib.func('intptr_t send(int fd, const void *buf, size_t len, int flags)');
  const recv = lib.func('intptr_t recv(int fd, _Out_ void *buf, size_t len, int flags)');
  const errnoAt = lib.func('int *__errno_location()');
  const errno = () => k.decode(errnoAt(), 'int');
  Atomics.store(ctrl, 8, 1);
  Atomics.notify(ctrl, 8);
  const ring = Buffer.from(workerData.ring);
  const rbuf = Buffer.alloc(1 << 16);
  const fail = (kind, err, why) => {
    ctrl[3] = kind;
    ctrl[4] = err;
    setText(why);
    Atomics.store(ctrl, 2, done + 1);
  };
  // Send one request and wait for its ack (NETLINK_CAP_ACK: no copy of the request in it).
  const exchange = (fd, off, len) => {
    const seq = ring.readUInt32LE(off + 8);
    if (Number(send(fd, ring.subarray(off, off + len), len, 0)) < 0) return fail(2, errno(), 'send(netlink)\n');
    for (;;) {
      const n = Number(recv(fd, rbuf, rbuf.length, 0));
      if (n < 0) {
        const e = errno();
        if (e === 4) continue;
        return fail(2, e, e === 11 ? 'recv(netlink)\ntimed out waiting for the kernel' : 'recv(netlink)\n');
      }
      let o = 0;
      while (o + 16 <= n) {
        const l = rbuf.readUInt32LE(o);
        if (l < 16 || o + l > n) break;
        if (rbuf.readUInt32LE(o + 8) === seq && rbuf.readUInt16LE(o + 4) === 2) {
          const err = -rbuf.readInt32LE(o + 16);
          if (err === 0) return;
          let why = '';
          // NLM_F_ACK_TLVS: attributes follow the error code and the request's header.
          if (rbuf.readUInt16LE(o + 6) & 0x200) {
            let a = o + 16 + 20;
            while (a + 4 <= o + l) {
              const alen = rbuf.readUInt16LE(a);
              if (alen < 4) break;
              if ((rbuf.readUInt16LE(a + 2) & 0x3fff) === 1) why = rbuf.toString('utf8', a + 4, a + alen).replace(/\0+$/, '');
              a += (alen + 3) & ~3;
            }
          }
          return fail(1, err, why);
        }
        o += (l + 3) & ~3;
      }
    }
  };
  let at = 0;
  let done = 0;
  for (;;) {
    const posted = Atomics.load(ctrl, 0);
    if (posted === done) {
      Atomics.wait(ctrl, 0, posted);
      continue;
    }
    const fd = ring.readInt32LE(at);
    const len = ring.readUInt32LE(at + 4);
    if (fd === -2) break;
    if (fd === -1) at = 0;
    else {
      // After a failure (or an abort) everything posted is skipped until the main thread clears it.
      if (Atomics.load(ctrl, 2) === 0 && Atomics.load(ctrl, 7) === 0) exchange(fd, at + 8, len);
      at += 8 + ((len + 3) & ~3);
    }
    done++;
    Atomics.store(ctrl, 1, done);
    Atomics.notify(ctrl, 1);
  }
} catch (e) {
  setText(String(e && e.stack || e));
  Atomics.store(ctrl, 6, 1);
  Atomics.notify(ctrl, 1);
  Atomics.notify(ctrl, 8);
}
`;

interface Tag {
  readonly step: number;
  readonly op: string;
  readonly first: boolean;
  /** Called if the request was skipped (posted after a failure). */
  readonly onSkip?: () => void;
}

/** A posted request the worker could not complete: which step it belonged to, and why. */
export interface PipelineFailure {
  readonly step: number;
  /** Whether it was the first request of its step (so the step had no effect). */
  readonly firstOfStep: boolean;
  readonly error: Error;
}

/** Thrown by drain() when a posted request failed; the failure itself is kept for takeFailure(). */
export class PipelineFailed extends Error {
  constructor(readonly failure: PipelineFailure) {
    super(`step ${failure.step + 1}: ${failure.error.message}`);
    this.name = 'PipelineFailed';
  }
}

export class NetlinkPipeline {
  private readonly ctrl = new Int32Array(new SharedArrayBuffer(CTRL_WORDS * 4));
  private readonly ring = Buffer.from(new SharedArrayBuffer(RING_BYTES));
  private readonly text = Buffer.from(new SharedArrayBuffer(TEXT_BYTES));
  private readonly worker: Worker;
  private at = 0;
  private posted = 0;
  /** Record number of tags[0]: tags are kept only for records not yet drained. */
  private base = 0;
  private tags: Tag[] = [];
  private failure: PipelineFailure | undefined;
  private lastStep = -1;
  /** The plan step whose requests are being posted. */
  step = -1;
  /** Whether request() may post (set by the executor around a pipelinable step). */
  posting = false;

  constructor() {
    this.worker = new Worker(WORKER_SOURCE, {
      eval: true,
      workerData: { ctrl: this.ctrl.buffer, ring: this.ring.buffer, text: this.text.buffer, koffi: koffiPath },
      stdout: false,
      stderr: false,
    });
    // Never keeps the process alive; a worker error also shows as DEAD in the control words.
    this.worker.unref();
    this.worker.on('error', () => {});
    live.add(this);
  }

  /**
   * Called at process exit. Node aborts the whole process (FATAL ERROR in napi) if a worker is
   * terminated while it loads a native addon, so an early exit (a bad config, a refused plan)
   * first lets a booting worker finish loading koffi (~40 ms at most).
   */
  waitBooted(): void {
    if (Atomics.load(this.ctrl, READY) === 0 && Atomics.load(this.ctrl, DEAD) === 0) Atomics.wait(this.ctrl, READY, 0, 5000);
  }

  get pending(): number {
    return this.posted - this.base;
  }

  /** Queue a framed request for the worker: it goes out after everything posted before it. */
  post(fd: number, msg: Buffer, op: string, onSkip?: () => void): void {
    const need = 8 + ((msg.length + 3) & ~3);
    if (need + 8 > RING_BYTES) throw new Error(`${op}: request of ${msg.length} bytes does not fit the pipeline`);
    if (this.at + need + 8 > RING_BYTES) {
      this.record(WRAP, 0, { step: -1, op: '', first: false });
      try {
        this.drain(); // the worker is at offset 0 only once it has passed the wrap record
      } finally {
        this.at = 0; // the worker passes the wrap record even after a failure
      }
    }
    const first = this.step !== this.lastStep;
    this.lastStep = this.step;
    msg.copy(this.ring, this.at + 8);
    this.record(fd, msg.length, { step: this.step, op, first, onSkip });
  }

  private record(fd: number, len: number, tag: Tag): void {
    this.ring.writeInt32LE(fd, this.at);
    this.ring.writeUInt32LE(len, this.at + 4);
    if (fd >= 0) this.at += 8 + ((len + 3) & ~3);
    this.tags.push(tag);
    Atomics.store(this.ctrl, POSTED, ++this.posted);
    Atomics.notify(this.ctrl, POSTED);
  }

  /** A step being posted also wrote synchronously (e.g. a create that needs its echo). */
  noteSyncWrite(): void {
    this.lastStep = this.step;
  }

  /** Wait until the worker has handled everything posted; throws PipelineFailed if a request failed. */
  drain(): void {
    if (this.failure) throw new PipelineFailed(this.failure);
    let waitedSince = Date.now();
    let last = Atomics.load(this.ctrl, DONE);
    while (last !== this.posted) {
      if (Atomics.load(this.ctrl, DEAD)) throw new Error(`netlink pipeline worker failed: ${this.text.toString('utf8', 0, this.ctrl[FAIL_TEXT_LEN])}`);
      Atomics.wait(this.ctrl, DONE, last, 1000);
      const now = Atomics.load(this.ctrl, DONE);
      if (now !== last) waitedSince = Date.now();
      else if (Date.now() - waitedSince > DRAIN_TIMEOUT_MS) throw new Error('netlink pipeline worker made no progress for 60 s');
      last = now;
    }
    const at = Atomics.load(this.ctrl, FAIL_AT);
    if (at !== 0) {
      const tag = this.tags[at - 1 - this.base]!;
      const errnoValue = this.ctrl[FAIL_ERRNO]!;
      const why = this.text.toString('utf8', 0, this.ctrl[FAIL_TEXT_LEN]);
      const [syscall = '', detail = ''] = why.split('\n');
      // The same errors as the synchronous path's (socket.ts).
      const error = this.ctrl[FAIL_KIND] === 1 ? new NetlinkError(errnoValue, why || undefined, tag.op) : new SyscallError(syscall, errnoValue, detail);
      this.failure = { step: tag.step, firstOfStep: tag.first, error };
      // Requests skipped after the failure were never written: uncount them.
      for (let k = at - this.base; k < this.tags.length; k++) this.tags[k]!.onSkip?.();
      // The worker is idle (everything is handled): clearing is race-free.
      Atomics.store(this.ctrl, FAIL_AT, 0);
    }
    this.base = this.posted;
    this.tags = [];
    if (this.failure) throw new PipelineFailed(this.failure);
  }

  /**
   * Give up on what is posted (an apply ending by an exception): the worker skips it, and we
   * wait until it has, so no stale request reaches the kernel after this returns (a rollback may
   * follow, on new sockets that can reuse the same fd numbers).
   */
  abandon(): void {
    this.failure = undefined;
    Atomics.store(this.ctrl, ABORT, 1);
    try {
      this.drain();
    } catch {
      // a failure among the abandoned requests changes nothing: the apply already failed
    }
    Atomics.store(this.ctrl, ABORT, 0);
    this.failure = undefined;
    this.lastStep = -1;
  }

  /** The failure found by drain(), once; the pipeline is then usable again. */
  takeFailure(): PipelineFailure | undefined {
    const f = this.failure;
    this.failure = undefined;
    this.lastStep = -1;
    return f;
  }

  close(): void {
    this.record(EXIT, 0, { step: -1, op: '', first: false });
  }
}

const live = new Set<NetlinkPipeline>();
process.on('exit', () => {
  for (const p of live) p.waitBooted();
});

let prestarted: NetlinkPipeline | undefined;

/** Whether applies may use the pipeline (VOLTRON_PIPELINE=0 turns it off). */
export function pipeliningEnabled(): boolean {
  return process.env.VOLTRON_PIPELINE !== '0';
}

/** Start the worker early (it takes ~40 ms to boot, on the other core, while the config loads). */
export function prestartPipeline(): void {
  if (!prestarted && pipeliningEnabled()) prestarted = new NetlinkPipeline();
}

/** The prestarted pipeline (or a new one). */
export function takePipeline(): NetlinkPipeline {
  const p = prestarted ?? new NetlinkPipeline();
  prestarted = undefined;
  return p;
}

/** Stop a prestarted worker that was not needed. */
export function stopPrestartedPipeline(): void {
  prestarted?.close();
  prestarted = undefined;
}
