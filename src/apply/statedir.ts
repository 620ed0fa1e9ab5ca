// The state dir's file system: created and checked before the first kernel write, so that an
// unusable one (a file, read-only, no permission, a symlink loop, a full disk, under /proc) is a
// one-line error naming it, never a hang (Node 20's recursive mkdir loops forever under /proc)
// nor a stack trace.
import fs from 'node:fs';
import path from 'node:path';
import { ensureDir, removeQuietly, writeAll } from '../util/fsx';

/** A state dir that cannot hold Voltron's files; the message is one line naming it. */
export class StateDirError extends Error {}

/** Why a file system call on `p` failed, in words (the errno in parentheses). */
function why(e: NodeJS.ErrnoException, p: string): string {
  switch (e.code) {
    case 'ENOTDIR':
    case 'EEXIST':
      return `${inTheWay(p)} is not a directory`;
    case 'EROFS':
      return 'read-only file system';
    case 'EACCES':
    case 'EPERM':
      return `permission denied on ${p}`;
    case 'ELOOP':
      return `too many levels of symbolic links at ${p} (a symlink loop?)`;
    case 'ENOSPC':
    case 'EDQUOT':
      return 'no space left on device';
    case 'ENOENT':
      // mkdir of a missing entry in an existing directory: /proc, /sys and the like refuse it.
      return `the file system does not allow creating ${p}`;
    default:
      return e.message;
  }
}

/** `e` as a StateDirError about `dir` (already one: as is; not a file system error: rethrown). */
export function stateDirError(dir: string, e: unknown, doing: string): StateDirError {
  if (e instanceof StateDirError) return e;
  const err = e as NodeJS.ErrnoException;
  if (typeof err?.code !== 'string') throw e;
  return new StateDirError(`state dir ${dir}: cannot ${doing}: ${why(err, err.path ?? dir)} (${err.code})`);
}

/** The file that stands where a directory of `p`'s path should be (`p` itself if none found). */
function inTheWay(p: string): string {
  for (let q = p; path.dirname(q) !== q; q = path.dirname(q)) {
    try {
      if (!fs.statSync(q).isDirectory()) return q;
    } catch {
      // missing or unreachable: look further up
    }
  }
  return p;
}

/**
 * Create the state dir if needed and prove that a file can be written and synced in it, before
 * the first kernel write: a probe file is written, fsync'd and removed.
 */
export function checkStateDir(dir: string): void {
  const probe = path.join(dir, `.probe-${process.pid}`);
  try {
    ensureDir(dir);
    const fd = fs.openSync(probe, 'w', 0o600);
    try {
      writeAll(fd, 'voltron\n');
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
  } catch (e) {
    // Say what to do too: before the first write, a new user has just given a bad --state-dir.
    const err = stateDirError(dir, e, 'write in it');
    throw new StateDirError(`${err.message}; the state dir (--state-dir DIR, default /var/lib/voltron) must be a writable directory`);
  } finally {
    removeQuietly(probe);
  }
}
