// addresses, routes (incl. seg6/seg6local encap and srv6 pool references) and rules.
import { canonicalCidr, canonicalIp, ipFamily, isMulticastIp, isUnspecifiedIp, networkOf, parseCidr, whyNotCidr, whyNotIp, type IpFamily } from '../model/net';
import { defaultRouteScope, routeScopeName, routeScopeNumber, type AddressRes, type RouteEncap, type RouteRes, type RouteScope, type RouteType, type RuleRes, type Seg6LocalAction, type Seg6LocalEncap, type SrhPool } from '../model/types';
import { TABLE_NAMES, hostCidr, looksLikeAddress, nsOf, routeDest, routeMetric, ruleFamily, tableNumber } from './common';
import { compact, type Ctx } from './ctx';
import { isPoisoned } from './merge';
import { segmentList, seg6Mtu } from './norm-srv6';
import type { Entry, Raw } from './types';

export function normaliseAddresses(ctx: Ctx, entries: readonly Entry[]): AddressRes[] {
  const out: AddressRes[] = [];
  for (const e of entries) {
    const v = e.value;
    const ns = nsOf(v);
    ctx.nsRef(ns, e, 'namespace');
    ctx.devRef(ns, v.dev, e, 'dev', 'address dev');
    const cidr = canonicalCidr(v.address);
    if (!cidr) {
      const why = ipFamily(v.address) ? 'expected ip/prefix (add a prefix length, e.g. /24)' : whyNotCidr(v.address);
      ctx.err(e, 'address', `bad address '${v.address}': ${why}`);
      continue;
    }
    const why = unassignable(cidr, v.dev);
    if (why) {
      ctx.err(e, 'address', why);
      continue;
    }
    if (ipFamily(cidr.slice(0, cidr.indexOf('/'))) === 6) {
      ctx.ipv6Dev(ns, v.dev, e, 'dev');
      ctx.ipv6AddressUp(ns, v.dev, e, 'dev');
    }
    out.push({ kind: 'address', namespace: ns, dev: v.dev, address: cidr, source: ctx.source(e) });
  }
  return out;
}

/** Why the kernel would refuse (or silently drop) an interface address, if it would. */
function unassignable(cidr: string, dev: string): string | undefined {
  const ip = cidr.slice(0, cidr.indexOf('/'));
  if (isUnspecifiedIp(ip)) return `'${ip}' is the unspecified address: it cannot be assigned to an interface`;
  if (ipFamily(ip) === 6 && isMulticastIp(ip)) return `IPv6 multicast address '${ip}' cannot be assigned to an interface (the kernel refuses it)`;
  if (ip === '::1' && dev !== 'lo') return `'::1' can only be assigned to lo (the kernel refuses it on other devices)`;
  // lo has these in every namespace from the moment it is up: adding them again fails (EEXIST).
  if (dev === 'lo' && (cidr === '127.0.0.1/8' || cidr === '::1/128')) return `'${cidr}' is the kernel's own address on lo (every namespace has it): omit it`;
  return undefined;
}

/** Parameters each seg6local action needs (all others are rejected). */
const LOCAL_PARAMS: Record<Seg6LocalAction, { need: string[]; allow: string[] }> = {
  End: { need: [], allow: [] },
  'End.X': { need: ['nh6'], allow: ['nh6'] },
  'End.T': { need: ['table'], allow: ['table'] },
  'End.DX2': { need: ['oif'], allow: ['oif'] },
  'End.DX4': { need: ['nh4'], allow: ['nh4'] },
  'End.DX6': { need: ['nh6'], allow: ['nh6'] },
  'End.DT4': { need: ['vrf_table'], allow: ['vrf_table'] },
  'End.DT6': { need: [], allow: ['table', 'vrf_table'] },
  'End.DT46': { need: ['vrf_table'], allow: ['vrf_table'] },
  'End.B6': { need: ['segments'], allow: ['segments'] },
  'End.B6.Encaps': { need: ['segments'], allow: ['segments'] },
};
const LOCAL_KEYS = ['nh4', 'nh6', 'table', 'vrf_table', 'oif', 'segments'];

