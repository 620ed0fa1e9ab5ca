// Setting a link down (admin down) makes the kernel remove what goes through it: every IPv4 and
// IPv6 route over the device, in every table (fib_disable_ip, rt6_sync_down_dev), and its IPv6
// addresses (addrconf_ifdown; unless keep_addr_on_down). IPv4 addresses stay. Declared objects
// never sit on a link declared down (validation), so only objects Voltron does not own are lost:
// a plan must name them rather than count them as left untouched.
import { linkKey } from './refs';
import { resourceLabel } from '../model/keys';
import type { LinkRes, Resource } from '../model/types';
import type { Change } from './types';

/** Link updates taking an up link down, by link key. */
export function downWriters(changes: readonly Change[]): Map<string, Change> {
  const out = new Map<string, Change>();
  for (const c of changes) {
    const b = c.before as LinkRes | undefined;
    const a = c.after as LinkRes | undefined;
    if (c.action === 'update' && b?.kind === 'link' && b.state === 'up' && a?.state === 'down') out.set(c.key, c);
  }
  return out;
}

/** The link a live object goes with when that link is set down, if any. */
function downedWith(r: Resource): string | undefined {
  if (r.kind === 'address') return r.address.includes(':') ? linkKey(r.namespace, r.dev) : undefined;
  // A multipath route loses only the nexthop over the device (and carries no `dev`).
  if (r.kind === 'route' && r.dev !== undefined) return linkKey(r.namespace, r.dev);
  return undefined;
}

/** Live objects Voltron does not own (foreign or on an ignored link) that a plan's link-down removes. */
export function linkDownCollateral(
  changes: readonly Change[],
  live: ReadonlyMap<string, Resource>,
  ignoredLive: ReadonlyMap<string, Resource>,
  owned: (k: string) => boolean,
): { key: string; text: string; ignored: boolean; r: Resource }[] {
  const writers = downWriters(changes);
  if (writers.size === 0) return [];
  const out: { key: string; text: string; ignored: boolean; r: Resource }[] = [];
  for (const m of [live, ignoredLive]) {
    const isIgnored = m === ignoredLive;
    for (const [k, r] of m) {
      const dev = downedWith(r);
      const w = dev === undefined ? undefined : writers.get(dev);
      if (!w || (!isIgnored && owned(k))) continue;
      out.push({ key: k, text: `${resourceLabel(r)}${isIgnored ? ' [ignored]' : ''} (with ${w.label} set down)`, ignored: isIgnored, r });
    }
  }
  return out;
}
