// Route checks that need the whole config: whether the kernel can resolve a route's gateway,
// source and device at the moment Voltron adds it. Each one it would refuse mid-apply
// (ENETUNREACH "Nexthop has invalid gateway", EINVAL "Invalid prefsrc address", "Egress device
// not specified", ENETDOWN "Device for nexthop is not up") is reported here instead.
import { nsLabel } from '../model/keys';
import { inCidr, ipFamily, isLinkLocal6, networkOf, parseCidr } from '../model/net';
import { gatewayScope, routeScopeOf, type AddressRes, type LinkRes, type RouteRes } from '../model/types';
import type { Ctx } from './ctx';
import { ptrJoin } from './types';

/** A prefix the kernel treats as directly connected on `dev` (scope link). */
interface OnLink {
  readonly dev: string;
  readonly cidr: string;
  readonly table?: number; // a device route's table (an address's prefix is in every lookup)
  readonly scope?: number; // a device route's declared scope; an address's prefix is scope link
}

/** Per namespace: connected prefixes and local addresses the config makes. */
interface NsL3 {
  readonly onLink: OnLink[];
  readonly local: Set<string>;
  readonly devsOf: Map<string, string[]>; // local address → the links holding it
  readonly broadcast: Set<string>; // IPv4 subnet broadcasts (the kernel's local table has them)
}

// Every namespace has lo up with these (the kernel's own; Voltron brings lo up).
const LO: readonly OnLink[] = [
  { dev: 'lo', cidr: '127.0.0.0/8' },
  { dev: 'lo', cidr: '::1/128' },
];

/** `ignoring`: the config ignores some objects, which may be what makes a gateway reachable. */
export function checkRoutes(ctx: Ctx, links: readonly LinkRes[], addresses: readonly AddressRes[], declared: readonly RouteRes[], ignoring = false): void {
  const down = new Set(links.filter((l) => l.state === 'down').map((l) => `${l.namespace}/${l.name}`));
  // A route with an error of its own (e.g. a via of the wrong family) is not judged again.
  const entryOf = (file: string, ptr: string): string => `${file}\0${ptr.split('/').slice(0, 3).join('/')}`;
  const flawed = new Set(ctx.errors.map((e) => entryOf(e.file, e.path)));
  const fine = declared.filter((r) => r.source === undefined || !flawed.has(entryOf(r.source.file, r.source.path)));
  // A route over a bridge port is judged no further: its gateway would be unreachable there too.
  const onPort = routesOnPorts(ctx, links, fine);
  const routes = onPort.size === 0 ? fine : fine.filter((r) => !onPort.has(r));
  for (const r of routes) {
    if (r.dev !== undefined && down.has(`${r.namespace}/${r.dev}`))
      report(ctx, r, 'dev', `link '${r.dev}' is declared 'state: down': the kernel refuses a route over a link that is down`);
    if (r.via !== undefined && isLinkLocal6(r.via) && r.dev === undefined)
      report(ctx, r, 'via', `link-local gateway '${r.via}' needs 'dev' (the kernel cannot tell which link it is on)`);
  }
  // Gateways and sources are checked only where the config declares every link and address:
  // in Voltron's own namespaces. The root namespace has host devices and addresses it does not
  // manage. A config with errors in links, addresses or routes is not complete enough to judge,
  // nor one that ignores objects (an ignored, DHCP-run uplink may be what reaches a gateway).
  // Everything below judges routes: with none, skip indexing every address (3000 at times).
  if (routes.length === 0 || incomplete(ctx)) return;
  prefixRouteClashes(ctx, addresses, routes, down);
  if (ignoring) return;
  const l3 = l3ByNamespace(addresses, declared, down);
  for (const r of routes) {
    if (r.source === undefined) continue;
    if (r.namespace === '') {
      // The root has undeclared addresses too, but a declared one is surely local there.
      if (r.via !== undefined) localGateway(ctx, l3.get('') ?? emptyNs(), r);
      continue;
    }
    const ns = l3.get(r.namespace) ?? emptyNs();
    if (r.via !== undefined && !isLinkLocal6(r.via) && !reachable(ns, r)) {
      const on = r.dev === undefined ? '' : ` on '${r.dev}'`;
      const need = gatewayScope(r);
      const scoped = need > 253 ? ' of scope host (the route has scope link or narrower)' : ` of scope link or host`;
      const any = ns.onLink.some((o) => (r.dev === undefined || o.dev === r.dev) && inCidr(r.via!, o.cidr));
      const what = any ? `is in the subnet of no address or device route${scoped}` : 'is not in the subnet of any address or device route';
      report(ctx, r, 'via', `gateway '${r.via}' ${what} declared${on} in namespace ${nsLabel(r.namespace)} (the kernel refuses it: "Nexthop has invalid gateway")`);
    } else if (r.via !== undefined) badGateway(ctx, ns, r);
    if (r.src !== undefined && !ns.local.has(r.src) && !isLoopback(r.src))
      report(ctx, r, 'src', `source '${r.src}' is not an address declared in namespace ${nsLabel(r.namespace)} (the kernel refuses it as a route's preferred source)`);
    else if (r.src !== undefined && ipFamily(r.src) === 6 && isScoped6(r.src) && !scopedSrcOnDev(ns, r))
      report(ctx, r, 'src', `source '${r.src}' is link-local or loopback: it must be an address of the route's device${r.dev === undefined ? " (set 'dev')" : ` '${r.dev}'`} (the kernel refuses it: "Invalid source address")`);
  }
}

