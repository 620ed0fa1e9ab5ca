// A synchronous netlink socket bound inside one network namespace. Synchronous on
// purpose: a reconciler issues requests in dependency order and waits for each ack, and
// blocking recv through koffi costs microseconds, far less than an event-loop round trip.
// Unlike the npm `netlink` package it reports errno plus the kernel's extended ack,
// checks NLM_F_DUMP_INTR (retrying the dump), and serialises requests per socket.
import { Attrs } from './attrs';
import { SyscallError, errno, errnoName, libc } from '../libc';
import { withNetns } from '../netns';

export const NETLINK_ROUTE = 0;
export const NETLINK_GENERIC = 16;

export const NLM_F_REQUEST = 0x1;
export const NLM_F_MULTI = 0x2;
export const NLM_F_ACK = 0x4;
export const NLM_F_ECHO = 0x8;
export const NLM_F_DUMP_INTR = 0x10;
export const NLM_F_DUMP = 0x300;
export const NLM_F_REPLACE = 0x100;
export const NLM_F_EXCL = 0x200;
export const NLM_F_CREATE = 0x400;
export const NLM_F_APPEND = 0x800;
const NLM_F_ACK_TLVS = 0x200;

const NLMSG_ERROR = 2;
const NLMSG_DONE = 3;
const NLMSGERR_ATTR_MSG = 1;

const AF_NETLINK = 16;
const SOCK_RAW = 3;
const SOCK_CLOEXEC = 0o2000000;
const SOL_SOCKET = 1;
const SO_RCVBUFFORCE = 33;
const SO_SNDBUFFORCE = 32;
const SO_RCVTIMEO = 20;
const SO_NETNS_COOKIE = 71;
const ENOPROTOOPT = 92;
const SOL_NETLINK = 270;
const NETLINK_ADD_MEMBERSHIP = 1;
const NETLINK_CAP_ACK = 10;
const NETLINK_EXT_ACK = 11;
const NETLINK_GET_STRICT_CHK = 12;
const MSG_DONTWAIT = 0x40;

const SLEEPER = new Int32Array(new SharedArrayBuffer(4));

/** The side of apply's netlink pipeline (pipeline.ts) that requests see. */
export interface RequestSink {
  /** Whether writes that want no reply go to the pipeline now (during a pipelinable step). */
  readonly posting: boolean;
  post(fd: number, msg: Buffer, op: string, onSkip?: () => void): void;
  /** Wait for everything posted; throws if a posted request failed. */
  drain(): void;
  noteSyncWrite(): void;
}

let sink: RequestSink | undefined;

/** Route requests through a pipeline (while an apply executes), or not (undefined). */
export function setRequestSink(s: RequestSink | undefined): void {
  sink = s;
}

const NO_REPLIES: NlMessage[] = Object.freeze([]) as unknown as NlMessage[];

export interface NlMessage {
  readonly type: number;
  readonly flags: number;
  readonly seq: number;
  /** Payload after the 16-byte header. */
  readonly data: Buffer;
}

/** A kernel rejection of a netlink request: errno plus the extended-ack text, if any. */
export class NetlinkError extends Error {
  constructor(
    readonly errno: number,
    readonly extack: string | undefined,
    readonly op: string,
  ) {
    super(`${op}: ${errnoName(errno)}${extack ? `: ${extack}` : ''}`);
    this.name = 'NetlinkError';
  }
  get code(): string {
    return errnoName(this.errno);
  }
}

function u32opt(fd: number, level: number, name: number, value: number): void {
  const b = Buffer.alloc(4);
  b.writeInt32LE(value);
  if ((libc.setsockopt(fd, level, name, b, 4) as number) !== 0) {
    throw new SyscallError(`setsockopt(${level}, ${name})`, errno());
  }
}

export interface NetlinkSocketStats {
  requests: number;
  /** Requests that change kernel state (NEW/DEL/SET), counted by callers via `write`. */
  writes: number;
  dumps: number;
  /** Dumps still interrupted after all retries (their last snapshot was used). */
  interruptedDumps: number;
}

/** One netlink socket in one namespace. `ns` null: the process's own namespace. */
export class NetlinkSocket {
  private readonly fd: number;
  private seq = Math.floor(Math.random() * 0x7fffffff);
  private readonly rbuf = Buffer.alloc(1 << 20);
  private sbuf = Buffer.alloc(4096);
  readonly stats: NetlinkSocketStats = { requests: 0, writes: 0, dumps: 0, interruptedDumps: 0 };
  private warned = false;
  /** A posted write that was never sent (skipped after an earlier failure). */
  private readonly uncount = (): void => {
    this.stats.requests--;
    this.stats.writes--;
  };

