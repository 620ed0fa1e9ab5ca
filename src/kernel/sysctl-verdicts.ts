// What a throwaway network namespace said about declared sysctls, kept in a cache file (the
// state dir's) so a plan does not create one every time: creating a namespace takes the kernel's
// pernet lock, which waits behind other namespaces' teardown (a second or more after a big
// `destroy`, for a plan that otherwise takes 0.1 s). A fresh namespace's answer for a key (and
// value) depends on the running kernel (boot id, release), the modules loaded (they add keys
// and the fallback devices `gre0`, `sit0` ... to every new namespace), the user namespace we
// run in and the two root sysctls that shape what a new namespace gets; the answers are trusted
// only while all of those are the same, else asked again. A key kept as missing is asked again
// once the host's own namespace has it (a module that adds it loaded since, which the stamp
// may not see: built in, or reloaded): see sysctlAccess.
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { bootId } from '../util/boot';
import { ensureDir } from '../util/fsx';

/** What a key is in a new namespace: writable and readable ('ok'), or why not. */
export type FreshAccess = 'ok' | 'missing' | 'read-only' | 'write-only';

/** What the kernel did with a value written in a new namespace; null: kept as written, or not judged. */
export type ValueVerdict = { readonly refused: string } | { readonly keptAs: string } | null;

/**
 * Bumped when the file's form or the meaning of a verdict changes: older files are not read.
 * 2: keys of a pair the kernel checks against each other are judged alone (version 1 kept
 * refusals of valid pairs: `ip_local_port_range: 80 1000` against a new namespace's 1024).
 */
const VERSION = 2;
/** Past this many answers the file starts over (a config churning through values must not grow it forever). */
const MAX_ENTRIES = 20000;

interface CacheText {
  readonly version: number;
  readonly stamp: string;
  readonly access: Record<string, FreshAccess>;
  readonly values: Record<string, ValueVerdict>;
}

let cacheFile: string | undefined;

/** Keep the answers in `file`; undefined: ask a throwaway namespace every time. */
export function setSysctlVerdictCache(file: string | undefined): void {
  cacheFile = file;
}

function readText(file: string): string {
  try {
    return fs.readFileSync(file, 'utf8').trim();
  } catch {
    return '-';
  }
}

/**
 * What a new namespace's sysctls depend on, as one string; undefined when the boot cannot be told
 * (no boot id: nothing is kept). Reads a few small /proc files, only for plans with sysctl writes.
 */
export function verdictStamp(): string | undefined {
  const boot = bootId();
  if (boot === '') return undefined;
  let userns: string;
  try {
    userns = fs.readlinkSync('/proc/self/ns/user');
  } catch {
    return undefined;
  }
  // Names and load addresses (a module reloaded, maybe with other parameters, moves); not
  // the use counts, which change all the time.
  const modules = readText('/proc/modules')
    .split('\n')
    .map((l) => {
      const c = l.split(' ');
      return c.length > 5 ? `${c[0]}@${c[5]}` : c[0]!;
    })
    .filter((n) => n !== '' && n !== '-')
    .sort()
    .join(' ');
  const roots = ['fb_tunnels_only_for_init_net', 'devconf_inherit_init_net'].map((k) => readText(`/proc/sys/net/core/${k}`)).join(',');
  const digest = crypto.createHash('sha256').update(`${userns}\n${roots}\n${modules}`).digest('hex').slice(0, 32);
  return `${boot}/${os.release()}/${digest}`;
}

/** The answers kept for `stamp` in `file`, or none: a file of another stamp, version or owner, or unreadable, is not trusted. */
export function loadVerdicts(file: string | undefined, stamp: string | undefined): { access: Map<string, FreshAccess>; values: Map<string, ValueVerdict> } {
  const empty = { access: new Map<string, FreshAccess>(), values: new Map<string, ValueVerdict>() };
  if (file === undefined || stamp === undefined) return empty;
  try {
    const st = fs.statSync(file);
    // Written by someone else (or writable by others): not ours to believe.
    if (!st.isFile() || st.uid !== process.geteuid?.() || (st.mode & 0o022) !== 0) return empty;
    const c = JSON.parse(fs.readFileSync(file, 'utf8')) as Partial<CacheText>;
    if (c.version !== VERSION || c.stamp !== stamp || !isRecord(c.access) || !isRecord(c.values)) return empty;
    const access = new Map(Object.entries(c.access).filter(([, v]) => ['ok', 'missing', 'read-only', 'write-only'].includes(v)));
    const values = new Map(Object.entries(c.values).filter(([, v]) => v === null || isVerdict(v)));
    return { access, values };
  } catch {
    return empty; // none yet, or corrupt: ask the kernel
  }
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function isVerdict(v: unknown): v is ValueVerdict {
  if (!isRecord(v)) return false;
  const keys = Object.keys(v);
  return keys.length === 1 && (typeof v.refused === 'string' || typeof v.keptAs === 'string');
}

/**
 * Add answers to the file (written whole to a temporary file, then renamed: a reader sees the
 * old file or the new one). A cache: failing to keep one is not an error.
 */
export function saveVerdicts(file: string | undefined, stamp: string | undefined, add: { access?: ReadonlyMap<string, FreshAccess>; values?: ReadonlyMap<string, ValueVerdict> }): void {
  if (file === undefined || stamp === undefined) return;
  const had = loadVerdicts(file, stamp);
  const access = new Map([...had.access, ...(add.access ?? [])]);
  const values = new Map([...had.values, ...(add.values ?? [])]);
  const text: CacheText =
    access.size + values.size > MAX_ENTRIES
      ? { version: VERSION, stamp, access: Object.fromEntries(add.access ?? []), values: Object.fromEntries(add.values ?? []) }
      : { version: VERSION, stamp, access: Object.fromEntries(access), values: Object.fromEntries(values) };
  const tmp = `${file}.${process.pid}.tmp`;
  try {
    // Not Node's recursive mkdir: under /proc (a state dir there) it loops forever on Node 20.
    ensureDir(path.dirname(file), 0o700);
    fs.writeFileSync(tmp, JSON.stringify(text), { mode: 0o600 });
    fs.renameSync(tmp, file);
  } catch {
    try {
      fs.rmSync(tmp, { force: true });
    } catch {
      // an unwritable dir: nothing was left there either
    }
  }
}

/** The cache file set for this process (by the CLI: under the state dir). */
export function sysctlVerdictCache(): string | undefined {
  return cacheFile;
}
