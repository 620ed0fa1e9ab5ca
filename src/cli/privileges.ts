// Commands that read or change the kernel need root. Without it they failed deep inside: a plan
// showed `tag: rejected:EPERM`, an apply rolled back after "mount --bind /run/netns: EPERM",
// show said "setns: EPERM". Checked once, before anything runs, by CAP_NET_ADMIN alone: every
// write needs it, while CAP_SYS_ADMIN (namespaces, BPF) is not needed by a config of root
// namespace links and routes, which a container granted only NET_ADMIN may manage.
import fs from 'node:fs';

const NEEDED: readonly (readonly [string, number])[] = [['CAP_NET_ADMIN', 12]];
// A sandbox is namespaces: entering them (setns) needs CAP_SYS_ADMIN whatever the config holds.
const NEEDED_IN_SANDBOX: readonly (readonly [string, number])[] = [...NEEDED, ['CAP_SYS_ADMIN', 21]];

/** The needed capabilities missing from the effective set in a /proc/<pid>/status text. */
export function missingCapabilities(status: string, sandbox = false): string[] {
  const hex = /^CapEff:\s*([0-9a-f]+)$/m.exec(status)?.[1];
  // No CapEff line (not Linux procfs as we know it): let the kernel be the judge.
  if (hex === undefined) return [];
  const eff = BigInt(`0x${hex}`);
  return (sandbox ? NEEDED_IN_SANDBOX : NEEDED).filter(([, bit]) => ((eff >> BigInt(bit)) & 1n) === 0n).map(([name]) => name);
}

/** Why this process cannot run a kernel command, with what to do; undefined when it can. */
export function privilegeError(command: string, sandbox = false): string | undefined {
  let status: string;
  try {
    status = fs.readFileSync('/proc/self/status', 'utf8');
  } catch {
    return undefined;
  }
  const missing = missingCapabilities(status, sandbox);
  if (missing.length === 0) return undefined;
  // NET_ADMIN alone is enough without a sandbox: say why this run needs SYS_ADMIN too (it failed with "setns: EPERM").
  const why = missing.includes('CAP_NET_ADMIN') ? '' : ' for --sandbox';
  return `voltron ${command}: needs root (${missing.join(' and ')} missing${why}): it reads and changes network namespaces. Run it as root, e.g. \`sudo voltron ${command} ...\`; \`voltron validate\` needs no privileges.`;
}
