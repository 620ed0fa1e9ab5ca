// Routes (unicast/blackhole/unreachable/prohibit, seg6 and seg6local encaps): one
// RTM_GETROUTE dump per namespace; create and in-place update via NLM_F_REPLACE (no window
// without a route), delete by key.
import { VOLTRON_RTPROT, defaultRouteScope, routeScopeName, routeScopeNumber, type RouteRes, type RouteType } from '../model/types';
import { AttrWriter, Attrs, bufferToIp, ipToBuffer } from './netlink/attrs';
import * as R from './netlink/rtnl';
import { NLM_F_CREATE, NLM_F_EXCL, NLM_F_REPLACE } from './netlink/socket';
import type { KernelSession, NsContext } from './session';
import { decodeEncap, encodeSeg6, encodeSeg6Local, unmodelledEncap } from './seg6';
import { stripUndefined } from './link';

const RTM_F_CLONED = 0x200;
const TYPES: Record<number, RouteType> = { 1: 'unicast', 6: 'blackhole', 7: 'unreachable', 8: 'prohibit' };
/** Route types Voltron never makes, as `ip route` names them (read as unmodelled routes: see readRoutes). */
const OTHER_TYPES: Record<number, string> = { 2: 'local', 3: 'broadcast', 4: 'anycast', 5: 'multicast', 9: 'throw', 10: 'nat', 11: 'xresolve' };
const TYPE_NUM: Record<RouteType, number> = { unicast: 1, blackhole: 6, unreachable: 7, prohibit: 8 };

/**
 * `keep(key)` decides whether a kernel-made route (protocol kernel, e.g. connected and
 * link-local routes, thousands on a busy host) is worth decoding: only if its key is
 * desired or owned. Routes of any other protocol are always decoded.
 */
/** Dump routes (of `tables`, or all; of one family, or both). */
export function readRoutes(ctx: NsContext, names: ReadonlyMap<number, string>, keep?: (key: string) => boolean, tables?: readonly number[], family?: 4 | 6): RouteRes[] {
  const out: RouteRes[] = [];
  for (const m of dumpRoutes(ctx, tables, family)) {
    if (m.type !== R.RTM_NEWROUTE) continue;
    const h = R.parseRtMsg(m.data);
    if (h.flags & RTM_F_CLONED) continue;
    if (h.family !== R.AF_INET && h.family !== R.AF_INET6) continue;
    const a = Attrs.parse(m.data, 12);
    const table = a.u32(R.RTA_TABLE) ?? h.table;
    if (table === 255) continue; // the kernel's local, broadcast, multicast... routes: never managed
    // Another type elsewhere (`ip route add throw 10.0.0.0/8 table 100`) holds its key all the same:
    // read as a unicast route Voltron never makes (unmodelled), so that `show` lists it and a
    // declared route at its key is refused by `plan`, not by the kernel (EEXIST) in the apply.
    const other = TYPES[h.type] === undefined ? (OTHER_TYPES[h.type] ?? `type ${h.type}`) : undefined;
    const type = TYPES[h.type] ?? 'unicast';
    const family = h.family === R.AF_INET ? 4 : 6;
    const dst = a.get(R.RTA_DST);
    const to = `${dst ? bufferToIp(dst) : family === 4 ? '0.0.0.0' : '::'}/${h.dstLen}`;
    if (keep && h.protocol === 2 && !keep(`route:${ctx.logical}/ipv${family}/t${table}/${to}/m${a.u32(R.RTA_PRIORITY) ?? 0}`)) continue;
    const gw = a.get(R.RTA_GATEWAY);
    const oif = a.u32(R.RTA_OIF);
    const src = a.get(R.RTA_PREFSRC);
    const metrics = a.nested(R.RTA_METRICS);
    const encapType = a.u16(R.RTA_ENCAP_TYPE);
    const encapBuf = a.get(R.RTA_ENCAP);
    const via = gw ? bufferToIp(gw) : undefined;
    const dev = oif ? names.get(oif) : undefined;
    out.push(
      stripUndefined<RouteRes>({
        kind: 'route',
        namespace: ctx.logical,
        family,
        to,
        table,
        metric: a.u32(R.RTA_PRIORITY) ?? 0,
        type,
        via,
        dev,
        src: src ? bufferToIp(src) : undefined,
        mtu: metrics?.u32(R.RTAX_MTU),
        // Only a scope other than the one ip(8) gives such a route is kept (see RouteRes.scope).
        scope: h.scope !== defaultRouteScope({ family, type, via, dev }) ? routeScopeName(h.scope) : undefined,
        encap: encapType !== undefined && encapBuf ? decodeEncap(encapType, encapBuf, names) : undefined,
        protocol: h.protocol,
        unmodelled: unmodelledForm(h, a, metrics, names, encapType !== undefined && encapBuf ? unmodelledEncap(encapType, encapBuf) : undefined, other),
        nexthopDevs: multipathDevs(a, names),
      }),
    );
  }
  return out;
}

