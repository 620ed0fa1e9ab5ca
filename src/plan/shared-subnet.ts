// One subnet on two links of a namespace. The kernel takes both addresses and adds a connected
// route for each, under one key (IPv4: table main, metric 0; IPv6: metric 256), and sends to the
// subnet through the first one only (measured: a host of the subnet on the other link gets no
// ARP or neighbour solicitation, nothing reaches it; which link is first follows the order the
// addresses came, so a link flap can swap them). Legitimate at times (more specific routes
// steer hosts to the second link; one segment behind both), so a warning, not a refusal.
import { nsLabel } from '../model/keys';
import { isLinkLocal6, networkOf } from '../model/net';
import type { AddressRes, LinkRes, StateMap } from '../model/types';
import { linkKey } from './refs';

interface Holder {
  readonly dev: string;
  readonly address: string;
}

/**
 * One line per namespace and subnet held on two links or more once the plan is applied: the
 * declared addresses and the live ones that stay (foreign). Not a host address (/32, /128), an
 * IPv6 link-local one, one on `lo`, on a link declared (or live) down, on a port of a master (a
 * VRF puts its routes in another table), nor one without a prefix route (`noprefixroute`, a
 * peer); links of one segment (a macvlan and its parent, a veth's two ends) do not count twice.
 * A pass over the addresses; links are looked at only for a subnet found twice.
 */
export function sharedSubnets(desired: StateMap, kernel: StateMap, stays: (key: string) => boolean): string[] {
  const byNet = new Map<string, Holder[]>();
  let shared = false;
  const add = (a: AddressRes): void => {
    if (a.dev === 'lo' || a.unmodelled !== undefined) return;
    const net = networkOf(a.address);
    if (net === undefined || net.endsWith('/32') || net.endsWith('/128') || isLinkLocal6(a.address)) return;
    const k = `${a.namespace}|${net}`;
    const l = byNet.get(k);
    if (l === undefined) byNet.set(k, [{ dev: a.dev, address: a.address }]);
    else if (!l.some((h) => h.dev === a.dev)) {
      l.push({ dev: a.dev, address: a.address });
      shared = true;
    }
  };
  for (const r of desired.values()) if (r.kind === 'address') add(r);
  for (const [k, r] of kernel) if (r.kind === 'address' && !desired.has(k) && stays(k)) add(r);
  // Nearly every config: each subnet on one link, no link looked at.
  if (!shared) return [];
  const link = (ns: string, name: string) => (desired.get(linkKey(ns, name)) ?? kernel.get(linkKey(ns, name))) as LinkRes | undefined;
  const out: string[] = [];
  for (const [k, holders] of [...byNet].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    if (holders.length < 2) continue;
    const ns = k.slice(0, k.indexOf('|'));
    const net = k.slice(k.indexOf('|') + 1);
    const live = holders.filter((h) => {
      const l = link(ns, h.dev);
      return l === undefined || (l.state !== 'down' && l.master === undefined);
    });
    // Links of one segment reach the same hosts: one of them stands for the others.
    const distinct = live.filter((h, i) => !live.slice(0, i).some((e) => sameSegment(link(ns, h.dev), link(ns, e.dev))));
    if (distinct.length < 2) continue;
    const named = distinct.map((h) => `'${h.dev}' (${h.address})`).join(', ');
    out.push(
      `namespace ${nsLabel(ns)}: subnet ${net} is on ${named}: the kernel adds a connected route for each but sends to the subnet through the first one only ` +
        `(the one whose address came first; a link flap can swap them), so hosts of the subnet on the other link${distinct.length > 2 ? 's' : ''} are not reached from ${nsLabel(ns)}. ` +
        `Give each link its own subnet (or declare routes to those hosts over their link)`,
    );
  }
  return out;
}

/** A macvlan and its parent, or the two ends of a veth, in one namespace. */
function sameSegment(a: LinkRes | undefined, b: LinkRes | undefined): boolean {
  if (a === undefined || b === undefined) return false;
  const joined = (x: LinkRes, y: LinkRes) => x.macvlan?.parent === y.name || (x.veth?.peer.name === y.name && x.veth.peer.namespace === y.namespace);
  return joined(a, b) || joined(b, a);
}
