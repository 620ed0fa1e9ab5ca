// Sysctl checks that need the whole config, for what the kernel would refuse mid-apply: a
// per-device key of a device that will not exist (ENOENT: /proc/sys has no such entry), a key of
// an ignored device (never applied), and IPv6 disabled (disable_ipv6) on a device the config
// gives IPv6 addresses or routes (EACCES "IPv6 is disabled on this device").
import { nsLabel } from '../model/keys';
import type { AddressRes, RouteRes, SysctlRes } from '../model/types';
import { sysctlDevice } from '../plan/refs';
import type { Ctx } from './ctx';
import { isPoisoned } from './merge';
import { globMatch } from './norm-links';
import { ptrJoin, type Entry } from './types';

// Fallback tunnel devices: the kernel makes them in every new namespace while their module is
// loaded (net.core.fb_tunnels_only_for_init_net = 0), so they may exist without being declared.
const FALLBACK_TUNNELS = new Set(['tunl0', 'sit0', 'ip6tnl0', 'gre0', 'gretap0', 'erspan0', 'ip6gre0', 'ip_vti0', 'ip6_vti0']);

export function checkSysctls(
  ctx: Ctx,
  sysctls: readonly SysctlRes[],
  addresses: readonly AddressRes[],
  routes: readonly RouteRes[],
  ignore: readonly Entry<string>[],
): void {
  for (const s of sysctls) {
    checkDevice(ctx, s, ignore);
    checkIpv6Mtu(ctx, s);
  }
  checkAliases(ctx, sysctls);
  const disabled = ipv6Disabler(ctx, sysctls);
  for (const a of addresses) {
    if (!a.address.includes(':')) continue;
    const by = disabled(a.namespace, a.dev);
    if (by && a.source) report(ctx, a.source.file, ptrJoin(a.source.path, 'dev'), disabledMessage(a.dev, a.namespace, by, 'this device'));
  }
  for (const r of routes) {
    if (r.family !== 6 || r.dev === undefined) continue;
    const by = disabled(r.namespace, r.dev);
    if (by && r.source) report(ctx, r.source.file, ptrJoin(r.source.path, 'dev'), disabledMessage(r.dev, r.namespace, by, 'nexthop device'));
  }
}

/**
 * A per-device key names a device that must exist when it is written. Judged only in Voltron's
 * own namespaces (the config declares every link there; the kernel makes lo and, with their
 * modules loaded, the fallback tunnels); in the root namespace host devices exist that the
 * config does not declare. A config with an `ignore` list may have undeclared devices anywhere.
 */
function checkDevice(ctx: Ctx, s: SysctlRes, ignore: readonly Entry<string>[]): void {
  if (s.source === undefined) return;
  // The neighbour tables' defaults (neigh.default) exist in the host's root namespace only;
  // neigh.all exists nowhere.
  const neigh = /^net\.[^.]+\.neigh\.(all|default)\./.exec(s.key);
  if (neigh && (s.namespace !== '' || neigh[1] === 'all')) {
    const why = neigh[1] === 'all' ? 'there is no neigh.all' : 'neigh.default exists only in the root namespace';
    const instead = s.namespace === '' ? 'set neigh.default or a device' : 'set it per device';
    reportKey(ctx, s, `sysctl '${s.key}' does not exist in namespace ${nsLabel(s.namespace)}: ${why} (${instead}; the kernel has no such sysctl: ENOENT)`);
    return;
  }
  const dev = sysctlDevice(s.key);
  if (dev === undefined) return;
  // The plan leaves a key of an ignored device out: it would never be written.
  const g = ignore.find((p) => globMatch(p.value, dev));
  if (g) {
    reportKey(ctx, s, `sysctl '${s.key}' is for device '${dev}', which matches ignore pattern '${g.value}' (${ctx.where(g)}): it would never be applied`);
    return;
  }
  if (s.namespace === '' || ignore.length > 0 || dev === 'lo' || FALLBACK_TUNNELS.has(dev)) return;
  if (ctx.links.has(`${s.namespace}/${dev}`) || isPoisoned(ctx.poison, 'links', `${s.namespace}/${dev}`)) return;
  reportKey(ctx, s, `sysctl '${s.key}' is for device '${dev}', which is not a link declared in namespace ${nsLabel(s.namespace)}${ctx.removedHint('links', `${s.namespace}/${dev}`)} (the kernel has no such sysctl: ENOENT)${dottedHint(ctx, s)}`);
}

/** A device whose name has a '.' is written with '/' in a key (sysctl(8)): suggest that spelling. */
function dottedHint(ctx: Ctx, s: SysctlRes): string {
  const parts = s.key.split('.');
  for (let end = 5; end < parts.length; end++) {
    const name = parts.slice(3, end).join('.');
    if (ctx.links.has(`${s.namespace}/${name}`))
      return `; for link '${name}' write '${[...parts.slice(0, 3), parts.slice(3, end).join('/'), ...parts.slice(end)].join('.')}' (a '.' in a device name is '/' in a key)`;
  }
  return '';
}