/**
 * What Voltron never makes: a route of another type (`throw`, `local` outside the local table,
 * ...), a multipath route (its nexthops are not modelled), a route with an
 * encap it does not model (`encap`: see unmodelledEncap), or a route with a TOS or source-prefix
 * selector (the kernel keys it apart from the plain route to the same destination, table and
 * metric, which may live beside it: see hasKeySelector); or one the config cannot spell:
 * `onlink` (without it the gateway is refused or means another nexthop), a locked or other
 * metric than `mtu`, an IPv6 `pref` other than medium. Declared as read, such a route would be
 * rewritten without them (an update is a whole-route replace): it is never taken for a declared one.
 */
function unmodelledForm(h: ReturnType<typeof R.parseRtMsg>, a: Attrs, metrics: Attrs | undefined, names: ReadonlyMap<number, string>, encap: string | undefined, type: string | undefined): string | undefined {
  const mp = a.get(R.RTA_MULTIPATH);
  const pref = h.family === R.AF_INET6 ? a.u8(R.RTA_PREF) : undefined;
  const form = [
    type ?? '',
    mp ? `multipath (${nexthops(mp, names).join(', ')})` : '',
    encap ?? '',
    (h.flags & R.RTNH_F_ONLINK) !== 0 ? 'onlink' : '',
    ...otherNexthop(a),
    ...otherMetrics(metrics),
    pref !== undefined && pref !== 0 ? `pref ${pref === 1 ? 'high' : pref === 3 ? 'low' : pref}` : '',
    // The key selectors come last (hasKeySelector looks at the end).
    h.tos !== 0 ? `tos 0x${h.tos.toString(16).padStart(2, '0')}` : '',
    h.srcLen !== 0 ? `from ${bufferToIp(a.get(R.RTA_SRC) ?? Buffer.alloc(h.family === R.AF_INET ? 4 : 16))}/${h.srcLen}` : '',
  ].filter((x) => x);
  return form.length > 0 ? form.join(' ') : undefined;
}

/**
 * What else a route carries that a replace from the config would drop, as `ip route` names it: a
 * nexthop object (`nhid`, FRR's; the kernel reports its gateway and device too), a gateway of
 * another family (`via inet6`, BGP unnumbered: no RTA_GATEWAY, so it would pass for a dev-only
 * route), realms, an expiry.
 */
function otherNexthop(a: Attrs): string[] {
  const via = a.get(R.RTA_VIA);
  const flow = a.u32(R.RTA_FLOW);
  return [
    a.u32(R.RTA_NH_ID) !== undefined ? `nhid ${a.u32(R.RTA_NH_ID)}` : '',
    via && via.length > 2 ? `via ${via.readUInt16LE(0) === R.AF_INET6 ? 'inet6' : 'inet'} ${bufferToIp(via.subarray(2))}` : '',
    flow !== undefined ? (flow >>> 16 !== 0 ? `realms ${flow >>> 16}/${flow & 0xffff}` : `realm ${flow & 0xffff}`) : '',
    // struct rta_cacheinfo: rta_expires at offset 8 (an IPv6 route added with `expires`).
    (a.get(R.RTA_CACHEINFO)?.length ?? 0) >= 12 && a.get(R.RTA_CACHEINFO)!.readInt32LE(8) !== 0 ? 'expires' : '',
  ].filter((x) => x);
}

