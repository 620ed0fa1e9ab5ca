// Plan-time checks of the routes a plan writes in the root namespace: whether the kernel will take
// their gateway and preferred source. The config checks (config/check-routes.ts) judge these only
// in Voltron's own namespaces, where the config declares every link and address; the root has
// host links, addresses and routes besides (eth0, DHCP, other daemons), known only from the
// kernel. Here the live root is read and the plan's changes laid over it. Each judgement errs on
// the side of accepting: a false refusal blocks a valid apply, a missed one only rolls back.
import { sourceWhere } from '../config/positions';
import { ptrJoin } from '../config/types';
import { readAddresses } from '../kernel/address';
import { readLinks } from '../kernel/link';
import { readRoutes } from '../kernel/route';
import { readRules } from '../kernel/rule';
import type { KernelSession, NsContext } from '../kernel/session';
import { resourceKey, resourceLabel } from '../model/keys';
import { inCidr, isLinkLocal6 } from '../model/net';
import { gatewayScope, routeScopeOf, type AddressRes, type LinkRes, type Resource, type RouteRes, type RuleRes, type StateMap } from '../model/types';
import type { Change, Inventory, Plan } from '../plan/types';

const RTPROT_KERNEL = 2;
const MAIN = 254;
const DEFAULT = 253;
const LOCAL = 255;

/** A prefix the kernel treats as directly connected on `dev`: an address's, or a device route's. */
interface OnLink {
  readonly dev: string;
  readonly cidr: string;
  readonly table?: number; // a device route's table; an address's prefix is found from every one
  readonly scope?: number; // a device route's; an address's prefix is scope link
}

/** The root namespace of one family as it will be after the plan. */
interface RootL3 {
  readonly up: ReadonlySet<string>; // links that are there and up
  readonly local: ReadonlySet<string>; // addresses on links that are there (up or down)
  readonly onLink: readonly OnLink[];
  /** Tables a full lookup reaches besides the route's own: main, default and any a rule looks up. */
  readonly lookupTables: ReadonlySet<number>;
}

/**
 * Problems of the routes `plan` creates, updates or replaces in the root namespace whose gateway
 * the kernel will not resolve ("Nexthop has invalid gateway", "No route to host") or whose source
 * is no local address ("Invalid prefsrc address"). Not judged when the config ignores links (an
 * ignored uplink may be what reaches a gateway, and its changes are not in the plan).
 */
export function rootRouteProblems(session: KernelSession, plan: Plan, desired: StateMap, inventory: Inventory, ignore: readonly string[]): string[] {
  if (ignore.length > 0) return [];
  const writes = plan.changes.filter((c) => c.action !== 'delete' && isJudged(c.after));
  if (writes.length === 0) return [];
  const out: string[] = [];
  for (const family of [4, 6] as const) {
    const mine = writes.filter((c) => (c.after as RouteRes).family === family);
    if (mine.length === 0) continue;
    const tables = new Set(mine.map((c) => (c.after as RouteRes).table));
    const root = rootAfterPlan(session, plan, desired, inventory, family, tables);
    for (const c of mine) out.push(...routeProblems(c, c.after as RouteRes, root));
  }
  return out;
}

/** A declared unicast route in the root with a gateway or a source: what the kernel checks. */
function isJudged(r: Resource | undefined): r is RouteRes {
  return r?.kind === 'route' && r.namespace === '' && r.type === 'unicast' && r.source !== undefined && (r.via !== undefined || r.src !== undefined);
}

