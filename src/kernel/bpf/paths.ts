// Where Voltron keeps its BPF pins: one bpffs directory it owns (per sandbox), laid out as
// <root>/<program>/{link | prog, maps/<map>, meta}. Mounted on first use when no bpffs is there.
// bpffs rejects '.' in names (EPERM, reserved by the kernel), so names encode it as %2E.
import fs from 'node:fs';
import path from 'node:path';
import { isBpffs } from '../libbpf';
import { MNT_DETACH, SyscallError, errno, libc } from '../libc';

const SYS_BPFFS = '/sys/fs/bpf';
/** Used when /sys/fs/bpf is not a bpffs (containers, minimal hosts): a private mount under /run. */
const RUN_BASE = '/run/voltron/bpffs';

/** The bpffs directory Voltron owns for this session (VOLTRON_BPFFS overrides it). */
export function bpfRoot(sandbox: string | undefined): string {
  const env = process.env.VOLTRON_BPFFS;
  if (env) return sandbox === undefined ? env : `${env}-${bpffsName(sandbox)}`;
  const base = isBpffs(SYS_BPFFS) ? SYS_BPFFS : RUN_BASE;
  return path.join(base, sandbox === undefined ? 'voltron' : `voltron-${bpffsName(sandbox)}`);
}

/** A name usable in bpffs: '%' → %25, '.' → %2E, '/' → %2F. */
export function bpffsName(s: string): string {
  return s.replace(/%/g, '%25').replace(/\./g, '%2E').replace(/\//g, '%2F');
}

export function programDir(root: string, name: string): string {
  return path.join(root, bpffsName(name));
}

export const linkPin = (dir: string): string => path.join(dir, 'link');
/** The new link of a (re-)attach, pinned before it is renamed over `link`. */
export const stagedLinkPin = (dir: string): string => path.join(dir, 'link_new');
/** clsact programs: no link exists, so the program itself is pinned. */
export const progPin = (dir: string): string => path.join(dir, 'prog');
/** clsact: the next program, pinned before the filter runs it and renamed over `prog` after. */
export const stagedProgPin = (dir: string): string => path.join(dir, 'prog_new');
export const mapsDir = (dir: string): string => path.join(dir, 'maps');
export const mapPin = (dir: string, map: string): string => path.join(dir, 'maps', bpffsName(map));
/** Entries the kernel puts in every bpffs mount (bpf_preload iterators): not ours, not content. */
export const PRELOADED = new Set(['maps.debug', 'progs.debug']);

/**
 * Whether `dir` holds a pin (link, program or map) anywhere below it. bpffs has no regular files:
 * anything not a directory or a symlink (the record's text) is a pin.
 */
export function holdsPins(dir: string): boolean {
  let entries: fs.Dirent[];
  try {
    entries = fs.readdirSync(dir, { withFileTypes: true });
  } catch {
    return false;
  }
  return entries.some((e) => (e.isDirectory() ? holdsPins(path.join(dir, e.name)) : !e.isSymbolicLink()));
}

/** True if `p` is a bpffs mount point of its own (not a directory inside one). */
export function isOwnMount(p: string): boolean {
  return isBpffs(p) && !isBpffs(path.dirname(p));
}

/** Create the owned directory, mounting a fresh bpffs on it if it is not inside one. */
export function ensureRoot(root: string): void {
  if (fs.existsSync(root) && isBpffs(root)) return;
  if (isBpffs(path.dirname(root))) {
    fs.mkdirSync(root, { mode: 0o700 });
    return;
  }
  fs.mkdirSync(root, { recursive: true, mode: 0o700 });
  if ((libc.mount('bpf', root, 'bpf', 0, 'mode=0700') as number) !== 0) throw new SyscallError('mount bpf', errno(), root);
}

/** Remove the owned directory once it holds no program: unmount it if Voltron mounted it. */
export function releaseRootIfEmpty(root: string): void {
  if (!fs.existsSync(root) || fs.readdirSync(root).some((f) => !PRELOADED.has(f))) return;
  if (isOwnMount(root)) {
    if ((libc.umount2(root, MNT_DETACH) as number) !== 0) throw new SyscallError('umount bpffs', errno(), root);
  }
  fs.rmdirSync(root);
}

/** cgroup v2 mount: the hybrid layout's /sys/fs/cgroup/unified, else /sys/fs/cgroup (VOLTRON_CGROUP_ROOT overrides). */
export function cgroupRoot(): string {
  const env = process.env.VOLTRON_CGROUP_ROOT;
  if (env) return env;
  try {
    const mounts = fs.readFileSync('/proc/self/mounts', 'utf8').split('\n').map((l) => l.split(' '));
    const cg2 = mounts.filter((m) => m[2] === 'cgroup2').map((m) => m[1]!);
    if (cg2.includes('/sys/fs/cgroup/unified')) return '/sys/fs/cgroup/unified';
    if (cg2.includes('/sys/fs/cgroup')) return '/sys/fs/cgroup';
    if (cg2[0]) return cg2[0];
  } catch {
    // fall through
  }
  return '/sys/fs/cgroup';
}