/** Route metrics but a plain `mtu` (the one the config has), as `ip route` names them. */
function otherMetrics(metrics: Attrs | undefined): string[] {
  if (!metrics) return [];
  return metrics.list.filter(([t]) => t !== R.RTAX_MTU)
    .map(([t, v]) => (t === R.RTAX_LOCK ? lockedMetrics(v) : `${R.RTAX_NAMES[t] ?? `metric${t}`}${v.length >= 4 ? ` ${v.readUInt32LE(0)}` : ''}`));
}

/** RTAX_LOCK's bit mask (bit N: metric N) as `lock mtu`. */
function lockedMetrics(v: Buffer): string {
  const mask = v.length >= 4 ? v.readUInt32LE(0) : 0;
  const names = R.RTAX_NAMES.flatMap((n, i) => (i > 0 && (mask & (1 << i)) !== 0 ? [n] : []));
  return `lock ${names.join(' ') || `0x${mask.toString(16)}`}`;
}

/** Whether an unmodelled form has a TOS or source-prefix selector: such a route is under another kernel key. */
export function hasKeySelector(unmodelled: string): boolean {
  return /(^| )(tos 0x[0-9a-f]{2}|from \S+\/\d+)$/.test(unmodelled); // selectors come last (see unmodelledForm)
}

/** A multipath route's nexthops as `ip` shows them (`via GW dev DEV`). */
function nexthops(b: Buffer, names: ReadonlyMap<number, string>): string[] {
  return decodeNexthops(b, names).map(({ gw, dev }) => [gw ? `via ${gw}` : '', dev ? `dev ${dev}` : ''].filter((x) => x).join(' '));
}

/** The devices of a multipath route's nexthops, each once (a link delete takes the whole IPv4 route). */
function multipathDevs(a: Attrs, names: ReadonlyMap<number, string>): string[] | undefined {
  const mp = a.get(R.RTA_MULTIPATH);
  if (!mp) return undefined;
  return [...new Set(decodeNexthops(mp, names).flatMap(({ dev }) => (dev ? [dev] : [])))];
}

/** RTA_MULTIPATH: struct rtnexthop (len, flags, hops, ifindex), then the nexthop's attributes. */
function decodeNexthops(b: Buffer, names: ReadonlyMap<number, string>): { gw?: string; dev?: string }[] {
  const out: { gw?: string; dev?: string }[] = [];
  for (let off = 0; off + 8 <= b.length; ) {
    const len = b.readUInt16LE(off);
    if (len < 8 || off + len > b.length) break;
    const gw = Attrs.parse(b, off + 8, off + len).get(R.RTA_GATEWAY);
    out.push({ gw: gw ? bufferToIp(gw) : undefined, dev: names.get(b.readInt32LE(off + 4)) });
    off += (len + 3) & ~3;
  }
  return out;
}

/**
 * All routes, or only those of `tables`, filtered by the kernel (strict dump checking): the
 * local table alone holds a local route per address and, for IPv6, a multicast route per
 * link, thousands of messages on a busy host that are never managed.
 */
function dumpRoutes(ctx: NsContext, tables: readonly number[] | undefined, family: 4 | 6 | undefined): ReturnType<NsContext['sock']['dump']> {
  const af = R.afOf(family);
  const hdr = R.rtmsg({ family: af, dstLen: 0, table: 0, protocol: 0, scope: 0, type: 0 });
  if (tables === undefined) return ctx.sock.dump(R.RTM_GETROUTE, hdr, 'dump routes');
  ctx.sock.setStrict(true);
  try {
    return [...new Set(tables)].flatMap((t) => ctx.sock.dump(R.RTM_GETROUTE, Buffer.concat([hdr, new AttrWriter().u32(R.RTA_TABLE, t).toBuffer()]), `dump routes of table ${t}`));
  } finally {
    ctx.sock.setStrict(false);
  }
}

