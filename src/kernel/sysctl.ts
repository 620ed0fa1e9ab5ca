// Per-namespace sysctls through /proc/sys, opened from inside the namespace (net.* entries
// resolve to the namespace of the thread that opens them).
import fs from 'node:fs';
import type { SysctlRes } from '../model/types';
import { withNetns } from './netns';
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

/**
 * Whether the kernel has a sysctl, asked before any write: `true`/`false` where that is known, or
 * `undefined` where it is not yet (a device key whose device does not exist yet). In a namespace
 * that does not exist yet, the namespace this process runs in answers for the keys it lacks: a new
 * namespace has no sysctl the one it is made from lacks (devices aside), but lacks some it has
 * (keys only the host's initial namespace has), which are left unjudged.
 */
export function sysctlExists(session: KernelSession, ns: string, key: string, device: string | undefined): boolean | undefined {
  const file = sysctlPath(key);
  // /proc/sys/net/<family>/<conf|neigh>/<device>: the device's directory.
  const deviceDir = device === undefined ? undefined : file.split('/').slice(0, 7).join('/');
  const look = (): boolean | undefined => {
    if (deviceDir !== undefined && !fs.existsSync(deviceDir)) return undefined;
    return fs.existsSync(file);
  };
  if (session.exists(ns)) return withNetns(session.physical(ns), look);
  if (device !== undefined) return undefined;
  return look() === false ? false : undefined;
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
