// A route with a gateway and no `dev` goes over the link the kernel found the gateway on when the
// route was added (fib_check_nh_v4_gw, ip6_route_check_nh): the kernel never looks it up again.
// When the address (or device route) that puts the gateway on-link moves to another link, an
// IPv6 route stays on the old link (an IPv6 address delete removes no route through it), and so
// does an IPv4 route while the old link keeps another IPv4 address: the route reads as in sync,
// but its traffic goes out of a link the gateway is no longer on. A fresh apply of the same
// config would put it on the new link, so the plan writes it again (a replace without `dev`
// makes the kernel look the gateway up afresh, after the namespace's address changes).
// Judged only where the config declares every address: Voltron's own namespaces, no `ignore`.
import { isLinkLocal6, networkOf } from '../model/net';
import type { Resource, RouteRes } from '../model/types';
import type { Draft } from './drafts';

/** Per namespace and family: prefix length → network → the links it is on-link on. */
type OnLinkIndex = Map<string, Map<number, Map<string, Set<string>>>>;

function addOnLink(index: OnLinkIndex, ns: string, cidr: string, dev: string): void {
  const net = networkOf(cidr);
  if (net === undefined) return;
  const slash = net.indexOf('/');
  const key = `${ns}|${net.includes(':') ? 6 : 4}`;
  let byLen = index.get(key);
  if (!byLen) index.set(key, (byLen = new Map()));
  const len = Number(net.slice(slash + 1));
  let nets = byLen.get(len);
  if (!nets) byLen.set(len, (nets = new Map()));
  const devs = nets.get(net);
  if (devs) devs.add(dev);
  else nets.set(net, new Set([dev]));
}

/** Declared connected prefixes: addresses', and those of unicast routes with a dev and no gateway. */
function onLinkIndex(desired: ReadonlyMap<string, Resource>): OnLinkIndex {
  const index: OnLinkIndex = new Map();
  for (const r of desired.values()) {
    if (r.kind === 'address' && r.namespace !== '') addOnLink(index, r.namespace, r.address, r.dev);
    else if (r.kind === 'route' && r.namespace !== '' && r.type === 'unicast' && r.via === undefined && r.dev !== undefined) addOnLink(index, r.namespace, r.to, r.dev);
  }
  return index;
}

/** The links whose declared prefixes hold the route's gateway (empty: not judged). */
function gatewayLinks(index: OnLinkIndex, r: RouteRes): Set<string> {
  const out = new Set<string>();
  const byLen = index.get(`${r.namespace}|${r.family}`);
  if (!byLen) return out;
  for (const [len, nets] of byLen) {
    const net = networkOf(`${r.via}/${len}`);
    for (const dev of (net !== undefined && nets.get(net)) || []) out.add(dev);
  }
  return out;
}

/** Writes again the declared routes (gateway, no dev) live on a link their gateway is no longer declared on-link on. */
export function reresolveGateways(drafts: Map<string, Draft>, desired: ReadonlyMap<string, Resource>, current: ReadonlyMap<string, Resource>, ignoring: boolean): void {
  if (ignoring) return;
  let index: OnLinkIndex | undefined;
  for (const [key, d] of desired) {
    if (d.kind !== 'route' || d.namespace === '' || d.via === undefined || d.dev !== undefined || d.type !== 'unicast' || isLinkLocal6(d.via)) continue;
    // A route the plan writes anyway is written without dev: the kernel looks the gateway up then.
    if (drafts.has(key)) continue;
    const live = current.get(key);
    if (live?.kind !== 'route' || live.dev === undefined || live.unmodelled !== undefined || live.via !== d.via) continue;
    index ??= onLinkIndex(desired);
    const links = gatewayLinks(index, d);
    if (links.size === 0 || links.has(live.dev)) continue;
    const on = [...links].sort();
    drafts.set(key, {
      action: 'update',
      key,
      kind: 'route',
      before: live,
      after: d,
      fields: [{ field: 'dev', before: live.dev, after: on.join(' or ') }],
      reason: `gateway ${d.via} is on-link on ${on.join(' or ')} now, not on ${live.dev}, where the kernel keeps the route: written again for the kernel to look the gateway up anew`,
      disruptive: false,
    });
  }
}
