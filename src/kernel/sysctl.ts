// Per-namespace sysctls through /proc/sys, opened from inside the namespace (net.* entries
// resolve to the namespace of the thread that opens them).
import fs from 'node:fs';
import type { SysctlRes } from '../model/types';
import { withNetns } from './netns';
import type { KernelSession } from './session';

function sysctlPath(key: string): string {
  if (!/^net\.[A-Za-z0-9_.\-]+$/.test(key) || key.includes('..')) throw new Error(`sysctl ${key}: only net.* keys are namespaced`);
  return `/proc/sys/${key.replace(/\./g, '/')}`;
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
