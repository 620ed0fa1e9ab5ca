// One mutating operation per state dir: an exclusive lock file created with O_EXCL holding
// the holder's pid, host, command and start time. A lock whose pid is dead (same host) is
// stale and taken over, as is one from an earlier boot (its pid may have been reused since).
// `plan` does not lock. The try-mode watchdog inherits the apply's lock.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { bootId, fromEarlierBoot } from '../util/boot';
import { checkStateDir, stateDirError } from './statedir';

export interface LockInfo {
  readonly pid: number;
  readonly host: string;
  readonly command: string;
  readonly startedAt: string;
  readonly bootId?: string;
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
    // Never half-written (tryCreate links a complete file): unreadable means a power loss left
    // it empty, or it was damaged. Stale, owned by nobody.
    if (e instanceof SyntaxError) return { pid: 0, host: os.hostname(), command: '(unreadable lock)', startedAt: '?' };
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

/** Stale: the holder is on this host and its pid no longer exists, or it is from an earlier boot. */
export function isStale(l: LockInfo): boolean {
  return l.host === os.hostname() && (fromEarlierBoot(l.bootId) || !pidAlive(l.pid));
}

/**
 * Create `file` holding `info`, unless it exists. Written aside and hard-linked into place
 * (link(2) fails if the name exists), so a reader never sees a half-written lock. No fsync: a
 * lock matters only to live processes; one a power loss left empty reads as stale (readLock).
 */
function tryCreate(file: string, info: LockInfo): boolean {
  const tmp = `${file}.${info.pid}.${process.hrtime.bigint()}.tmp`;
  try {
    // Inside the try: a write that fails (disk full) must not leave the temporary file behind.
    fs.writeFileSync(tmp, `${JSON.stringify(info)}\n`, { mode: 0o600, flag: 'wx' });
    fs.linkSync(tmp, file);
    return true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw e;
  } finally {
    fs.rmSync(tmp, { force: true });
  }
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
  checkStateDir(stateDir);
  try {
    return takeLock(stateDir, command, pid);
  } catch (e) {
    if (e instanceof LockBusy || typeof (e as NodeJS.ErrnoException).code !== 'string') throw e;
    throw stateDirError(stateDir, e, 'take its lock');
  }
}

function takeLock(stateDir: string, command: string, pid: number): Lock {
  const file = lockPath(stateDir);
  const info: LockInfo = { pid, host: os.hostname(), command, startedAt: new Date().toISOString(), bootId: bootId() };
  for (let attempt = 0; attempt < 5; attempt++) {
    if (tryCreate(file, info)) return new Lock(stateDir, info);
    const holder = readLock(stateDir);
    if (!holder) continue; // released meanwhile: retry
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