  constructor(
    readonly ns: string | null,
    readonly protocol = NETLINK_ROUTE,
    groups: readonly number[] = [],
  ) {
    this.fd = withNetns(ns, () => libc.socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, protocol) as number);
    if (this.fd < 0) throw new SyscallError('socket(AF_NETLINK)', errno());
    try {
      const addr = Buffer.alloc(12);
      addr.writeUInt16LE(AF_NETLINK, 0);
      if ((libc.bind(this.fd, addr, 12) as number) !== 0) throw new SyscallError('bind(netlink)', errno());
      u32opt(this.fd, SOL_SOCKET, SO_RCVBUFFORCE, 32 << 20);
      u32opt(this.fd, SOL_SOCKET, SO_SNDBUFFORCE, 4 << 20);
      u32opt(this.fd, SOL_NETLINK, NETLINK_EXT_ACK, 1);
      u32opt(this.fd, SOL_NETLINK, NETLINK_CAP_ACK, 1);
      // A hung kernel reply must not hang the CLI forever.
      const tv = Buffer.alloc(16);
      tv.writeBigInt64LE(10n, 0);
      if ((libc.setsockopt(this.fd, SOL_SOCKET, SO_RCVTIMEO, tv, 16) as number) !== 0) {
        throw new SyscallError('setsockopt(SO_RCVTIMEO)', errno());
      }
      for (const g of groups) u32opt(this.fd, SOL_NETLINK, NETLINK_ADD_MEMBERSHIP, g);
    } catch (e) {
      libc.close(this.fd);
      throw e;
    }
  }

  /**
   * Strict dump checking (kernel 4.20+): dump requests are validated and their header fields
   * and attributes act as kernel-side filters (e.g. RTA_TABLE for routes).
   */
  setStrict(on: boolean): void {
    u32opt(this.fd, SOL_NETLINK, NETLINK_GET_STRICT_CHK, on ? 1 : 0);
  }

  close(): void {
    libc.close(this.fd);
  }

  /**
   * The kernel's cookie of the socket's network namespace (decimal u64): unique within a boot,
   * never reused, unlike the name or the inode. Undefined before Linux 5.14 (no SO_NETNS_COOKIE).
   */
  netnsCookie(): string | undefined {
    const b = Buffer.alloc(8);
    const len = [8];
    if ((libc.getsockopt(this.fd, SOL_SOCKET, SO_NETNS_COOKIE, b, len) as number) !== 0) {
      const e = errno();
      if (e === ENOPROTOOPT) return undefined;
      throw new SyscallError('getsockopt(SO_NETNS_COOKIE)', e);
    }
    return b.readBigUInt64LE(0).toString();
  }

  /** Header and payload parts, written into the reused send buffer (no allocation per request). */
  private frame(type: number, flags: number, payload: Buffer | readonly Buffer[]): { msg: Buffer; seq: number } {
    const seq = (this.seq = (this.seq + 1) & 0x7fffffff);
    const parts = Buffer.isBuffer(payload) ? [payload] : payload;
    let len = 16;
    for (const p of parts) len += p.length;
    if (this.sbuf.length < len) this.sbuf = Buffer.allocUnsafe(Math.max(len, this.sbuf.length * 2));
    const msg = this.sbuf;
    msg.writeUInt32LE(len, 0);
    msg.writeUInt16LE(type, 4);
    msg.writeUInt16LE(flags, 6);
    msg.writeUInt32LE(seq, 8);
    msg.writeUInt32LE(0, 12);
    let off = 16;
    for (const p of parts) off += p.copy(msg, off);
    return { msg: msg.subarray(0, len), seq };
  }

  private sendRaw(msg: Buffer): void {
    const n = libc.send(this.fd, msg, msg.length, 0) as number;
    if (n < 0) throw new SyscallError('send(netlink)', errno());
  }

  /** Receive one datagram into the reused buffer: its length, 0 on EINTR, -1 if none waiting (DONTWAIT). */
  private recvRaw(flags = 0): number {
    const n = Number(libc.recv(this.fd, this.rbuf, this.rbuf.length, flags));
    if (n >= 0) return n;
    const e = errno();
    if (e === 11 && flags & MSG_DONTWAIT) return -1;
    if (e === 4) return 0;
    throw new SyscallError('recv(netlink)', e, e === 11 ? 'timed out waiting for the kernel' : '');
  }

  /** Receive one datagram and split it into messages. */
  private recvMessages(flags = 0): NlMessage[] | null {
    const n = this.recvRaw(flags);
    if (n < 0) return null;
    if (n === 0) return [];
    // One copy per datagram (the receive buffer is reused); messages are views into it.
    const dgram = Buffer.allocUnsafeSlow(n);
    this.rbuf.copy(dgram, 0, 0, n);
    const out: NlMessage[] = [];
    let off = 0;
    while (off + 16 <= n) {
      const len = dgram.readUInt32LE(off);
      if (len < 16 || off + len > n) break;
      out.push({
        type: dgram.readUInt16LE(off + 4),
        flags: dgram.readUInt16LE(off + 6),
        seq: dgram.readUInt32LE(off + 8),
        data: dgram.subarray(off + 16, off + len),
      });
      off += (len + 3) & ~3;
    }
    return out;
  }

  private static parseError(m: NlMessage, op: string): NetlinkError | null {
    const err = -m.data.readInt32LE(0);
    if (err === 0) return null;
    let extack: string | undefined;
    if (m.flags & NLM_F_ACK_TLVS) {
      // With NETLINK_CAP_ACK the original request is not echoed: TLVs follow the header copy.
      const attrs = Attrs.parse(m.data, 4 + 16);
      extack = attrs.str(NLMSGERR_ATTR_MSG);
    }
    return new NetlinkError(err, extack, op);
  }

  /**
   * Send one request and wait for its ack. Returns any replies (NLM_F_ECHO).
   * Throws NetlinkError with errno and extack on rejection.
   */
  request(type: number, flags: number, payload: Buffer | readonly Buffer[], op: string, write = true): NlMessage[] {
    const { msg, seq } = this.frame(type, flags | NLM_F_REQUEST | NLM_F_ACK, payload);
    this.stats.requests++;
    if (write) this.stats.writes++;
    if (sink !== undefined) {
      // A write that wants no reply goes to the pipeline; anything else waits for it first
      // (its answer may depend on what was posted, and the ack must be ours to read).
      if (sink.posting && write && !(flags & NLM_F_ECHO)) {
        sink.post(this.fd, msg, op, this.uncount);
        return NO_REPLIES;
      }
      sink.drain();
      if (sink.posting && write) sink.noteSyncWrite();
    }
    this.sendRaw(msg);
    const replies: NlMessage[] = [];
    const b = this.rbuf;
    for (;;) {
      // Messages are read in place; only replies (and an error) are copied out.
      const n = this.recvRaw();
      let off = 0;
      while (off + 16 <= n) {
        const len = b.readUInt32LE(off);
        if (len < 16 || off + len > n) break;
        if (b.readUInt32LE(off + 8) === seq) {
          const mtype = b.readUInt16LE(off + 4);
          if (mtype === NLMSG_ERROR && b.readInt32LE(off + 16) === 0) return replies;
          const m: NlMessage = { type: mtype, flags: b.readUInt16LE(off + 6), seq, data: Buffer.from(b.subarray(off + 16, off + len)) };
          if (mtype === NLMSG_ERROR) throw NetlinkSocket.parseError(m, op)!;
          replies.push(m);
        } // else: a stale reply of an earlier timed-out request
        off += (len + 3) & ~3;
      }
    }
  }

  /**
   * Dump all objects of a kind. When the kernel flags NLM_F_DUMP_INTR (the table changed
   * mid-dump) the dump is retried with a growing pause. If the table keeps changing for ~2 s
   * (right after thousands of links come up, IPv6 DAD flips address flags continuously) the
   * last dump is used and `interrupted` is counted: the plan is then re-verified after apply
   * anyway, so an inconsistency shows as a non-converged object, never as a silent change.
   */
  dump(type: number, payload: Buffer, op: string): NlMessage[] {
    sink?.drain();
    let last: NlMessage[] = [];
    for (let attempt = 0; attempt < 12; attempt++) {
      if (attempt > 0) Atomics.wait(SLEEPER, 0, 0, Math.min(20 * attempt, 300));
      const { msg, seq } = this.frame(type, NLM_F_REQUEST | NLM_F_DUMP, payload);
      this.stats.dumps++;
      this.sendRaw(msg);
      const out: NlMessage[] = [];
      let interrupted = false;
      let done = false;
      while (!done) {
        const msgs = this.recvMessages() ?? [];
        for (const m of msgs) {
          if (m.seq !== seq) continue;
          if (m.flags & NLM_F_DUMP_INTR) interrupted = true;
          if (m.type === NLMSG_DONE) {
            done = true;
            break;
          }
          if (m.type === NLMSG_ERROR) {
            const e = NetlinkSocket.parseError(m, op);
            if (e) throw e;
            done = true;
            break;
          }
          out.push(m);
        }
      }
      if (!interrupted) return out;
      last = out;
    }
    this.stats.interruptedDumps++;
    if (!this.warned) {
      this.warned = true;
      process.stderr.write(`voltron: warning: ${op}: the kernel table kept changing during the dump (e.g. IPv6 DAD after many links came up); using the last snapshot\n`);
    }
    return last;
  }

  /** Non-blocking read of pending event messages (event sockets only). */
  poll(): NlMessage[] {
    const out: NlMessage[] = [];
    for (;;) {
      let msgs: NlMessage[] | null;
      try {
        msgs = this.recvMessages(MSG_DONTWAIT);
      } catch (e) {
        // ENOBUFS: events were lost; callers treat this as "something changed" (level-based).
        if (e instanceof SyscallError && e.errno === 105) {
          out.push({ type: 0, flags: 0, seq: 0, data: Buffer.alloc(0) });
          continue;
        }
        throw e;
      }
      if (msgs === null) return out;
      out.push(...msgs);
    }
  }
}