const TABLE_LOCAL = TABLE_NAMES.local;

export function normaliseRoutes(ctx: Ctx, entries: readonly Entry[], pools: ReadonlyMap<string, SrhPool>): RouteRes[] {
  const out: RouteRes[] = [];
  for (const e of entries) {
    const v = e.value;
    const ns = nsOf(v);
    ctx.nsRef(ns, e, 'namespace');
    const d = routeDest(v);
    if ('error' in d) {
      ctx.err(e, 'to', d.error);
      continue;
    }
    const family = d.family;
    const famWord = `IPv${family}`;
    if (v.family !== undefined && v.family !== family) ctx.err(e, 'family', `family ${v.family} does not match destination '${v.to}' (${famWord})`);
    const ip = (k: 'via' | 'src'): string | undefined => {
      if (v[k] === undefined) return undefined;
      const a = canonicalIp(v[k]);
      if (!a) ctx.err(e, k, `bad IP address '${v[k]}': ${whyNotIp(v[k])}`);
      else if (ipFamily(a) !== family) ctx.err(e, k, `${k} '${a}' is IPv${ipFamily(a)} but the route is ${famWord}`);
      // The kernel stores an unspecified gateway/source as none (or refuses it): omit it instead.
      else if (isUnspecifiedIp(a)) ctx.err(e, k, `${k} '${a}' is the unspecified address: omit '${k}'`);
      return a;
    };
    const via = ip('via');
    const src = ip('src');
    const type = v.type ?? 'unicast';
    if (type !== 'unicast') {
      for (const k of ['via', 'dev', 'encap', 'srv6', 'src'])
        if (v[k] !== undefined) ctx.err(e, k, `'${k}' is not valid for a ${type} route`, true);
    } else if (v.via === undefined && v.dev === undefined && v.encap?.type !== 'seg6local') {
      ctx.err(e, '', `a unicast route needs 'via' or 'dev'`);
    }
    if (v.dev !== undefined && ctx.devRef(ns, v.dev, e, 'dev', 'route dev') && family === 6) ctx.ipv6Dev(ns, v.dev, e, 'dev');
    if (v.encap !== undefined && v.srv6 !== undefined) ctx.err(e, 'srv6', `'srv6' conflicts with 'encap'`, true);

    let encap: RouteEncap | undefined;
    let poolRef: RouteRes['poolRef'];
    let mtu: number | undefined = v.mtu;
    if (v.srv6 !== undefined && v.encap === undefined) {
      const pool = pools.get(v.srv6.pool);
      const path = pool?.paths.find((p) => p.name === v.srv6.path);
      if (!pool) {
        if (!isPoisoned(ctx.poison, 'pools', v.srv6.pool)) ctx.err(e, 'srv6/pool', `srv6 pool '${v.srv6.pool}' is not declared`);
      } else if (!path) {
        ctx.err(e, 'srv6/path', `srv6 pool '${v.srv6.pool}' has no path '${v.srv6.path}'`);
      } else {
        encap = { type: 'seg6', mode: v.srv6.mode ?? 'encap', segments: path.segments };
        poolRef = { pool: pool.name, path: path.name };
        mtu ??= path.mtu ?? seg6Mtu(path.segments.length);
      }
      seg6Checks(ctx, e, 'srv6', family, via, v.srv6.mode);
    } else if (v.encap?.type === 'seg6') {
      for (const k of ['action', ...LOCAL_KEYS.filter((x) => x !== 'segments')])
        if (v.encap[k] !== undefined) ctx.err(e, `encap/${k}`, `'${k}' is only valid with encap type seg6local`, true);
      const segments = segmentList(ctx, e, 'encap/segments', v.encap.segments);
      encap = { type: 'seg6', mode: v.encap.mode ?? 'encap', segments };
      mtu ??= seg6Mtu(segments.length);
      seg6Checks(ctx, e, 'encap', family, via, v.encap.mode);
    } else if (v.encap?.type === 'seg6local') {
      encap = seg6local(ctx, e, ns, v.encap);
      if (family !== 6) ctx.err(e, 'encap', `seg6local needs an IPv6 destination (got '${v.to}')`);
      if (v.dev === undefined) ctx.err(e, '', `a seg6local route needs 'dev'`);
    }
    const table = tableNumber(v.table);
    // The kernel fills table local (255) itself and the reader skips it: a route there would be
    // created but never seen again (a second apply fails EEXIST, destroy cannot remove it).
    // Table 0 (unspec, the kernel would pick main) is refused by the schema.
    if (table === TABLE_LOCAL)
      ctx.err(e, 'table', `table local (255) is the kernel's own (local and broadcast routes): Voltron does not manage routes there; use another table`);
    const scope = v.scope === undefined ? undefined : routeScope(ctx, e, { family, type, via, dev: v.dev }, v.scope);
    const route: RouteRes = {
      kind: 'route',
      namespace: ns,
      family,
      to: d.to,
      table,
      metric: routeMetric(family, v.metric),
      type,
      via,
      dev: v.dev,
      src,
      mtu,
      scope,
      encap,
      poolRef,
      source: ctx.source(e),
    };
    out.push(compact(route));
  }
  return out;
}

