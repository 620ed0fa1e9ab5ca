// Some `all` sysctls are not a floor but a broadcast: writing net.ipv4.ip_forward or
// net.ipv{4,6}.conf.all.forwarding (and IPv6's disable_ipv6, addr_gen_mode,
// ignore_routes_with_linkdown, force_forwarding) copies the value into every device of the
// namespace, and, but for force_forwarding, into `default` (measured on this kernel). Writing an
// IPv4 `default` key (but forwarding) copies the value into every device whose own key was never
// written (devinet_copy_dflt_conf), which includes a declared key Voltron found in sync. A
// declared device or default key of the same setting must then be written after it, also when it
// is already in sync, or the apply leaves the broadcast value there and fails to verify. So must
// an owned key no longer declared be written back to its original (a removal or destroy that
// restores ip_forward overwrote a device key left at its original, and never converged).
// Writing IPv6's stable_secret sets another setting: addr_gen_mode 2 (stable privacy) on its
// device, or, `default`'s, on every device (addrconf_sysctl_stable_secret; `default`'s own
// addr_gen_mode stays): a declared addr_gen_mode of those devices is written after it.
import type { Resource, SysctlRes } from '../model/types';
import { fmtScalar } from './format';
import { rewriteSysctlDraft, runAfterAll, type Draft } from './drafts';

/** Setting (`ipv4 forwarding`) → whether its broadcast also sets `default`. */
const BROADCAST: ReadonlyMap<string, boolean> = new Map([
  ['ipv4 forwarding', true],
  ['ipv6 forwarding', true],
  ['ipv6 disable_ipv6', true],
  ['ipv6 addr_gen_mode', true],
  ['ipv6 ignore_routes_with_linkdown', true],
  ['ipv6 force_forwarding', false],
]);

/**
 * What a write sets besides its own key: the same setting (or `setting`) on every device (and
 * `default`?), or on `only` that device; `note` says so in the plan's reason.
 */
interface Broadcast {
  readonly dflt: boolean;
  readonly note: string;
  readonly setting?: string;
  readonly only?: string;
}

/** What a write of key `k` sets besides itself, if anything. */
function broadcastOf(k: { setting: string; dev: string }): Broadcast | undefined {
  if (k.setting === 'ipv6 stable_secret' && k.dev !== 'all') {
    const where = k.dev === 'default' ? 'every device' : k.dev;
    return { dflt: false, note: `sets addr_gen_mode 2 (stable privacy) on ${where}`, setting: 'ipv6 addr_gen_mode', ...(k.dev === 'default' ? {} : { only: k.dev }) };
  }
  if (k.dev === 'all') {
    const dflt = BROADCAST.get(k.setting);
    return dflt === undefined ? undefined : { dflt, note: `copies into every device${dflt ? ' and default' : ''}` };
  }
  if (k.dev === 'default' && k.setting.startsWith('ipv4 ') && k.setting !== 'ipv4 forwarding')
    return { dflt: false, note: 'copies into every device whose own key was never written' };
  return undefined;
}

/** `net.ipvN.conf.<dev>.<setting>` → its parts (a dot in a device name is written `/`). */
function confKey(key: string): { setting: string; dev: string } | undefined {
  if (key === 'net.ipv4.ip_forward') return { setting: 'ipv4 forwarding', dev: 'all' };
  const p = key.split('.');
  return p.length === 5 && p[0] === 'net' && p[2] === 'conf' ? { setting: `${p[1]} ${p[4]}`, dev: p[3]! } : undefined;
}

/**
 * Rewrites declared device/default keys after a broadcast write in the plan, and writes owned
 * ones no longer declared back to their original (`original`: the inventory's); `runAfter`
 * orders them (also a restore after an update: see schedule).
 */
export function rewriteAfterBroadcasts(
  drafts: Map<string, Draft>,
  desired: ReadonlyMap<string, Resource>,
  current: ReadonlyMap<string, Resource>,
  runAfter: Map<string, Set<string>>,
  original: Readonly<Record<string, string>>,
): void {
  // Broadcast writes in this plan, by namespace and setting.
  const writers = new Map<string, ({ key: string; label: string } & Broadcast)[]>();
  for (const x of drafts.values()) {
    const r = (x.after ?? x.before) as SysctlRes | undefined;
    // A removal with no original to write back writes nothing.
    if (x.kind !== 'sysctl' || !r || (x.action === 'delete' && !x.restore)) continue;
    const k = confKey(r.key);
    const b = k && broadcastOf(k);
    if (!k || !b) continue;
    const id = `${r.namespace}\n${b.setting ?? k.setting}`;
    const w = { key: x.key, label: r.key, ...b };
    const l = writers.get(id);
    if (l) l.push(w);
    else writers.set(id, [w]);
  }
  if (writers.size === 0) return;
  // Declared keys, and owned ones that are no longer (current holds only owned objects).
  const keys = new Set([...desired.keys(), ...current.keys()]);
  for (const key of keys) {
    const d = desired.get(key);
    const r = (d ?? current.get(key)) as Resource;
    if (r.kind !== 'sysctl') continue;
    const k = confKey(r.key);
    if (!k || k.dev === 'all') continue;
    // `default` is rewritten after the writers that also set it (an IPv4 default writer is itself).
    const ws = writers.get(`${r.namespace}\n${k.setting}`)?.filter((w) => (w.dflt || k.dev !== 'default') && (w.only === undefined || w.only === k.dev));
    if (!ws?.length) continue;
    const orig = original[key];
    if (d === undefined && orig === undefined) continue; // nothing to write back
    runAfterAll(runAfter, key, ws.map((w) => w.key));
    const live = current.get(key) as SysctlRes | undefined;
    if (drafts.has(key) || live === undefined) continue;
    // The widest effect speaks for all (default's stable_secret: every device, not one).
    const note = (ws.find((w) => w.only === undefined) ?? ws[0]!).note;
    const why = `after ${ws.map((w) => w.label).join(' and ')}, which the kernel ${note}`;
    if (d !== undefined) {
      drafts.set(key, rewriteSysctlDraft(key, live, d as SysctlRes, `written again ${why}`));
    } else {
      drafts.set(key, {
        action: 'delete',
        key,
        kind: 'sysctl',
        before: live,
        fields: [],
        reason: `no longer declared: original value ${fmtScalar(orig)} written back ${why}`,
        disruptive: true,
        restore: { ...live, value: orig! },
      });
    }
  }
}