function routeProblems(c: Change, r: RouteRes, root: RootL3): string[] {
  const out: string[] = [];
  const at = (field: string) => `${sourceWhere({ file: r.source!.file, path: ptrJoin(r.source!.path, field) })}: ${ptrJoin(r.source!.path, field)}: ${c.label}`;
  // IPv6 refuses a local gateway on any link (ip6_validate_gw); the config finds only its own addresses.
  if (r.via !== undefined && r.family === 6 && !isLinkLocal6(r.via) && root.local.has(r.via)) {
    out.push(`${at('via')}: gateway '${r.via}' is an address of the root namespace, live or declared, once this plan is applied; the kernel would refuse the route ("Gateway can not be a local address") in the middle of the apply`);
  } else if (r.via !== undefined && !isLinkLocal6(r.via) && !gatewayReachable(root, r)) {
    const on = r.dev === undefined ? '' : ` on '${r.dev}'`;
    const tables = r.table === MAIN ? 'table main' : `table ${r.table} nor main`;
    const why = r.family === 4 ? '"Nexthop has invalid gateway"' : '"No route to host"';
    // The lookup takes only routes narrower than the route's own scope, and at least link (gatewayScope).
    const scoped = r.family === 4 && gatewayScope(r) > 253 ? ` of scope host (the route has scope ${r.scope})` : '';
    out.push(
      `${at('via')}: gateway '${r.via}' is in the subnet of no address nor device route${scoped}${on} (${tables}) on a link that is up in the root namespace, live or declared, once this plan is applied; ` +
        `the kernel would refuse the route (${why}) in the middle of the apply`,
    );
  } else if (r.via !== undefined && r.family === 4 && (root.local.has(r.via) || r.via.startsWith('127.'))) {
    // IPv4 takes a local gateway as a nexthop of scope host, which has no gateway (check-routes.ts, localGateway).
    out.push(
      `${at('via')}: gateway '${r.via}' is an address of the root namespace, live or declared, once this plan is applied: the kernel would take the route but ignore a local gateway ` +
        `(a nexthop of scope host) and send to each destination directly on the route's device, asking ARP for it (over 'lo', nowhere); give the router's address, or declare 'dev' without 'via'`,
    );
  }
  if (r.src !== undefined && !isScoped(r.src) && !root.local.has(r.src)) {
    const why = r.family === 4 ? '"Invalid prefsrc address"' : '"Invalid source address"';
    out.push(`${at('src')}: source '${r.src}' is no address of the root namespace, live or declared, once this plan is applied; the kernel would refuse the route (${why}) in the middle of the apply`);
  }
  return out;
}

/**
 * As the kernel resolves a gateway (fib_check_nh_v4_gw, ip6_route_check_nh): a route without
 * gateway on `dev` (if given) covering it, in the route's table or one a full lookup reaches.
 * A local address needs nothing more: it is in its own address's prefix, and IPv4 takes it only
 * as the kernel finds its local route, on that link (not another `dev`) and if the link is up
 * ("Network is down"). IPv6 refuses it (see routeProblems).
 */
function gatewayReachable(root: RootL3, r: RouteRes): boolean {
  const via = r.via!;
  const need = gatewayScope(r);
  return root.onLink.some(
    (o) => root.up.has(o.dev) && (o.scope ?? 253) >= need && (r.dev === undefined || o.dev === r.dev) && (o.table === undefined || o.table === r.table || root.lookupTables.has(o.table)) && inCidr(via, o.cidr),
  );
}

/** The live root of one family (links, addresses, device routes of `tables` and the lookup tables), with the plan laid over it. */
function rootAfterPlan(session: KernelSession, plan: Plan, desired: StateMap, inventory: Inventory, family: 4 | 6, tables: ReadonlySet<number>): RootL3 {
  const live = session.exists('') ? readRoot(session.ns(''), family, tables) : { links: [], addresses: [], routes: [], rules: [] };
  const declared = [...desired.values()].filter((r) => resourceNamespaceIsRoot(r));
  const lookupTables = new Set([MAIN, DEFAULT, ...ruleTables([...live.rules, ...declared.filter((r): r is RuleRes => r.kind === 'rule' && r.family === family)])]);
  const gone = goneAfterPlan(plan, desired, inventory);
  const stays = (r: Resource) => !gone(r);
  // Links: the live ones the plan leaves, in the state the plan gives them.
  const state = new Map<string, boolean>([['lo', true]]); // Voltron brings lo up in a namespace it creates
  for (const l of live.links) if (stays(l)) state.set(l.name, l.state !== 'down');
  for (const c of plan.changes) {
    const l = c.after;
    if (l?.kind !== 'link' || l.namespace !== '') continue;
    // A link made without a state is up; an update without one leaves it as it is.
    if (l.state !== undefined || c.action !== 'update') state.set(l.name, (l.state ?? 'up') === 'up');
  }
  const there = (dev: string) => state.has(dev);
  const addresses = [...live.addresses.filter(stays), ...declared.filter((r): r is AddressRes => r.kind === 'address' && isFamily(r.address, family))].filter((a) => there(a.dev));
  // A kernel-made route (an address's prefix; a point-to-point address's peer) goes with its address.
  const local = new Set(addresses.map((a) => a.address.slice(0, a.address.indexOf('/'))));
  const kept = (r: RouteRes) => stays(r) && (r.protocol !== RTPROT_KERNEL || (r.src !== undefined ? local.has(r.src) : addresses.some((a) => a.dev === r.dev)));
  const devRoutes = [...live.routes.filter(kept), ...declared.filter((r): r is RouteRes => r.kind === 'route' && r.family === family)].filter(
    (r) => r.type === 'unicast' && r.via === undefined && r.dev !== undefined && there(r.dev),
  );
  return {
    up: new Set([...state].filter(([, up]) => up).map(([name]) => name)),
    local,
    onLink: [
      { dev: 'lo', cidr: family === 4 ? '127.0.0.0/8' : '::1/128' },
      ...addresses.map((a) => ({ dev: a.dev, cidr: a.address })),
      ...devRoutes.map((r) => ({ dev: r.dev!, cidr: r.to, table: r.table, scope: routeScopeOf(r) })),
    ],
    lookupTables,
  };
}

