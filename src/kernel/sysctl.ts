// Per-namespace sysctls through /proc/sys, opened from inside the namespace (net.* entries
// resolve to the namespace of the thread that opens them).
import fs from 'node:fs';
import type { SysctlRes } from '../model/types';
import { withFreshNetns, withNetns } from './netns';
import type { KernelSession } from './session';

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
 * that the plan creates (the caller sets `device` only for those). In one the apply creates: the keys a new namespace lacks (some exist
 * only in the host's initial namespace), asked once of a throwaway namespace; device keys are
 * not judged.
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
  const look = (k: K): void => {
    const file = sysctlPath(k.key);
    // /proc/sys/net/<family>/<conf|neigh>/<device>: the device's directory.
    if (k.device !== undefined && !fs.existsSync(file.split('/').slice(0, 7).join('/'))) return;
    if (!fs.existsSync(file)) out.set(k, 'missing');
    else if (!can(file, fs.constants.W_OK)) out.set(k, 'read-only');
    else if (!can(file, fs.constants.R_OK)) out.set(k, 'write-only');
  };
  const later: K[] = [];
  for (const k of keys) {
    if (session.exists(k.namespace)) withNetns(session.physical(k.namespace), () => look(k));
    else if (k.device === undefined) later.push(k);
  }
  if (later.length) withFreshNetns(() => later.forEach(look));
  return out;
}

/**
 * Declared values the kernel would refuse (EINVAL or ERANGE: out of the key's range, malformed)
 * or keep in another spelling (`0x1` reads back as `1`: the apply would never verify), found
 * before any write by writing each in a throwaway namespace and reading it back. A device key is
 * tried on that namespace's `lo` (the same handler; a device's own limits, such as an IPv6 mtu
 * up to the device's, are left to the apply). Keys the throwaway namespace lacks or refuses
 * otherwise (read-only outside the host's initial namespace) are not judged.
 */
export function refusedSysctlValues<K extends { key: string; value: string; device: string | undefined }>(keys: readonly K[]): Map<K, string> {
  const out = new Map<K, string>();
  if (keys.length === 0) return out;
  // Each file and value once: the same key on 4000 devices is one write to `lo`, not 4000
  // (an IPv6 `forwarding` write takes the RTNL lock: 16 s of a plan).
  const verdicts = new Map<string, string | undefined>();
  const judge = (file: string, value: string): string | undefined => {
    try {
      fs.writeFileSync(file, `${value}\n`);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      return code === 'EINVAL' || code === 'ERANGE' ? `the kernel refuses the value '${value}' (${code}: out of the key's range or not of its form)` : undefined;
    }
    let back: string;
    try {
      back = fs.readFileSync(file, 'utf8').trim().replace(/\s+/g, ' ');
    } catch {
      return undefined; // write-only
    }
    return back !== value ? `the kernel keeps the value '${value}' as '${back}', so the apply would never verify (declare '${back}')` : undefined;
  };
  withFreshNetns(() => {
    for (const k of keys) {
      const parts = sysctlPath(k.key).split('/');
      if (k.device !== undefined) parts[6] = 'lo'; // /proc/sys/net/<family>/<conf|neigh>/<device>/…
      const file = parts.join('/');
      const id = `${file}\0${k.value}`;
      if (!verdicts.has(id)) verdicts.set(id, judge(file, k.value));
      const why = verdicts.get(id);
      if (why !== undefined) out.set(k, why);
    }
  });
  return out;
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