/**
 * A declared scope, canonical (`253` → `link`), or undefined when it is the route's default (a
 * plain route carries none: see RouteRes.scope). What the kernel refuses is an error here.
 */
function routeScope(ctx: Ctx, e: Entry, r: { family: 4 | 6; type: RouteType; via?: string; dev?: string }, declared: RouteScope): RouteScope | undefined {
  const n = routeScopeNumber(declared);
  if (r.family === 6) {
    // ip6_route_add never looks at rtm_scope: every IPv6 route is stored and dumped as global.
    if (n !== 0) ctx.err(e, 'scope', `IPv6 routes have no scope (the kernel ignores it and keeps every one global): omit 'scope'`);
    return undefined;
  }
  if (r.type === 'unicast' && r.via !== undefined && n >= 254)
    ctx.err(e, 'scope', `a route with a gateway cannot have scope ${routeScopeName(n)} (the kernel refuses it: "${n === 254 ? 'Route with host scope can not have a gateway' : 'Invalid scope'}")`);
  else if (r.type === 'unicast' && n === 255) ctx.err(e, 'scope', `a unicast route cannot have scope nowhere (the kernel refuses it: "Invalid scope")`);
  return n === defaultRouteScope(r) ? undefined : routeScopeName(n);
}

function seg6Checks(ctx: Ctx, e: Entry, sub: string, family: number, via: string | undefined, mode: string | undefined): void {
  if (via !== undefined && ipFamily(via) !== 6) ctx.err(e, 'via', `seg6 encapsulation needs an IPv6 'via' (got '${via}')`);
  if (mode === 'inline' && family !== 6) ctx.err(e, `${sub}/mode`, `seg6 mode inline only applies to IPv6 destinations`);
}