/** The sysctl that disables IPv6 on a device, and how. */
interface Disabler {
  readonly s: SysctlRes;
  readonly how: 'own' | 'all' | 'default';
}

/**
 * Which declared disable_ipv6 key leaves IPv6 off on a device, as the kernel applies them: the
 * device's own key (the plan writes it right after creating the device, before its addresses);
 * else `all` (writing it sets every device and `default` too); else `default`, which only
 * devices created after it inherit (created in or moved into the namespace): the plan writes it
 * before creating links, so every declared link, on this apply or a later replace; not lo nor
 * host devices, which exist before.
 */
function ipv6Disabler(ctx: Ctx, sysctls: readonly SysctlRes[]): (ns: string, dev: string) => Disabler | undefined {
  const byNs = new Map<string, Map<string, SysctlRes>>();
  for (const s of sysctls) {
    const m = /^net\.ipv6\.conf\.([^.]+)\.disable_ipv6$/.exec(s.key);
    if (!m) continue;
    const keys = byNs.get(s.namespace) ?? new Map<string, SysctlRes>();
    byNs.set(s.namespace, keys);
    keys.set(m[1]!.replace(/\//g, '.'), s);
  }
  const on = (s: SysctlRes | undefined): boolean => s !== undefined && /^-?\d+$/.test(s.value) && Number(s.value) !== 0;
  return (ns, dev) => {
    const keys = byNs.get(ns);
    if (!keys) return undefined;
    const own = dev === 'all' || dev === 'default' ? undefined : keys.get(dev);
    if (own) return on(own) ? { s: own, how: 'own' } : undefined;
    const all = keys.get('all');
    if (on(all)) return { s: all!, how: 'all' };
    const dflt = keys.get('default');
    if (on(dflt) && ctx.links.has(`${ns}/${dev}`)) return { s: dflt!, how: 'default' };
    return undefined;
  };
}

function disabledMessage(dev: string, ns: string, by: Disabler, what: string): string {
  const why =
    by.how === 'all'
      ? ` (it sets every device, lo included, and default)`
      : by.how === 'default'
        ? `, which links inherit when created (Voltron sets sysctls first)`
        : '';
  return `IPv6 is disabled on '${dev}': sysctl ${by.s.key} is ${by.s.value} in namespace ${nsLabel(ns)}${why}; the kernel refuses IPv6 addresses and routes on such a device ("IPv6 is disabled on ${what}")`;
}

/** net.ipv4.ip_forward and net.ipv4.conf.all.forwarding are one value: two differing never converge. */
function checkAliases(ctx: Ctx, sysctls: readonly SysctlRes[]): void {
  const fwd = new Map<string, SysctlRes>();
  for (const s of sysctls) if (s.key === 'net.ipv4.conf.all.forwarding') fwd.set(s.namespace, s);
  for (const s of sysctls) {
    const other = s.key === 'net.ipv4.ip_forward' ? fwd.get(s.namespace) : undefined;
    if (!other || other.value === s.value || !s.source) continue;
    const at = other.source ? ctx.pos(other.source.file, other.source.path, true) : undefined;
    const where = other.source && at ? ` (${other.source.file}:${at.line}:${at.column})` : '';
    reportKey(ctx, s, `net.ipv4.ip_forward ${s.value} contradicts net.ipv4.conf.all.forwarding ${other.value}${where}: the kernel keeps one value for both (declare one of them)`);
  }
}

/**
 * A device's IPv6 keys (`net.ipv6.conf.<dev>.*`, `net.ipv6.neigh.<dev>.*`) on a link declared
 * below mtu 1280: the kernel removes them with the device's IPv6 (ENOENT mid-apply, or a value
 * that never verifies).
 */
function checkIpv6Mtu(ctx: Ctx, s: SysctlRes): void {
  const dev = s.source && /^net\.ipv6\.(conf|neigh)\./.test(s.key) ? sysctlDevice(s.key) : undefined;
  const problem = dev === undefined ? undefined : ctx.ipv6MtuProblem(s.namespace, dev);
  if (problem) reportKey(ctx, s, `sysctl '${s.key}': ${problem}, and removes the device's net.ipv6 keys`);
}

function reportKey(ctx: Ctx, s: SysctlRes, message: string): void {
  const src = s.source!;
  ctx.errors.push({ file: src.file, ...ctx.pos(src.file, src.path, true), path: src.path, message });
}

function report(ctx: Ctx, file: string, path: string, message: string): void {
  ctx.errors.push({ file, ...ctx.pos(file, path), path, message });
}
