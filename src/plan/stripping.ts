// Link updates after which the kernel removes what goes through the link. Setting it down (admin
// down) removes every IPv4 and IPv6 route over the device, in every table (fib_disable_ip,
// rt6_sync_down_dev), and its IPv6 addresses (addrconf_ifdown; unless keep_addr_on_down); IPv4
// addresses stay. An mtu below 1280 turns IPv6 off on it: its IPv6 addresses and routes go.
// Declared objects never sit on such a link (validation), so only objects Voltron does not own
// are lost: a plan must name them rather than count them as left untouched.
import { linkKey } from './refs';
import { resourceLabel } from '../model/keys';
import type { LinkRes, Resource } from '../model/types';
import type { Change } from './types';

const IPV6_MIN_MTU = 1280;

interface Stripping {
  readonly change: Change;
  /** IPv4 routes go too (down), not only IPv6 objects (mtu). */
  readonly ipv4: boolean;
  readonly why: string;
}

/** Link updates that make the kernel remove objects on the link, by link key. */
export function strippingUpdates(changes: readonly Change[]): Map<string, Stripping> {
  const out = new Map<string, Stripping>();
  for (const c of changes) {
    const b = c.before as LinkRes | undefined;
    const a = c.after as LinkRes | undefined;
    if (c.action !== 'update' || b?.kind !== 'link' || a === undefined) continue;
    if (b.state === 'up' && a.state === 'down') out.set(c.key, { change: c, ipv4: true, why: 'set down' });
    else if ((b.mtu ?? IPV6_MIN_MTU) >= IPV6_MIN_MTU && a.mtu !== undefined && a.mtu < IPV6_MIN_MTU) {
      out.set(c.key, { change: c, ipv4: false, why: `mtu below ${IPV6_MIN_MTU}: IPv6 off` });
    }
  }
  return out;
}

/** The link a live object goes with when that link is stripped, and whether it is IPv4. */
function strippedWith(r: Resource): { dev: string; v4: boolean } | undefined {
  if (r.kind === 'address') return r.address.includes(':') ? { dev: linkKey(r.namespace, r.dev), v4: false } : undefined;
  // A multipath route loses only the nexthop over the device (and carries no `dev`).
  if (r.kind === 'route' && r.dev !== undefined) return { dev: linkKey(r.namespace, r.dev), v4: r.family === 4 };
  return undefined;
}

/** Live objects Voltron does not own (foreign or on an ignored link) that a plan's link updates remove. */
export function strippedCollateral(
  changes: readonly Change[],
  live: ReadonlyMap<string, Resource>,
  ignoredLive: ReadonlyMap<string, Resource>,
  owned: (k: string) => boolean,
): { key: string; text: string; ignored: boolean; r: Resource }[] {
  const updates = strippingUpdates(changes);
  if (updates.size === 0) return [];
  const out: { key: string; text: string; ignored: boolean; r: Resource }[] = [];
  for (const m of [live, ignoredLive]) {
    const isIgnored = m === ignoredLive;
    for (const [k, r] of m) {
      const on = strippedWith(r);
      const u = on === undefined ? undefined : updates.get(on.dev);
      if (!u || (on!.v4 && !u.ipv4) || (!isIgnored && owned(k))) continue;
      out.push({ key: k, text: `${resourceLabel(r)}${isIgnored ? ' [ignored]' : ''} (with ${u.change.label} ${u.why})`, ignored: isIgnored, r });
    }
  }
  return out;
}