/**
 * Refuses a route out of a bridge port (a link with `master`), as an address on one is refused
 * (checkAddressesOnPorts): the kernel takes it, but the bridge takes every frame the port
 * receives, so the port never resolves a neighbour (ARP and neighbour replies go up the bridge)
 * and nothing goes out (measured, IPv4 and IPv6). Not an encap route: seg6 looks its packets up
 * again, and a seg6local route's device does not carry them. One lookup per route with `dev`.
 */
function routesOnPorts(ctx: Ctx, links: readonly LinkRes[], routes: readonly RouteRes[]): Set<RouteRes> {
  const out = new Set<RouteRes>();
  const ports = new Map<string, Map<string, LinkRes>>(); // namespace → name → port
  for (const l of links) {
    if (l.master === undefined || l.state === 'down') continue;
    let m = ports.get(l.namespace);
    if (!m) ports.set(l.namespace, (m = new Map()));
    m.set(l.name, l);
  }
  if (ports.size === 0) return out;
  for (const r of routes) {
    const p = r.dev === undefined || r.encap !== undefined ? undefined : ports.get(r.namespace)?.get(r.dev);
    if (p === undefined || r.source === undefined) continue;
    out.add(r);
    const at = p.source ? ` (master declared at ${fieldWhere(ctx, p.source.file, ptrJoin(p.source.path, 'master'))})` : '';
    report(
      ctx,
      r,
      'dev',
      `'${r.dev}' is a port of bridge '${p.master}' in namespace ${nsLabel(r.namespace)}${at}: the kernel takes the route, but the bridge takes every frame the port receives (ARP and neighbour replies), so the port never resolves ${r.via === undefined ? 'a destination' : `gateway '${r.via}'`} and nothing goes out; route over '${p.master}'`,
    );
  }
  return out;
}

/**
 * A declared route at the key of the prefix route the kernel adds itself for a declared address
 * (table main; metric 0 for IPv4, 256 for IPv6): the kernel refuses ours (EEXIST) once the address
 * is there, whatever its type or device. Judged in every namespace: the address is declared.
 */
function prefixRouteClashes(ctx: Ctx, addresses: readonly AddressRes[], routes: readonly RouteRes[], down: ReadonlySet<string>): void {
  const prefixes = new Map<string, AddressRes>(); // namespace + prefix + metric → the address making it
  for (const a of addresses) {
    const key = kernelPrefixRoute(a, down);
    if (key !== undefined && !prefixes.has(key)) prefixes.set(key, a);
  }
  for (const r of routes) {
    const a = r.table === 254 ? prefixes.get(`${r.namespace}|${r.to}|${r.metric}`) : undefined;
    if (a !== undefined)
      report(ctx, r, 'to', `the kernel adds this route itself (table main, metric ${r.metric}) for address ${a.address} on '${a.dev}' in namespace ${nsLabel(r.namespace)}, and refuses a second one (EEXIST): leave it out, or give it another metric or table`);
  }
}

