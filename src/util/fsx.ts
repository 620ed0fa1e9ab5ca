// File system helpers for the state dir: `mkdir -p` without Node's recursive mkdir (which loops
// forever where mkdir fails with ENOENT though the parent exists, /proc on Node 20, and reports
// EROFS as ENOENT), and whole writes (a disk filling up makes write(2) return short).
import fs from 'node:fs';
import path from 'node:path';

function isDir(p: string): boolean {
  try {
    return fs.statSync(p).isDirectory();
  } catch {
    return false;
  }
}

/** `mkdir -p`, bounded by the number of path components; throws the first real error. */
export function ensureDir(dir: string, mode?: number): void {
  const missing: string[] = [];
  for (let p = path.resolve(dir); ; p = path.dirname(p)) {
    try {
      if (fs.statSync(p).isDirectory()) break;
      throw Object.assign(new Error(`ENOTDIR: not a directory, stat '${p}'`), { code: 'ENOTDIR', path: p });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT' || path.dirname(p) === p) throw e;
      missing.push(p);
    }
  }
  for (const p of missing.reverse()) {
    try {
      fs.mkdirSync(p, mode === undefined ? undefined : { mode });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST' || !isDir(p)) throw e;
    }
  }
}

/**
 * Write all of `data` at the file's position: fs.writeSync returns a short count when the disk
 * fills up mid-write, and only the next call fails (ENOSPC).
 */
export function writeAll(fd: number, data: string | Buffer): void {
  const buf = typeof data === 'string' ? Buffer.from(data) : data;
  for (let off = 0; off < buf.length; ) off += fs.writeSync(fd, buf, off);
}

/** Remove a file if it can be; a state dir that cannot hold it is reported by the caller. */
export function removeQuietly(p: string): void {
  try {
    fs.rmSync(p, { force: true });
  } catch {
    // ELOOP, ENOTDIR, EROFS: there is nothing of ours to remove
  }
}

/** lstat, not exists: a dangling symlink is present (a file that cannot be read), not absent. */
export function isPresent(p: string): boolean {
  try {
    fs.lstatSync(p);
    return true;
  } catch {
    return false;
  }
}