function routeMsg(ctx: NsContext, r: RouteRes, forDelete: boolean, keepProtocol?: number): Buffer {
  const [ip, len] = r.to.split('/') as [string, string];
  const family = r.family === 4 ? R.AF_INET : R.AF_INET6;
  // The declared scope, else ip(8)'s: link for an IPv4 unicast route without a gateway, also with
  // an encap (the kernel accepts a gateway of another route only through a route of scope link or
  // narrower). A delete's scope nowhere matches any.
  const scope = forDelete ? R.RT_SCOPE_NOWHERE : r.scope !== undefined ? routeScopeNumber(r.scope) : defaultRouteScope(r);
  // A delete names the protocol of the route it means (as read; Voltron's own otherwise): the
  // kernel allows several routes under one key (`ip route append`), and a delete without it
  // removes whichever comes first, maybe someone else's.
  // A replace keeps the protocol of the route it changes (see replaceRoute).
  const protocol = forDelete ? (r.protocol ?? VOLTRON_RTPROT) : (keepProtocol ?? VOLTRON_RTPROT);
  const hdr = R.rtmsg({ family, dstLen: Number(len), table: r.table, protocol, scope, type: forDelete ? 0 : TYPE_NUM[r.type] });
  const w = new AttrWriter();
  if (Number(len) > 0) w.raw(R.RTA_DST, ipToBuffer(ip));
  w.u32(R.RTA_TABLE, r.table);
  w.u32(R.RTA_PRIORITY, r.metric);
  if (!forDelete) {
    if (r.via) w.raw(R.RTA_GATEWAY, ipToBuffer(r.via));
    if (r.dev) w.u32(R.RTA_OIF, ctx.ifindex(r.dev));
    if (r.src) w.raw(R.RTA_PREFSRC, ipToBuffer(r.src));
    if (r.mtu !== undefined) w.nest(R.RTA_METRICS, (m) => m.u32(R.RTAX_MTU, r.mtu!));
    if (r.encap?.type === 'seg6') {
      w.u16(R.RTA_ENCAP_TYPE, R.LWTUNNEL_ENCAP_SEG6);
      w.raw(R.RTA_ENCAP | 0x8000, encodeSeg6(r.encap));
    } else if (r.encap?.type === 'seg6local') {
      w.u16(R.RTA_ENCAP_TYPE, R.LWTUNNEL_ENCAP_SEG6_LOCAL);
      w.raw(R.RTA_ENCAP | 0x8000, encodeSeg6Local(r.encap, (n) => ctx.ifindex(n)));
    }
  }
  return Buffer.concat([hdr, w.toBuffer()]);
}

function describe(r: RouteRes): string {
  return `route ${r.to}${r.table !== 254 ? ` table ${r.table}` : ''}${r.encap ? ` encap ${r.encap.type}${r.encap.type === 'seg6local' ? ` ${r.encap.action}` : ''}` : ''}`;
}

export function createRoute(session: KernelSession, r: RouteRes): void {
  const ctx = session.ns(r.namespace);
  // A declared route carries no protocol (Voltron's); a rollback recreating an adopted one from
  // its snapshot gives it back the protocol it had (`proto static` ...).
  ctx.sock.request(R.RTM_NEWROUTE, NLM_F_CREATE | NLM_F_EXCL, routeMsg(ctx, r, false, r.protocol), `add ${describe(r)}`);
}

/**
 * Atomic in-place replacement: the route is never absent. It keeps its protocol (`was`, as read):
 * Voltron marks the routes it installs, and a declared route it adopted stays the other tool's
 * (`proto static` ...) when Voltron changes an attribute of it, and after it leaves the config.
 */
export function replaceRoute(session: KernelSession, r: RouteRes, was?: RouteRes): void {
  const ctx = session.ns(r.namespace);
  ctx.sock.request(R.RTM_NEWROUTE, NLM_F_CREATE | NLM_F_REPLACE, routeMsg(ctx, r, false, r.protocol ?? was?.protocol), `replace ${describe(r)}`);
}

export function deleteRoute(session: KernelSession, r: RouteRes): void {
  const ctx = session.ns(r.namespace);
  ctx.sock.request(R.RTM_DELROUTE, 0, routeMsg(ctx, r, true), `delete ${describe(r)}`);
}