/**
 * The key (namespace, prefix, metric) of the prefix route the kernel adds for an address, if
 * any: IPv4 (fib_add_ifaddr) only on a link that is up, not for a /32 nor a prefix 0.0.0.0, metric 0;
 * IPv6 (addrconf_prefix_route) for every prefix length, metric 256.
 */
function kernelPrefixRoute(a: AddressRes, down: ReadonlySet<string>): string | undefined {
  const net = networkOf(a.address);
  if (net === undefined) return undefined;
  if (net.includes(':')) return `${a.namespace}|${net}|256`; // canonical: only IPv6 has ':'
  if (down.has(`${a.namespace}/${a.dev}`) || net.endsWith('/32') || net.startsWith('0.0.0.0/')) return undefined;
  return `${a.namespace}|${net}|0`;
}

/**
 * A gateway the kernel refuses although it lies in a connected prefix: an IPv4 subnet broadcast
 * (found in the local table, unless the route's own table has a device route for it); and one
 * that is an address of this namespace (localGateway).
 */
function badGateway(ctx: Ctx, ns: NsL3, r: RouteRes): void {
  const via = r.via!;
  if (ipFamily(via) === 4) {
    const ownRoute = r.table !== 254 && ns.onLink.some((o) => o.table === r.table && (r.dev === undefined || o.dev === r.dev) && inCidr(via, o.cidr));
    if (ns.broadcast.has(via) && !ownRoute) {
      report(ctx, r, 'via', `gateway '${via}' is the broadcast address of a subnet declared in namespace ${nsLabel(r.namespace)} (the kernel refuses it: "Nexthop has invalid gateway")`);
      return;
    }
  }
  localGateway(ctx, ns, r);
}

/**
 * A gateway that is a declared address of the route's namespace. IPv6 refuses it ("Gateway can
 * not be a local address"; a link-local one only on `dev`). IPv4 takes it, but as a nexthop of
 * scope host, which has no gateway: the route sends to each destination directly on its device,
 * resolving it by ARP (measured: a host behind the router the route meant is never reached;
 * over `lo`, nothing goes anywhere). The route does what its `via` does not say: refused too.
 */
function localGateway(ctx: Ctx, ns: NsL3, r: RouteRes): void {
  const via = r.via!;
  const devs = via.startsWith('127.') ? ['lo'] : (ns.devsOf.get(via) ?? []);
  if (ipFamily(via) === 6) {
    if (isLinkLocal6(via) ? r.dev !== undefined && devs.includes(r.dev) : devs.length > 0)
      report(ctx, r, 'via', `gateway '${via}' is an address declared in namespace ${nsLabel(r.namespace)} on '${devs[0]}' (the kernel refuses it: "Gateway can not be a local address")`);
    return;
  }
  if (devs.length === 0) return;
  const dev = r.dev ?? devs[0]!;
  const does =
    dev === 'lo'
      ? `sends everything to 'lo', where it goes nowhere: give the router's address`
      : `sends to each destination directly on '${dev}', asking ARP for it, so nothing behind a router gets through: give the router's address (or, for destinations on that link, 'dev: ${dev}' without 'via')`;
  const what = via.startsWith('127.') ? 'a loopback address' : `an address declared in namespace ${nsLabel(r.namespace)} on '${devs[0]}'`;
  report(ctx, r, 'via', `gateway '${via}' is ${what}: the kernel takes the route but ignores a local gateway (a nexthop of scope host) and ${does}`);
}