function seg6local(ctx: Ctx, e: Entry, ns: string, x: Raw): Seg6LocalEncap {
  const spec = LOCAL_PARAMS[x.action as Seg6LocalAction];
  if (x.mode !== undefined) ctx.err(e, 'encap/mode', `'mode' is only valid with encap type seg6`, true);
  for (const k of LOCAL_KEYS)
    if (x[k] !== undefined && !spec.allow.includes(k)) ctx.err(e, `encap/${k}`, `'${k}' is not used by action ${x.action}`, true);
  for (const k of spec.need) if (x[k] === undefined) ctx.err(e, 'encap', `action ${x.action} needs '${k}'`);
  const nh = (k: 'nh4' | 'nh6', fam: IpFamily): string | undefined => {
    if (x[k] === undefined) return undefined;
    const a = canonicalIp(x[k]);
    if (!a || ipFamily(a) !== fam) ctx.err(e, `encap/${k}`, `${k} '${x[k]}' is not an IPv${fam} address: ${whyNotIp(x[k], fam)}`);
    return a ?? x[k];
  };
  if (x.oif !== undefined) ctx.devRef(ns, x.oif, e, 'encap/oif', 'seg6local oif');
  const out: Seg6LocalEncap = {
    type: 'seg6local',
    action: x.action,
    nh4: nh('nh4', 4),
    nh6: nh('nh6', 6),
    table: x.table === undefined ? undefined : tableNumber(x.table),
    vrfTable: x.vrf_table === undefined ? undefined : tableNumber(x.vrf_table),
    oif: x.oif,
    segments: x.segments === undefined ? undefined : segmentList(ctx, e, 'encap/segments', x.segments),
  };
  return compact(out);
}

/**
 * The fwmark selector as the kernel stores it: a mark without a mask gets mask 0xffffffff, and
 * mark 0 without a mask (or with mask 0) is no selector at all: it matches every packet and is not dumped.
 */
function fwmarkSelector(fwmark: number | undefined, fwmask: number | undefined): { fwmark?: number; fwmask?: number } {
  if (fwmark === undefined || (fwmark === 0 && !fwmask)) return {};
  return { fwmark, fwmask: fwmask ?? 0xffffffff };
}

export function normaliseRules(ctx: Ctx, entries: readonly Entry[]): RuleRes[] {
  const out: RuleRes[] = [];
  for (const e of entries) {
    const v = e.value;
    const ns = nsOf(v);
    ctx.nsRef(ns, e, 'namespace');
    const family = ruleFamily(v);
    const sel = (k: 'from' | 'to'): string | undefined => {
      if (v[k] === undefined) return undefined;
      const cidr = hostCidr(v[k]);
      const c = parseCidr(cidr);
      if (!c) ctx.err(e, k, `bad CIDR '${v[k]}' (expected a CIDR or an address)${looksLikeAddress(v[k]) ? `: ${whyNotCidr(v[k])}` : ''}`);
      else if (c.family !== family) ctx.err(e, k, `${k} '${v[k]}' is IPv${c.family} but the rule is IPv${family}`);
      // The kernel keeps a /0 selector as none (it matches every packet): it would never read back.
      return c && c.prefix > 0 ? networkOf(cidr) : undefined;
    };
    const from = sel('from');
    const to = sel('to');
    if (v.priority === 32766 || v.priority === 32767)
      ctx.err(e, 'priority', `priority ${v.priority} is taken by the kernel's default rules`);
    const action = v.action ?? 'lookup';
    if (action === 'lookup' && v.table === undefined) ctx.err(e, '', `a lookup rule needs 'table'`);
    if (action !== 'lookup' && v.table !== undefined) ctx.err(e, 'table', `'table' is not valid with action ${action}`, true);
    if (v.fwmask !== undefined && v.fwmark === undefined) ctx.err(e, 'fwmask', `'fwmask' needs 'fwmark'`, true);
    if (v.iif !== undefined) ctx.ifname(v.iif, e, 'iif');
    if (v.oif !== undefined) ctx.ifname(v.oif, e, 'oif');
    const rule: RuleRes = {
      kind: 'rule',
      namespace: ns,
      family,
      priority: v.priority,
      action,
      table: v.table === undefined ? undefined : tableNumber(v.table),
      from,
      to,
      ...fwmarkSelector(v.fwmark, v.fwmask),
      iif: v.iif,
      oif: v.oif,
      source: ctx.source(e),
    };
    out.push(compact(rule));
  }
  return out;
}