function readRoot(ctx: NsContext, family: 4 | 6, tables: ReadonlySet<number>): { links: LinkRes[]; addresses: AddressRes[]; routes: RouteRes[]; rules: RuleRes[] } {
  const raw = readLinks(ctx);
  const names = new Map(raw.map((l) => [l.index, l.name]));
  const rules = readRules(ctx, family);
  // Only the tables a gateway lookup can reach: the root's main table may be a full BGP table.
  const reach = [...new Set([...tables, MAIN, DEFAULT, ...ruleTables(rules)])].sort((a, b) => a - b);
  return {
    links: raw.map((l) => l.res),
    addresses: readAddresses(ctx, names, family).map((a) => a.res),
    routes: readRoutes(ctx, names, undefined, reach, family),
    rules,
  };
}

/** Tables a rule sends lookups to (the local table holds only local and broadcast routes). */
function ruleTables(rules: readonly RuleRes[]): number[] {
  return rules.flatMap((r) => (r.action === 'lookup' && r.table !== undefined && r.table !== LOCAL ? [r.table] : []));
}

/** Whether a live object is gone after the plan: deleted by it, or by the kernel with something it deletes or replaces. */
function goneAfterPlan(plan: Plan, desired: StateMap, inventory: Inventory): (r: Resource) => boolean {
  const deleted = new Set(plan.changes.filter((c) => c.action === 'delete').map((c) => c.key));
  const removed = plan.foreignRemoved ?? [];
  const goneLinks = new Set(
    plan.changes.flatMap((c) => (c.before?.kind === 'link' && c.before.namespace === '' && (c.action === 'delete' || c.action === 'replace') ? [c.before.name] : [])),
  );
  return (r) => {
    const key = resourceKey(r);
    // Owned and no longer declared: deleted, or folded into a delete the kernel does it with.
    if (deleted.has(key) || (inventory.owned[key] !== undefined && !desired.has(key))) return true;
    if (removed.some((x) => x.startsWith(`${resourceLabel(r)} (`))) return true;
    // A link replaced or deleted takes its addresses and routes (the declared ones come back).
    const held = r.kind === 'address' || r.kind === 'route' ? r : undefined;
    return held?.dev !== undefined && held.namespace === '' && goneLinks.has(held.dev);
  };
}

function resourceNamespaceIsRoot(r: Resource): boolean {
  return (r.kind === 'link' || r.kind === 'address' || r.kind === 'route' || r.kind === 'rule') && r.namespace === '';
}

function isFamily(cidr: string, family: 4 | 6): boolean {
  return cidr.includes(':') === (family === 6);
}

/** IPv6 link-local and loopback sources, IPv4 127/8: judged by the config checks, or always local. */
function isScoped(ip: string): boolean {
  return ip.startsWith('127.') || ip === '::1' || isLinkLocal6(ip);
}