/** A scoped IPv6 source must be on the device the route goes out of (ipv6_chk_addr with that device). */
function scopedSrcOnDev(ns: NsL3, r: RouteRes): boolean {
  const devs = r.src === '::1' ? ['lo'] : (ns.devsOf.get(r.src!) ?? []);
  if (r.dev !== undefined) return devs.includes(r.dev);
  // Without a dev the kernel takes the device of the gateway's prefix.
  return r.via !== undefined && ns.onLink.some((o) => devs.includes(o.dev) && inCidr(r.via!, o.cidr));
}

/** `file:line:col /path` of a declared field. */
function fieldWhere(ctx: Ctx, file: string, path: string): string {
  const p = ctx.pos(file, path);
  return `${file}:${p.line}:${p.column} ${path}`;
}

function emptyNs(): NsL3 {
  return { onLink: [...LO], local: new Set(), devsOf: new Map(), broadcast: new Set() };
}

function report(ctx: Ctx, r: RouteRes, field: string, message: string): void {
  const s = r.source!;
  const path = ptrJoin(s.path, field);
  ctx.errors.push({ file: s.file, ...ctx.pos(s.file, path), path, message });
}

function incomplete(ctx: Ctx): boolean {
  const p = ctx.poison;
  if (p.all || ['links', 'addresses', 'routes'].some((k) => p.kinds.has(k) || (p.names.get(k)?.size ?? 0) > 0)) return true;
  return ctx.errors.some((e) => /^\/(links|addresses)\//.test(e.path) || /^\/routes\/\d+\/to$/.test(e.path));
}

function l3ByNamespace(addresses: readonly AddressRes[], routes: readonly RouteRes[], down: ReadonlySet<string>): Map<string, NsL3> {
  const out = new Map<string, NsL3>();
  const get = (ns: string): NsL3 => {
    let v = out.get(ns);
    if (!v) out.set(ns, (v = emptyNs()));
    return v;
  };
  for (const a of addresses) {
    const ns = get(a.namespace);
    const ip = a.address.slice(0, a.address.indexOf('/'));
    ns.local.add(ip);
    const devs = ns.devsOf.get(ip);
    if (devs) devs.push(a.dev);
    else ns.devsOf.set(ip, [a.dev]);
    // A link that is down has its local address but no connected prefix.
    if (down.has(`${a.namespace}/${a.dev}`)) continue;
    ns.onLink.push({ dev: a.dev, cidr: a.address });
    const b = subnetBroadcast(a.address);
    if (b !== undefined) ns.broadcast.add(b);
  }
  // A unicast route with a device and no gateway makes its prefix reachable on that device
  // (in any table: the kernel also looks a gateway up in the route's own table).
  for (const r of routes)
    if (r.type === 'unicast' && r.via === undefined && r.dev !== undefined && !down.has(`${r.namespace}/${r.dev}`))
      get(r.namespace).onLink.push({ dev: r.dev, cidr: r.to, table: r.table, scope: routeScopeOf(r) });
  return out;
}

function reachable(ns: NsL3, r: RouteRes): boolean {
  const need = gatewayScope(r);
  return ns.onLink.some((o) => (r.dev === undefined || o.dev === r.dev) && (o.scope ?? 253) >= need && inCidr(r.via!, o.cidr));
}

/** 127/8 and ::1 are local in every namespace (lo). */
function isLoopback(ip: string): boolean {
  return ip.startsWith('127.') || ip === '::1';
}

/** The broadcast route the kernel adds for an IPv4 address with a prefix shorter than /31. */
function subnetBroadcast(cidr: string): string | undefined {
  const c = parseCidr(cidr);
  if (!c || c.family !== 4 || c.prefix >= 31) return undefined;
  const n = c.addr.split('.').reduce((acc, o) => acc * 256 + Number(o), 0);
  const host = 2 ** (32 - c.prefix) - 1;
  const b = n - (n % (host + 1)) + host;
  return [24, 16, 8, 0].map((s) => Math.floor(b / 2 ** s) % 256).join('.');
}

/** ::1 and fe80::/10: host and link scope, valid only on their own device. */
function isScoped6(ip: string): boolean {
  return ip === '::1' || isLinkLocal6(ip);
}
