// Named network namespaces (the /run/netns convention shared with iproute2) and
// synchronous entry into them. setns() affects only the calling thread: we enter,
// run synchronous code (socket creation, /proc/sys access), and always switch back.
import fs from 'node:fs';
import path from 'node:path';
import { CLONE_NEWNET, MNT_DETACH, MS_BIND, MS_REC, MS_SHARED, O_CLOEXEC, O_RDONLY, SyscallError, errno, libc } from './libc';

export const NETNS_RUN_DIR = '/run/netns';

let homeFd = -1;

/** fd of the namespace this process started in (opened once, kept for switching back). */
function home(): number {
  if (homeFd < 0) {
    homeFd = libc.open('/proc/thread-self/ns/net', O_RDONLY | O_CLOEXEC, 0) as number;
    if (homeFd < 0) throw new SyscallError('open(/proc/thread-self/ns/net)', errno());
  }
  return homeFd;
}

export function netnsPath(name: string): string {
  return path.join(NETNS_RUN_DIR, name);
}

export function netnsExists(name: string): boolean {
  return fs.existsSync(netnsPath(name));
}

export function listNetns(): string[] {
  try {
    return fs.readdirSync(NETNS_RUN_DIR).sort();
  } catch {
    return [];
  }
}

/** Open a named namespace; `null` means the process's own namespace. Caller closes. */
export function openNetns(name: string | null): number {
  const p = name === null ? '/proc/thread-self/ns/net' : netnsPath(name);
  const fd = libc.open(p, O_RDONLY | O_CLOEXEC, 0) as number;
  if (fd < 0) throw new SyscallError(`open(${p})`, errno(), name === null ? '' : `network namespace "${name}"`);
  return fd;
}

/**
 * Run `fn` synchronously inside network namespace `name` (null: our own). `fn` must not
 * await: only this thread is switched, and it is switched back before returning.
 */
export function withNetns<T>(name: string | null, fn: () => T): T {
  if (name === null) return fn();
  // Opened before the switch: opened lazily on the way back (the first entry of a process), it
  // was the namespace just entered, and the process stayed there for good.
  const back = home();
  const target = openNetns(name);
  try {
    if ((libc.setns(target, CLONE_NEWNET) as number) !== 0) throw notEntered(name, errno());
    try {
      return fn();
    } finally {
      if ((libc.setns(back, CLONE_NEWNET) as number) !== 0) {
        // Staying in the wrong namespace would make later writes land in the wrong place.
        throw new SyscallError('setns(home)', errno());
      }
    }
  } finally {
    libc.close(target);
  }
}

/**
 * Run `fn` synchronously in a new, unnamed network namespace, which the kernel frees once this
 * thread has switched back (nothing else holds it): to ask what a namespace about to be created
 * will have, with no trace left.
 */
export function withFreshNetns<T>(fn: () => T): T {
  const back = home(); // opened before the switch: it must be the namespace we came from
  if ((libc.unshare(CLONE_NEWNET) as number) !== 0) throw new SyscallError('unshare(CLONE_NEWNET)', errno());
  try {
    return fn();
  } finally {
    if ((libc.setns(back, CLONE_NEWNET) as number) !== 0) throw new SyscallError('setns(home)', errno());
  }
}

/** setns failed; EINVAL: the file is no namespace (an `ip netns add` interrupted before its mount). */
function notEntered(name: string, e: number): SyscallError {
  const hint = `${netnsPath(name)} is not a network namespace (left by an interrupted namespace create?): remove it with 'ip netns del ${name}'`;
  return new SyscallError('setns', e, e === 22 ? hint : name);
}

function ensureRunDir(): void {
  fs.mkdirSync(NETNS_RUN_DIR, { recursive: true });
  // Like iproute2: make /run/netns a shared mount point so bind mounts propagate.
  if ((libc.mount('', NETNS_RUN_DIR, 'none', MS_SHARED | MS_REC, null) as number) !== 0) {
    if ((libc.mount(NETNS_RUN_DIR, NETNS_RUN_DIR, 'none', MS_BIND | MS_REC, null) as number) !== 0) {
      throw new SyscallError('mount --bind /run/netns', errno());
    }
    if ((libc.mount('', NETNS_RUN_DIR, 'none', MS_SHARED | MS_REC, null) as number) !== 0) {
      throw new SyscallError('mount --make-shared /run/netns', errno());
    }
  }
}

/**
 * Create a named namespace (as `ip netns add`). Throws EEXIST if present. The namespace is made
 * before its file: unshare() waits for the kernel's namespace lock, seconds on a host tearing
 * other namespaces down, and a process killed meanwhile (SIGKILL, OOM) left an empty file in
 * /run/netns that every later command failed on (isNetnsStub). Now only two syscalls apart.
 */
export function createNetns(name: string): void {
  ensureRunDir();
  const target = netnsPath(name);
  const back = home(); // opened before the switch: it must be the namespace we came from
  if ((libc.unshare(CLONE_NEWNET) as number) !== 0) throw new SyscallError('unshare(CLONE_NEWNET)', errno());
  let ns: number;
  try {
    ns = libc.open('/proc/thread-self/ns/net', O_RDONLY | O_CLOEXEC, 0) as number;
    if (ns < 0) throw new SyscallError('open(/proc/thread-self/ns/net)', errno());
  } finally {
    if ((libc.setns(back, CLONE_NEWNET) as number) !== 0) throw new SyscallError('setns(home)', errno());
  }
  try {
    fs.closeSync(fs.openSync(target, fs.constants.O_RDONLY | fs.constants.O_CREAT | fs.constants.O_EXCL, 0o444));
    try {
      if ((libc.mount(`/proc/self/fd/${ns}`, target, 'none', MS_BIND, null) as number) !== 0) throw new SyscallError('mount --bind', errno(), target);
    } catch (e) {
      fs.rmSync(target, { force: true });
      throw e;
    }
  } finally {
    libc.close(ns);
  }
}

/**
 * Whether /run/netns/<name> is a plain file with no namespace mounted on it: what a create
 * (ours or `ip netns add`) leaves when killed between making the file and mounting on it.
 */
export function isNetnsStub(name: string): boolean {
  try {
    return fs.statSync(netnsPath(name)).dev === fs.statSync(NETNS_RUN_DIR).dev;
  } catch {
    return false;
  }
}

/** Delete a named namespace (as `ip netns del`): the kernel frees it once unused. */
export function deleteNetns(name: string): void {
  const target = netnsPath(name);
  if ((libc.umount2(target, MNT_DETACH) as number) !== 0) {
    const e = errno();
    if (e !== 22 /* EINVAL: not a mount point */ && e !== 2) throw new SyscallError('umount2', e, target);
  }
  fs.rmSync(target, { force: true });
}
