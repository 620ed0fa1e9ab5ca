// Writing net.ipv6.conf.all.disable_ipv6 (any value but 0) turns IPv6 off on every device of the
// namespace whose IPv6 was on (addrconf_disable_change), and the kernel then removes the device's
// IPv6 addresses and every IPv6 route through it, in every table (measured: rules stay; lo holds
// the blackhole/unreachable/prohibit routes, which go too when lo was on). A declared device key
// 0, written again after it (sysctl-all.ts), turns IPv6 back on: the kernel brings back only its
// link-local address (and lo's ::1). The declared IPv6 addresses and routes it removed are
// re-added after that key, so one apply converges. A reject route is re-added whatever lo's
// state: the kernel accepts one on lo with IPv6 off.
import { resourceLabel } from '../model/keys';
import { inCidr } from '../model/net';
import type { AddressRes, Resource, RouteRes, SysctlRes } from '../model/types';
import { declaredFields } from './compare';
import { runAfterAll, type Draft } from './drafts';
import type { Change } from './types';

const ALL_KEY = 'net.ipv6.conf.all.disable_ipv6';

/** A disable_ipv6 value that leaves IPv6 on (the kernel tests the int against 0). */
const isOn = (v: string | undefined): boolean => v === undefined || /^[-+]?0+$/.test(v.trim());

/** The sysctl key of a device's own disable_ipv6 (a '.' in a device name is '/'). */
const ownKey = (ns: string, dev: string): string => `sysctl:${ns}/net.ipv6.conf.${dev.replace(/\./g, '/')}.disable_ipv6`;

/** The value a sysctl change writes (a delete restores the original). */
function written(x: Draft | Change): string | undefined {
  if (x.action === 'delete') return x.restore?.kind === 'sysctl' ? x.restore.value : undefined;
  return (x.after as SysctlRes | undefined)?.value;
}

/** Changes writing `all.disable_ipv6` to a value that turns IPv6 off, by namespace. */
function offWriters<T extends Draft | Change>(changes: Iterable<T>): Map<string, T> {
  const out = new Map<string, T>();
  for (const x of changes) {
    const r = (x.after ?? x.before) as SysctlRes | undefined;
    if (x.kind !== 'sysctl' || r?.key !== ALL_KEY) continue;
    if (!isOn(written(x))) out.set(r.namespace, x);
  }
  return out;
}

/** The device a live IPv6 route goes through: its own, else lo for a reject route, else its gateway's. */
function routeDevice(r: RouteRes, addrs: readonly AddressRes[]): string | undefined {
  if (r.dev !== undefined) return r.dev;
  if (r.type !== 'unicast') return 'lo';
  return r.via === undefined ? undefined : addrs.find((a) => inCidr(r.via!, a.address))?.dev;
}

/** Re-adds the declared IPv6 objects a plan's `all.disable_ipv6` write removes; `runAfter` orders them. */
export function readdAfterIpv6Off(
  drafts: Map<string, Draft>,
  desired: ReadonlyMap<string, Resource>,
  current: ReadonlyMap<string, Resource>,
  runAfter: Map<string, Set<string>>,
): void {
  const writers = offWriters(drafts.values());
  if (writers.size === 0) return;
  const liveAddrs = new Map<string, AddressRes[]>();
  for (const r of current.values()) if (r.kind === 'address' && r.address.includes(':')) liveAddrs.set(r.namespace, [...(liveAddrs.get(r.namespace) ?? []), r]);
  for (const [key, d] of desired) {
    if ((d.kind !== 'address' || !d.address.includes(':')) && (d.kind !== 'route' || d.family !== 6)) continue;
    const w = writers.get(d.namespace);
    if (!w) continue;
    const live = current.get(key) as AddressRes | RouteRes | undefined;
    const dev = d.kind === 'address' ? d.dev : routeDevice((live ?? d) as RouteRes, liveAddrs.get(d.namespace) ?? []);
    if (dev === undefined) continue;
    const own = desired.get(ownKey(d.namespace, dev)) as SysctlRes | undefined;
    const backOn = own !== undefined && isOn(own.value);
    const reject = d.kind === 'route' && d.type !== 'unicast';
    if (!backOn && !reject) continue; // stays off: validation refuses such objects
    runAfterAll(runAfter, key, backOn && drafts.has(ownKey(d.namespace, dev)) ? [w.key, ownKey(d.namespace, dev)] : [w.key]);
    if (!live || !wasOn(dev, d.namespace, w, current)) continue;
    const prev = drafts.get(key);
    if (prev?.action === 'create') continue;
    const why = backOn
      ? `re-added after ${own!.key} turns IPv6 back on: ${ALL_KEY} turns it off on ${dev} first, and the kernel removes the device's IPv6 addresses and routes`
      : `re-added after ${ALL_KEY}, which turns IPv6 off on lo: the kernel removes the reject routes lo holds`;
    drafts.set(key, {
      action: 'create',
      key,
      kind: d.kind,
      before: live,
      after: d,
      fields: declaredFields(d),
      reason: prev ? `${why}; ${prev.reason}` : why,
      disruptive: true,
    });
  }
}

/**
 * Whether IPv6 was on on `dev` before the write: a device holding live IPv6 addresses or routes
 * has it on, but lo, which keeps its reject routes also with IPv6 off: lo is on if its own key
 * reads 0, or, unread, if `all` read 0 (writing `all` sets lo too).
 */
function wasOn(dev: string, ns: string, w: Draft | Change, current: ReadonlyMap<string, Resource>): boolean {
  if (dev !== 'lo') return true;
  const own = current.get(ownKey(ns, dev)) as SysctlRes | undefined;
  return isOn(own?.value ?? (w.before as SysctlRes | undefined)?.value);
}

/**
 * Live IPv6 addresses and routes Voltron does not own (foreign or on an ignored link) that a
 * plan's `all.disable_ipv6` write removes: nothing re-adds them (the kernel: link-local only).
 */
export function ipv6OffCollateral(
  changes: readonly Change[],
  live: ReadonlyMap<string, Resource>,
  ignoredLive: ReadonlyMap<string, Resource>,
  owned: (k: string) => boolean,
): { key: string; text: string; ignored: boolean; r: Resource }[] {
  const writers = offWriters(changes);
  if (writers.size === 0) return [];
  const out: { key: string; text: string; ignored: boolean; r: Resource }[] = [];
  for (const m of [live, ignoredLive]) {
    const addrs = [...m.values()].filter((r): r is AddressRes => r.kind === 'address' && r.address.includes(':'));
    for (const [k, r] of m) {
      if ((r.kind !== 'address' || !r.address.includes(':')) && (r.kind !== 'route' || r.family !== 6)) continue;
      const w = writers.get(r.namespace);
      const isIgnored = m === ignoredLive;
      if (!w || (!isIgnored && owned(k))) continue;
      const dev = r.kind === 'address' ? r.dev : routeDevice(r, addrs);
      if (dev === undefined || !wasOn(dev, r.namespace, w, live)) continue;
      out.push({ key: k, text: `${resourceLabel(r)}${isIgnored ? ' [ignored]' : ''} (with ${w.label})`, ignored: isIgnored, r });
    }
  }
  return out;
}
