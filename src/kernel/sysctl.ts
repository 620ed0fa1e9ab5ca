// Per-namespace sysctls through /proc/sys, opened from inside the namespace (net.* entries
// resolve to the namespace of the thread that opens them).
import fs from 'node:fs';
import { PAIR_OF } from '../model/sysctl-pairs';
import type { SysctlRes } from '../model/types';
import { withFreshNetns, withNetns } from './netns';
import type { KernelSession } from './session';
import { loadVerdicts, saveVerdicts, sysctlVerdictCache, verdictStamp, type FreshAccess, type ValueVerdict } from './sysctl-verdicts';

/**
 * /proc/sys path of a dotted key. As for sysctl(8), a '/' in a key stands for a '.' in a name
 * (`net.ipv4.conf.eth0/100.forwarding`: device eth0.100); no part may become '.' or '..'.
 */
export function sysctlPath(key: string): string {
  const parts = key.split('.').map((p) => p.replace(/\//g, '.'));
  const bad = parts[0] !== 'net' || parts.length < 2 || parts.some((p) => !/^[A-Za-z0-9_.-]+$/.test(p) || p === '.' || p === '..');
  if (bad) throw new Error(`sysctl ${key}: not a net.* key (dotted words of A-Z a-z 0-9 _ - /)`);
  return `/proc/sys/${parts.join('/')}`;
}

/** Read the given keys; a key the kernel lacks is omitted. */
export function readSysctls(session: KernelSession, ns: string, keys: readonly string[]): SysctlRes[] {
  if (keys.length === 0) return [];
  return withNetns(session.physical(ns), () => {
    const out: SysctlRes[] = [];
    for (const key of keys) {
      try {
        const value = fs.readFileSync(sysctlPath(key), 'utf8').trim().replace(/\s+/g, ' ');
        out.push({ kind: 'sysctl', namespace: ns, key, value });
      } catch {
        // absent in this kernel: reported by the plan as a create that will fail clearly
      }
    }
    return out;
  });
}

/** Why the plan cannot write a declared sysctl and read it back, as found before any write. */
export type SysctlAccess = 'missing' | 'read-only' | 'write-only';

/**
 * The declared sysctls the kernel does not have, or has but cannot both write and read back
 * (read-only: `net.ipv4.conf.all.mc_forwarding`, `net.core.rmem_max` outside the host's initial
 * namespace; write-only: `net.ipv4.route.flush`, an action that no read can verify), asked
 * before any write. In a namespace that exists: every key but those of a device not there yet
 * that the plan creates (the caller sets `device` only for those). In one the apply creates: the
 * keys a new namespace lacks (some exist only in the host's initial namespace), asked once of a
 * throwaway namespace, or of the verdict cache when it has them all; device keys are not judged.
 */
export function sysctlAccess<K extends { namespace: string; key: string; device: string | undefined }>(session: KernelSession, keys: readonly K[]): Map<K, SysctlAccess> {
  const out = new Map<K, SysctlAccess>();
  const can = (file: string, mode: number): boolean => {
    try {
      fs.accessSync(file, mode); // /proc/sys answers with the key's mode in this namespace (root too)
      return true;
    } catch {
      return false;
    }
  };
  const ask = (file: string): FreshAccess => (!fs.existsSync(file) ? 'missing' : !can(file, fs.constants.W_OK) ? 'read-only' : !can(file, fs.constants.R_OK) ? 'write-only' : 'ok');
  const later: K[] = [];
  for (const k of keys) {
    if (session.exists(k.namespace)) {
      withNetns(session.physical(k.namespace), () => {
        const file = sysctlPath(k.key);
        // /proc/sys/net/<family>/<conf|neigh>/<device>: the device's directory.
        if (k.device !== undefined && !fs.existsSync(file.split('/').slice(0, 7).join('/'))) return;
        const a = ask(file);
        if (a !== 'ok') out.set(k, a);
      });
    } else if (k.device === undefined) later.push(k);
  }
  if (later.length === 0) return out;
  // A new namespace's answers are the same for every plan on this kernel (see sysctl-verdicts):
  // asked of a throwaway namespace only for keys not answered before.
  const cache = sysctlVerdictCache();
  const stamp = cache === undefined ? undefined : verdictStamp();
  const known = loadVerdicts(cache, stamp).access;
  // Kept as missing, but the host's namespace has it now: a module may have added it since
  // (built in, or reloaded: the stamp would not tell), so a new namespace is asked again. Keys
  // only the host's namespace has are asked each time, by plans that refuse them anyway.
  for (const [f, a] of known) if (a === 'missing' && fs.existsSync(f)) known.delete(f);
  const asked = new Map<string, FreshAccess>();
  const unknown = [...new Set(later.map((k) => sysctlPath(k.key)).filter((f) => !known.has(f)))];
  if (unknown.length) withFreshNetns(() => unknown.forEach((f) => asked.set(f, ask(f))));
  for (const k of later) {
    const file = sysctlPath(k.key);
    const a = known.get(file) ?? asked.get(file)!;
    if (a !== 'ok') out.set(k, a);
  }
  if (asked.size) saveVerdicts(cache, stamp, { access: asked });
  return out;
}

/**
 * Declared values the kernel would refuse (EINVAL or ERANGE: out of the key's range, malformed)
 * or keep in another spelling (`0x1` reads back as `1`: the apply would never verify), found
 * before any write by writing each in a throwaway namespace and reading it back (then writing
 * back what was there, so no answer depends on the values tried before it). A device key is
 * tried on that namespace's `lo` (the same handler; a device's own limits, such as an IPv6 mtu
 * up to the device's, are left to the apply). Keys the throwaway namespace lacks or refuses
 * otherwise (read-only outside the host's initial namespace) are not judged. Answers kept in the
 * verdict cache (sysctl-verdicts) are not asked again: no namespace is made when all are known.
 */
export function refusedSysctlValues<K extends { key: string; value: string; device: string | undefined }>(keys: readonly K[]): Map<K, string> {
  const out = new Map<K, string>();
  if (keys.length === 0) return out;
  const fileOf = (k: K): string => {
    const parts = sysctlPath(k.key).split('/');
    if (k.device !== undefined) parts[6] = 'lo'; // /proc/sys/net/<family>/<conf|neigh>/<device>/…
    return parts.join('/');
  };
  // Each file and value once: the same key on 4000 devices is one write to `lo`, not 4000
  // (an IPv6 `forwarding` write takes the RTNL lock: 16 s of a plan).
  const id = (k: K): string => `${fileOf(k)}\0${k.value}`;
  const cache = sysctlVerdictCache();
  const stamp = cache === undefined ? undefined : verdictStamp();
  const known = loadVerdicts(cache, stamp).values;
  const asked = new Map<string, ValueVerdict>();
  const unknown = [...new Map(keys.filter((k) => !known.has(id(k))).map((k) => [id(k), k] as const))];
  if (unknown.length) withFreshNetns(() => unknown.forEach(([i, k]) => asked.set(i, judgeAlone(k.key, fileOf(k), k.value))));
  for (const k of keys) {
    const v = known.get(id(k)) ?? asked.get(id(k)) ?? null;
    if (v !== null) out.set(k, describeVerdict(k.value, v));
  }
  if (asked.size) saveVerdicts(cache, stamp, { values: asked });
  return out;
}

/**
 * judgeValue, with the key the kernel checks this one against (model/sysctl-pairs) at its
 * loosest meanwhile: the value alone is judged here (its range, its form), the pair by the plan
 * against the values the pair will have (plan/sysctl-pairs), not against a new namespace's.
 */
function judgeAlone(key: string, file: string, value: string): ValueVerdict {
  const p = PAIR_OF.get(key);
  if (p === undefined) return judgeValue(file, value);
  const other = sysctlPath(p.side === 'low' ? p.pair.high : p.pair.low);
  let before: string | undefined;
  try {
    before = fs.readFileSync(other, 'utf8');
    fs.writeFileSync(other, `${p.side === 'low' ? p.pair.loosest.high : p.pair.loosest.low}\n`);
  } catch {
    // absent here: nothing to loosen
  }
  try {
    return judgeValue(file, value);
  } finally {
    try {
      if (before !== undefined) fs.writeFileSync(other, before);
    } catch {
      // kept: only this namespace, freed when the check ends
    }
  }
}

/** Write `value` to `file` in the throwaway namespace, read it back, and put back what was there. */
function judgeValue(file: string, value: string): ValueVerdict {
  let before: string | undefined;
  try {
    before = fs.readFileSync(file, 'utf8');
  } catch {
    // write-only or absent: the write says
  }
  try {
    fs.writeFileSync(file, `${value}\n`);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    return code === 'EINVAL' || code === 'ERANGE' ? { refused: code } : null;
  }
  let back: string;
  try {
    back = fs.readFileSync(file, 'utf8');
  } catch {
    return null; // write-only
  }
  if (before !== undefined && back !== before) {
    try {
      fs.writeFileSync(file, before);
    } catch {
      // kept: only this namespace, freed when the check ends
    }
  }
  back = back.trim().replace(/\s+/g, ' ');
  return back !== value ? { keptAs: back } : null;
}

function describeVerdict(value: string, v: NonNullable<ValueVerdict>): string {
  return 'refused' in v
    ? `the kernel refuses the value '${value}' (${v.refused}: out of the key's range or not of its form)`
    : `the kernel keeps the value '${value}' as '${v.keptAs}', so the apply would never verify (declare '${v.keptAs}')`;
}

export function writeSysctl(session: KernelSession, s: { namespace: string; key: string; value: string }): void {
  withNetns(session.physical(s.namespace), () => {
    try {
      fs.writeFileSync(sysctlPath(s.key), `${s.value}\n`);
    } catch (e) {
      const err = e as NodeJS.ErrnoException;
      throw new Error(`sysctl ${s.key}=${s.value}: ${err.code ?? ''} ${err.message}`);
    }
  });
  session.extraWrites++;
}
