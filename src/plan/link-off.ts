// A live link a plan sets down, or gives an MTU below IPv6's minimum, takes objects with it
// (measured on this kernel, with the default keep_addr_on_down 0): down removes every IPv4
// route whose nexthop is the link, in every table and of any protocol (its IPv4 addresses
// stay), and the link's IPv6 addresses and every IPv6 route through it; an MTU below 1280 turns
// IPv6 off on the link, removing the IPv6 ones. Validation refuses declaring such objects there;
// objects Voltron does not own are named in the plan's warning, not counted as "untouched".
import { resourceLabel } from '../model/keys';
import { inCidr } from '../model/net';
import type { AddressRes, LinkRes, Resource, RouteRes } from '../model/types';
import { linkKey } from './refs';
import type { Change } from './types';

const IPV6_MIN_MTU = 1280;

/** What a change does to the link it updates: sets it down, turns its IPv6 off, or neither. */
export function linkOffEffect(c: Change): 'down' | 'ipv6-off' | undefined {
  if (c.kind !== 'link' || c.action !== 'update') return undefined;
  const before = c.before as LinkRes | undefined;
  const after = c.after as LinkRes | undefined;
  if (!before || !after) return undefined;
  if (before.state !== 'down' && after.state === 'down') return 'down';
  if (after.mtu !== undefined && after.mtu < IPV6_MIN_MTU && (before.mtu === undefined || before.mtu >= IPV6_MIN_MTU)) return 'ipv6-off';
  return undefined;
}

/** The link a live route goes through: its own device, else the one whose address covers its gateway. */
function routeLink(r: RouteRes, addrs: readonly AddressRes[]): string | undefined {
  if (r.dev !== undefined) return r.dev;
  if (r.type !== 'unicast' || r.via === undefined) return undefined;
  return addrs.find((a) => a.namespace === r.namespace && a.address.includes(':') === r.via!.includes(':') && inCidr(r.via!, a.address))?.dev;
}

/** Live objects Voltron does not own that the kernel removes when the plan's updates take links off. */
export function linkOffCollateral(changes: readonly Change[], live: ReadonlyMap<string, Resource>, owned: (k: string) => boolean): { key: string; text: string; ignored: boolean; r: Resource }[] {
  const off = new Map<string, { effect: 'down' | 'ipv6-off'; label: string }>();
  for (const c of changes) {
    const effect = linkOffEffect(c);
    const l = c.after as LinkRes;
    if (effect) off.set(linkKey(l.namespace, l.name), { effect, label: c.label });
  }
  if (off.size === 0) return [];
  const addrs = [...live.values()].filter((r): r is AddressRes => r.kind === 'address');
  const out: { key: string; text: string; ignored: boolean; r: Resource }[] = [];
  for (const [k, r] of live) {
    if ((r.kind !== 'address' && r.kind !== 'route') || owned(k)) continue;
    const v6 = r.kind === 'address' ? r.address.includes(':') : r.family === 6;
    if (r.kind === 'address' && !v6) continue; // IPv4 addresses stay on a link that goes down
    const dev = r.kind === 'address' ? r.dev : routeLink(r, addrs);
    const by = dev === undefined ? undefined : off.get(linkKey(r.namespace, dev));
    if (!by || (!v6 && by.effect !== 'down')) continue;
    out.push({ key: k, text: `${resourceLabel(r)} (with ${by.label}, ${by.effect === 'down' ? 'set down' : 'IPv6 off below mtu 1280'})`, ignored: false, r });
  }
  return out;
}
