// Typed errors for libbpf calls, plus capture of libbpf's own log lines (its print
// callback) so a failure carries libbpf's explanation instead of spilling it on stderr.
import { koffi } from '../ffi';
import { LibbpfPrintFn, bpf, cfn } from './native';

const ERRNO_NAMES: Map<number, string> = (() => {
  const m = new Map<number, string>();
  const table = (koffi as unknown as { os: { errno: Record<string, number> } }).os.errno;
  for (const [name, num] of Object.entries(table)) if (!m.has(num)) m.set(num, name);
  m.set(524, 'ENOTSUPP'); // kernel-internal, leaks out of some bpf() commands
  return m;
})();

/** Symbolic name of an errno value ("EPERM"), or "errno N" when unknown. */
export function errnoName(errno: number): string {
  return ERRNO_NAMES.get(errno) ?? `errno ${errno}`;
}

/** Human text for an errno value (libc strerror). */
export function errnoText(errno: number): string {
  return (cfn.strerror(errno) as string | null) ?? `errno ${errno}`;
}

/** Extra context a BpfError may carry. */
export interface BpfErrorDetail {
  /** Object path, map/program name, interface, pin path... whatever identifies the target. */
  target?: string;
  /** Verifier log of a rejected program load (empty string if the kernel gave none). */
  verifierLog?: string;
  /** libbpf's own log lines emitted during the failing call (warnings and info). */
  libbpfLog?: string[];
}

/**
 * A failed libbpf or bpf() call. `errno` is positive (libbpf returns -errno);
 * `op` names the libbpf function (e.g. "bpf_object__load").
 * For program load failures, `verifierLog` holds the kernel verifier output.
 */
export class BpfError extends Error {
  /** Positive errno value. */
  readonly errno: number;
  /** Symbolic errno ("EACCES"). */
  readonly code: string;
  /** libbpf function that failed. */
  readonly op: string;
  /** What the call was about (path, name, interface), if known. */
  readonly target: string | undefined;
  /** Kernel verifier log for program loads (`undefined` when not a load). */
  readonly verifierLog: string | undefined;
  /** libbpf log lines captured during the call. */
  readonly libbpfLog: string[];

  constructor(op: string, errno: number, detail: BpfErrorDetail = {}) {
    const e = Math.abs(errno);
    const where = detail.target ? ` (${detail.target})` : '';
    const firstLibbpf = detail.libbpfLog?.find((l) => l.trim() !== '');
    super(`${op}${where}: ${errnoName(e)} (${errnoText(e)})${firstLibbpf ? `: ${firstLibbpf.trim()}` : ''}`);
    this.name = 'BpfError';
    this.errno = e;
    this.code = errnoName(e);
    this.op = op;
    this.target = detail.target;
    this.verifierLog = detail.verifierLog;
    this.libbpfLog = detail.libbpfLog ?? [];
  }
}

/** libbpf print levels (enum libbpf_print_level). */
export const LibbpfLogLevel = { WARN: 0, INFO: 1, DEBUG: 2 } as const;
/** One of the {@link LibbpfLogLevel} values. */
export type LibbpfLogLevel = (typeof LibbpfLogLevel)[keyof typeof LibbpfLogLevel];

/** Receives every libbpf log line (already formatted) if installed with {@link setLibbpfLogHandler}. */
export type LibbpfLogHandler = (level: LibbpfLogLevel, message: string) => void;

const RECENT_MAX = 256;
const recent: { seq: number; line: string }[] = [];
let seq = 0;
let userHandler: LibbpfLogHandler | null = null;
let installed = false;
const fmtBuf = Buffer.alloc(64 * 1024);
const debugToStderr = process.env.VOLTRON_LIBBPF_DEBUG === '1';

function onPrint(level: number, fmt: string, ap: unknown): number {
  // va_list arrives as a pointer (x86-64 and arm64 pass it by reference), which
  // vsnprintf accepts as is. It may be consumed only once: no retry on truncation.
  const n = cfn.vsnprintf(fmtBuf, fmtBuf.length, fmt, ap) as number;
  if (n < 0) return 0;
  const line = fmtBuf.toString('utf8', 0, Math.min(n, fmtBuf.length - 1)).replace(/\n$/, '');
  if (level <= LibbpfLogLevel.INFO) {
    recent.push({ seq: ++seq, line });
    if (recent.length > RECENT_MAX) recent.shift();
  }
  if (userHandler) {
    try {
      userHandler(level as LibbpfLogLevel, line);
    } catch {
      // A logging hook must not unwind through libbpf's C frames.
    }
  } else if (debugToStderr) {
    process.stderr.write(`libbpf[${level}]: ${line}\n`);
  }
  return 0;
}

let printCb: unknown = null;

/** Route libbpf's printing through us (once per process). Called by every entry point. */
export function ensureLibbpfInit(): void {
  if (installed) return;
  printCb = koffi.register(onPrint, koffi.pointer(LibbpfPrintFn));
  bpf.set_print(printCb);
  installed = true;
}

/**
 * Install a handler for libbpf's log lines (null: default, which keeps warnings for
 * BpfError.libbpfLog and prints nothing unless VOLTRON_LIBBPF_DEBUG=1).
 */
export function setLibbpfLogHandler(handler: LibbpfLogHandler | null): void {
  ensureLibbpfInit();
  userHandler = handler;
}

/** Marker for "log lines from now on"; pass to {@link libbpfLogSince}. */
export function libbpfLogMark(): number {
  return seq;
}

/** libbpf warning/info lines emitted after `mark`. */
export function libbpfLogSince(mark: number): string[] {
  return recent.filter((r) => r.seq > mark).map((r) => r.line);
}

/** Throw a BpfError when a libbpf int return is negative; return it otherwise. */
export function check(op: string, ret: number, target?: string, mark?: number): number {
  if (ret < 0) {
    throw new BpfError(op, -ret, { target, libbpfLog: mark === undefined ? undefined : libbpfLogSince(mark) });
  }
  return ret;
}
