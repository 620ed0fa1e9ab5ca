// One mutating operation per state dir: an exclusive lock file created with O_EXCL holding
// the holder's pid, host, command and start time. A lock whose pid is dead (same host) is
// stale and taken over, as is one from an earlier boot (its pid may have been reused since).
// `plan` does not lock. The try-mode watchdog inherits the apply's lock.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { bootId, fromEarlierBoot } from '../util/boot';

export interface LockInfo {
  readonly pid: number;
  readonly host: string;
  readonly command: string;
  readonly startedAt: string;
  readonly bootId?: string;
  /** Read while its holder was still writing it (not stale; look again). */
  readonly writing?: true;
}

export class LockBusy extends Error {
  constructor(readonly holder: LockInfo, stateDir: string) {
    super(
      `state dir ${stateDir} is locked by pid ${holder.pid} on ${holder.host} (${holder.command}, since ${holder.startedAt}); ` +
        (holder.command.includes('watchdog')
          ? 'an apply --confirm-within is waiting: run `voltron confirm` to keep it, or wait for it to revert'
          : 'wait for it to finish'),
    );
    this.name = 'LockBusy';
  }
}

export function lockPath(stateDir: string): string {
  return path.join(stateDir, 'lock');
}

export function readLock(stateDir: string): LockInfo | undefined {
  try {
    return JSON.parse(fs.readFileSync(lockPath(stateDir), 'utf8')) as LockInfo;
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return undefined;
    // Half-written: its holder is writing it right now (busy), or died between create and
    // write (stale, owned by nobody) — told apart by age, as writing takes microseconds.
    if (e instanceof SyntaxError) return unreadableLock(stateDir);
    throw e;
  }
}

export function pidAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function unreadableLock(stateDir: string): LockInfo {
  let fresh = false;
  try {
    fresh = Date.now() - fs.statSync(lockPath(stateDir)).mtimeMs < 5000;
  } catch {
    // gone meanwhile: stale is as good as any answer
  }
  return { pid: 0, host: os.hostname(), command: '(unreadable lock)', startedAt: '?', ...(fresh ? { writing: true as const } : {}) };
}

/** Stale: the holder is on this host and its pid no longer exists, or it is from an earlier boot. */
export function isStale(l: LockInfo): boolean {
  return !l.writing && l.host === os.hostname() && (fromEarlierBoot(l.bootId) || !pidAlive(l.pid));
}

function tryCreate(file: string, info: LockInfo): boolean {
  let fd: number;
  try {
    fd = fs.openSync(file, fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL, 0o600);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw e;
  }
  try {
    // No fsync: a lock matters only to live processes, and one left half-written by a crash
    // is recognised as stale (readLock).
    fs.writeSync(fd, `${JSON.stringify(info)}\n`);
  } finally {
    fs.closeSync(fd);
  }
  return true;
}

export class Lock {
  private released = false;
  constructor(
    readonly stateDir: string,
    public info: LockInfo,
    /** Set when a stale lock was taken over (for the message). */
    readonly tookOver?: LockInfo,
  ) {}

  /** Hand the lock to another process (the try-mode watchdog): it releases it. */
  transfer(pid: number, command: string): void {
    this.info = { ...this.info, pid, command };
    const tmp = `${lockPath(this.stateDir)}.tmp-${process.pid}`;
    fs.writeFileSync(tmp, `${JSON.stringify(this.info)}\n`, { mode: 0o600 });
    fs.renameSync(tmp, lockPath(this.stateDir));
    this.released = true; // no longer ours to remove
  }

  release(): void {
    if (this.released) return;
    this.released = true;
    const cur = readLock(this.stateDir);
    if (cur && cur.pid === this.info.pid && cur.startedAt === this.info.startedAt) fs.rmSync(lockPath(this.stateDir), { force: true });
  }
}

/**
 * Take the state dir's lock or throw LockBusy naming the holder. Stale-lock takeover is
 * serialised by a short-lived `lock.takeover` guard so two takers cannot both win.
 */
export function acquireLock(stateDir: string, command: string, pid = process.pid): Lock {
  fs.mkdirSync(stateDir, { recursive: true });
  const file = lockPath(stateDir);
  const info: LockInfo = { pid, host: os.hostname(), command, startedAt: new Date().toISOString(), bootId: bootId() };
  for (let attempt = 0; attempt < 5; attempt++) {
    if (tryCreate(file, info)) return new Lock(stateDir, info);
    const holder = readLock(stateDir);
    if (!holder) continue; // released meanwhile: retry
    if (holder.writing) {
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 2); // its holder is mid-write
      continue;
    }
    if (holder.pid === pid && holder.host === info.host) throw new Error(`state dir ${stateDir}: lock already held by this process`);
    if (!isStale(holder)) throw new LockBusy(holder, stateDir);
    const guard = `${file}.takeover`;
    if (!tryCreate(guard, info)) {
      const gh = (() => {
        try {
          return JSON.parse(fs.readFileSync(guard, 'utf8')) as LockInfo;
        } catch {
          return undefined;
        }
      })();
      if (gh && !isStale(gh)) throw new LockBusy(gh, stateDir);
      fs.rmSync(guard, { force: true });
      continue;
    }
    try {
      const again = readLock(stateDir);
      if (again && again.pid === holder.pid && again.startedAt === holder.startedAt) {
        fs.rmSync(file, { force: true });
        if (tryCreate(file, info)) return new Lock(stateDir, info, holder);
      }
    } finally {
      fs.rmSync(guard, { force: true });
    }
  }
  const holder = readLock(stateDir);
  throw holder ? new LockBusy(holder, stateDir) : new Error(`state dir ${stateDir}: could not take the lock`);
}
