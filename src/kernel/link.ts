// Links: read (one RTM_GETLINK dump per namespace) and write (create/update/delete).
import { vxlanIsV6, type BridgeOptions, type LinkRes, type LinkType, type MacvlanMode, type VxlanOptions } from '../model/types';
import { isMulticastIp } from '../model/net';
import { AttrWriter, Attrs, bufferToIp, ipToBuffer, macToBuffer } from './netlink/attrs';
import * as R from './netlink/rtnl';
import { NLM_F_CREATE, NLM_F_ECHO, NLM_F_EXCL, NetlinkError } from './netlink/socket';
import type { KernelSession, NsContext } from './session';
import { openNetns } from './netns';
import { libc } from './libc';

/** A link as read, with kernel ids kept for peer/master resolution. */
export interface RawLink {
  readonly index: number;
  readonly name: string;
  readonly res: LinkRes;
  readonly masterIndex?: number;
  readonly linkIndex?: number; // veth peer ifindex / lower device (macvlan parent, vxlan dev, ...)
  readonly linkNetnsId?: number;
}

/**
 * Link kinds Voltron cannot declare whose IFLA_LINK is a lower device the kernel deletes them
 * with (on NETDEV_UNREGISTER): a prune of that device takes them along. (An IP tunnel's IFLA_LINK
 * is only where it sends: it stays.)
 */
const STACKED_KINDS: ReadonlySet<string> = new Set(['vlan', 'macvtap', 'ipvlan', 'ipvtap', 'macsec', 'virt_wifi']);

/** Whether the kernel deletes link `l` with the device its IFLA_LINK names (veth peers aside). */
export function stackedOnLowerLink(l: LinkRes): boolean {
  return l.type === 'macvlan' || (l.type === 'other' && STACKED_KINDS.has(l.otherKind ?? ''));
}

const NO_NAMES: ReadonlyMap<number, string> = new Map();

const MACVLAN_MODES: Record<number, MacvlanMode> = { 1: 'private', 2: 'vepa', 4: 'bridge', 8: 'passthru', 16: 'source' };
const MACVLAN_MODE_NUM: Record<MacvlanMode, number> = { private: 1, vepa: 2, bridge: 4, passthru: 8, source: 16 };
/** The all-zero hardware address: what a bridge without ports reports when none was set. */
const NO_MAC = '00:00:00:00:00:00';

// A bridge's or VXLAN's data carries ~25-45 attributes: index them in one pass (reused arrays)
// instead of walking the stream once per attribute read.
const BR_AT = new Int32Array(R.IFLA_BR_VLAN_DEFAULT_PVID + 1);
const VX_AT = new Int32Array(R.IFLA_VXLAN_VNIFILTER + 1);

function parseBridge(d: Attrs): BridgeOptions {
  const at = BR_AT;
  d.scan(at);
  return {
    vlanFiltering: d.u8At(at[R.IFLA_BR_VLAN_FILTERING]!) === 1,
    stp: (d.u32At(at[R.IFLA_BR_STP_STATE]!) ?? 0) !== 0,
    vlanDefaultPvid: d.u16At(at[R.IFLA_BR_VLAN_DEFAULT_PVID]!),
    // During an STP topology change the kernel ages entries out after twice the forward delay
    // and reports that instead of the configured ageing time (unreadable until it ends): unknown.
    ageingTime: d.u8At(at[R.IFLA_BR_TOPOLOGY_CHANGE]!) === 1 ? undefined : d.u32At(at[R.IFLA_BR_AGEING_TIME]!),
    forwardDelay: d.u32At(at[R.IFLA_BR_FORWARD_DELAY]!),
    multicastSnooping: d.u8At(at[R.IFLA_BR_MCAST_SNOOPING]!) === 1,
  };
}

function parseVxlan(d: Attrs, names: ReadonlyMap<number, string>): VxlanOptions {
  const at = VX_AT;
  d.scan(at);
  const external = d.u8At(at[R.IFLA_VXLAN_COLLECT_METADATA]!) === 1;
  const group = d.bufAt(at[R.IFLA_VXLAN_GROUP]!) ?? d.bufAt(at[R.IFLA_VXLAN_GROUP6]!);
  const local = d.bufAt(at[R.IFLA_VXLAN_LOCAL]!) ?? d.bufAt(at[R.IFLA_VXLAN_LOCAL6]!);
  const groupIp = group ? bufferToIp(group) : undefined;
  // 224/4 only, as the kernel's ipv4_is_multicast: a remote in 240/4 (255.255.255.255 too) is a remote.
  const isMcast = groupIp !== undefined && isMulticastIp(groupIp);
  const linkIdx = d.u32At(at[R.IFLA_VXLAN_LINK]!);
  const vni = d.u32At(at[R.IFLA_VXLAN_ID]!);
  const o: VxlanOptions = {
    vni: external && vni === 0 ? undefined : vni,
    local: local ? bufferToIp(local) : undefined,
    remote: groupIp && !isMcast ? groupIp : undefined,
    group: groupIp && isMcast ? groupIp : undefined,
    dev: linkIdx ? names.get(linkIdx) : undefined,
    dstport: d.u16beAt(at[R.IFLA_VXLAN_PORT]!),
    learning: d.u8At(at[R.IFLA_VXLAN_LEARNING]!) === 1,
    ttl: d.u8At(at[R.IFLA_VXLAN_TTL_INHERIT]!) === 1 ? 'inherit' : (d.u8At(at[R.IFLA_VXLAN_TTL]!) ?? 0),
    external,
    vnifilter: d.u8At(at[R.IFLA_VXLAN_VNIFILTER]!) === 1,
  };
  return stripUndefined(o);
}

/**
 * A VXLAN's options that change the packet format, as `ip -d link` names them, or undefined:
 * Voltron never writes them, and read as a plain VXLAN such a device passed for a declared one.
 * (Uses the attribute table parseVxlan just filled.)
 */
function vxlanUnmodelled(d: Attrs): string | undefined {
  const at = VX_AT;
  const form = [
    d.bufAt(at[R.IFLA_VXLAN_GBP]!) ? 'gbp' : '',
    d.bufAt(at[R.IFLA_VXLAN_GPE]!) ? 'gpe' : '',
    d.u8At(at[R.IFLA_VXLAN_REMCSUM_TX]!) === 1 ? 'remcsumtx' : '',
    d.u8At(at[R.IFLA_VXLAN_REMCSUM_RX]!) === 1 ? 'remcsumrx' : '',
    d.bufAt(at[R.IFLA_VXLAN_REMCSUM_NOPARTIAL]!) ? 'remcsum_nopartial' : '',
  ].filter((x) => x);
  return form.length > 0 ? form.join(' ') : undefined;
}

/** Dump every link of a namespace. */
export function readLinks(ctx: NsContext): RawLink[] {
  const msgs = ctx.sock.dump(R.RTM_GETLINK, R.linkDumpRequest(), 'dump links');
  const pre: { index: number; flags: number; attrs: Attrs }[] = [];
  const names = new Map<number, string>();
  for (const m of msgs) {
    if (m.type !== R.RTM_NEWLINK) continue;
    const index = m.data.readInt32LE(4);
    const flags = m.data.readUInt32LE(8);
    const attrs = Attrs.parse(m.data, 16);
    pre.push({ index, flags, attrs });
  }
  // One pass over each link's ~50 attributes, then direct reads (`at` is reused).
  const at = new Int32Array(R.IFLA_PROP_LIST + 1);
  const out: RawLink[] = [];
  const altnames = new Map<string, string>();
  for (const p of pre) names.set(p.index, p.attrs.strAt(p.attrs.firstAt(R.IFLA_IFNAME)) ?? `if${p.index}`);
  for (const { index, flags, attrs } of pre) {
    attrs.scan(at);
    const name = names.get(index)!;
    ctx.rememberIndex(name, index);
    const info = attrs.nestedAt(at[R.IFLA_LINKINFO]!);
    const kind = info?.str(R.IFLA_INFO_KIND) ?? '';
    const data = info?.nested(R.IFLA_INFO_DATA);
    const masterIndex = attrs.u32At(at[R.IFLA_MASTER]!);
    const mac = attrs.macAt(at[R.IFLA_ADDRESS]!);
    const alias = attrs.strAt(at[R.IFLA_IFALIAS]!);
    const type: LinkType = kind === 'veth' || kind === 'bridge' || kind === 'vxlan' || kind === 'macvlan' ? kind : 'other';
    const linkIndex = attrs.u32At(at[R.IFLA_LINK]!);
    const mtu = attrs.u32At(at[R.IFLA_MTU]!);
    const linkNetnsId = attrs.i32At(at[R.IFLA_LINK_NETNSID]!);
    const props = attrs.nestedAt(at[R.IFLA_PROP_LIST]!);
    if (props) for (const alt of props.all(R.IFLA_ALT_IFNAME)) altnames.set(cString(alt), name);
    // Built key by key, only the fields the kernel reported (thousands of links per dump).
    const res: Record<string, unknown> = { kind: 'link', namespace: ctx.logical, name, type };
    if (mtu !== undefined) res.mtu = mtu;
    // A bridge whose last port left has the all-zero address: no address, not one to restore
    // (the kernel refuses to set it: EADDRNOTAVAIL; a recreated bridge picks a random one).
    if (mac !== undefined && mac !== NO_MAC) res.mac = mac;
    res.state = flags & R.IFF_UP ? 'up' : 'down';
    const master = masterIndex ? names.get(masterIndex) : undefined;
    if (master !== undefined) res.master = master;
    if (alias) res.alias = alias;
    if (type === 'other') res.otherKind = kind;
    if (type === 'bridge' && data) res.bridge = parseBridge(data);
    if (type === 'vxlan' && data) {
      // Moved in from another namespace (IFLA_LINK_NETNSID): its `dev` is an index there.
      res.vxlan = parseVxlan(data, linkNetnsId === undefined ? names : NO_NAMES);
      const u = vxlanUnmodelled(data);
      if (u !== undefined) res.unmodelled = u;
    }
    // IFLA_LINK is an index in the link's own namespace unless IFLA_LINK_NETNSID names another
    // (a macvlan or VLAN moved into this one): readState resolves those (resolveLowers).
    const lowerHere = linkIndex && linkNetnsId === undefined ? names.get(linkIndex) ?? `if${linkIndex}` : undefined;
    if (type === 'macvlan') {
      const parent = linkNetnsId === undefined ? lowerHere ?? '' : '?';
      res.macvlan = { mode: MACVLAN_MODES[data?.u32(R.IFLA_MACVLAN_MODE) ?? 2] ?? 'vepa', parent };
    }
    if (type === 'other' && lowerHere !== undefined && STACKED_KINDS.has(kind)) res.lower = { namespace: ctx.logical, name: lowerHere };
    // A VXLAN's lower device is its `dev` (it has no IFLA_LINK).
    const lowerIndex = type === 'vxlan' ? data?.u32(R.IFLA_VXLAN_LINK) || undefined : linkIndex;
    out.push({ index, name, res: res as unknown as LinkRes, masterIndex, linkIndex: lowerIndex, linkNetnsId });
  }
  ctx.rememberAltnames(altnames);
  return out;
}

/** A NUL-terminated string attribute's text. */
function cString(b: Buffer): string {
  const nul = b.indexOf(0);
  return b.toString('utf8', 0, nul < 0 ? b.length : nul);
}

/** Drop undefined fields (so deep comparisons and JSON see only what the kernel reported). */
export function stripUndefined<T extends object>(o: T): T {
  // A fresh object, not `delete`: deleting properties turns objects into slow dictionaries.
  const r: Record<string, unknown> = {};
  for (const k in o) if (o[k] !== undefined) r[k] = o[k];
  return r as T;
}

function writeInfo(w: AttrWriter, link: LinkRes, ctx: NsContext, session: KernelSession, forUpdate: boolean, changed: readonly string[] = [], peerIndex?: number): void {
  if (link.type === 'other') throw new Error(`cannot create link ${link.name}: unmanaged kind`);
  w.nest(R.IFLA_LINKINFO, (li) => {
    li.str(R.IFLA_INFO_KIND, link.type);
    if (link.type === 'bridge') {
      const b = link.bridge ?? {};
      li.nest(R.IFLA_INFO_DATA, (d) => {
        // Sent only when enabled: kernels without CONFIG_BRIDGE_VLAN_FILTERING reject even 0.
        if (b.vlanFiltering || changed.includes('bridge.vlanFiltering')) d.u8(R.IFLA_BR_VLAN_FILTERING, b.vlanFiltering ? 1 : 0);
        if (b.stp !== undefined) d.u32(R.IFLA_BR_STP_STATE, b.stp ? 1 : 0);
        if (b.vlanDefaultPvid !== undefined) d.u16(R.IFLA_BR_VLAN_DEFAULT_PVID, b.vlanDefaultPvid);
        if (b.ageingTime !== undefined) d.u32(R.IFLA_BR_AGEING_TIME, b.ageingTime);
        if (b.forwardDelay !== undefined) d.u32(R.IFLA_BR_FORWARD_DELAY, b.forwardDelay);
        if (b.multicastSnooping !== undefined) d.u8(R.IFLA_BR_MCAST_SNOOPING, b.multicastSnooping ? 1 : 0);
      });
    } else if (link.type === 'vxlan') {
      const v = link.vxlan ?? {};
      li.nest(R.IFLA_INFO_DATA, (d) => {
        if (!forUpdate) {
          if (v.vni !== undefined) d.u32(R.IFLA_VXLAN_ID, v.vni);
          if (v.external) d.u8(R.IFLA_VXLAN_COLLECT_METADATA, 1);
          if (v.vnifilter) d.u8(R.IFLA_VXLAN_VNIFILTER, 1);
          if (v.local) d.raw(v.local.includes(':') ? R.IFLA_VXLAN_LOCAL6 : R.IFLA_VXLAN_LOCAL, ipToBuffer(v.local));
          const g = v.remote ?? v.group;
          if (g) d.raw(g.includes(':') ? R.IFLA_VXLAN_GROUP6 : R.IFLA_VXLAN_GROUP, ipToBuffer(g));
          if (v.dev) d.u32(R.IFLA_VXLAN_LINK, ctx.ifindex(v.dev));
          d.u16be(R.IFLA_VXLAN_PORT, v.dstport ?? 4789);
        }
        if (forUpdate) writeVxlanEndpoints(d, v, ctx, changed);
        if (v.learning !== undefined) d.u8(R.IFLA_VXLAN_LEARNING, v.learning ? 1 : 0);
        // The kernel sets `ttl inherit` only at creation (an update naming it is refused: the
        // planner replaces the link to set or clear it).
        if (v.ttl === 'inherit' && !forUpdate) d.flag(R.IFLA_VXLAN_TTL_INHERIT);
        else if (typeof v.ttl === 'number') d.u8(R.IFLA_VXLAN_TTL, v.ttl);
      });
    } else if (link.type === 'macvlan') {
      li.nest(R.IFLA_INFO_DATA, (d) => d.u32(R.IFLA_MACVLAN_MODE, MACVLAN_MODE_NUM[link.macvlan?.mode ?? 'vepa']));
    } else if (link.type === 'veth' && !forUpdate && link.veth) {
      const peer = link.veth.peer;
      const peerNs = session.physical(peer.namespace);
      li.nest(R.IFLA_INFO_DATA, (d) => {
        const pw = new AttrWriter().str(R.IFLA_IFNAME, peer.name);
        let fd = -1;
        if (peer.namespace !== link.namespace) {
          fd = openNetns(peerNs);
          pw.u32(R.IFLA_NET_NS_FD, fd);
          pendingFds.push(fd);
        }
        d.raw(R.VETH_INFO_PEER, Buffer.concat([R.ifinfomsg({ index: peerIndex ?? 0 }), pw.toBuffer()]));
      });
    }
  });
}

/**
 * The endpoints an update changes (the planner replaces the link where the kernel cannot: a new
 * address family, a device removed or changed alone). A removed address is the family's zero
 * address, which the kernel keeps as "none".
 */
function writeVxlanEndpoints(d: AttrWriter, v: VxlanOptions, ctx: NsContext, changed: readonly string[]): void {
  const v6 = vxlanIsV6(v);
  const addr = (ip: string | undefined): Buffer => ipToBuffer(ip ?? (v6 ? '::' : '0.0.0.0'));
  if (changed.includes('vxlan.local')) d.raw(v6 ? R.IFLA_VXLAN_LOCAL6 : R.IFLA_VXLAN_LOCAL, addr(v.local));
  if (changed.includes('vxlan.remote') || changed.includes('vxlan.group')) d.raw(v6 ? R.IFLA_VXLAN_GROUP6 : R.IFLA_VXLAN_GROUP, addr(v.remote ?? v.group));
  if (changed.includes('vxlan.dev') && v.dev !== undefined) d.u32(R.IFLA_VXLAN_LINK, ctx.ifindex(v.dev));
}

// Namespace fds referenced by a request must stay open until the kernel has read it.
const pendingFds: number[] = [];
function closePending(): void {
  while (pendingFds.length) libc.close(pendingFds.pop()!);
}

/** Create a link (a veth creates both ends). Sets mtu, mac, master and state in the same request. */
export function createLink(session: KernelSession, link: LinkRes): void {
  const ctx = session.ns(link.namespace);
  const w = new AttrWriter().str(R.IFLA_IFNAME, link.name);
  // A bridge's MTU given at creation is not "set by user" (BROPT_MTU_SET_BY_USER): enslaving
  // a port would re-adjust it to the ports' minimum. Only a real change through changelink
  // sets the flag, so create it off the declared value and step to it below. Off means below
  // IPv6's minimum (1280) where possible: IPv6 then sets the link up at the step, instead of
  // an MTU change that walks every IPv6 route of the namespace (quadratic over many bridges).
  const pinMtu = link.type === 'bridge' && link.mtu !== undefined;
  const createMtu = pinMtu ? offMtu(link.mtu!) : link.mtu;
  if (createMtu !== undefined) w.u32(R.IFLA_MTU, createMtu);
  if (link.mac !== undefined) w.raw(R.IFLA_ADDRESS, macToBuffer(link.mac));
  if (link.type === 'macvlan' && link.macvlan) w.u32(R.IFLA_LINK, ctx.ifindex(link.macvlan.parent));
  if (link.master) w.u32(R.IFLA_MASTER, ctx.ifindex(link.master));
  const head = w.view();
  const up = (link.state ?? 'up') === 'up';
  const peer = link.type === 'veth' && link.veth ? link.veth.peer : undefined;
  const peerCtx = peer ? session.ns(peer.namespace) : undefined;
  // Without a chosen index, ECHO: the kernel sends the new link back with the one it chose.
  const send = (index: number | undefined, peerIndex: number | undefined): void => {
    const info = new AttrWriter();
    writeInfo(info, link, ctx, session, false, [], peerIndex);
    const hdr = R.ifinfomsg({ index: index ?? 0, flags: up ? R.IFF_UP : 0, change: R.IFF_UP });
    const replies = ctx.sock.request(R.RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL | (index === undefined ? NLM_F_ECHO : 0), [hdr, head, info.view()], `create link ${link.name}`);
    const echoed = replies.find((r) => r.type === R.RTM_NEWLINK);
    if (echoed) ctx.rememberIndex(link.name, echoed.data.readInt32LE(4));
    else if (index !== undefined) ctx.rememberIndex(link.name, index);
    if (peer && peerCtx) {
      // The kernel takes the peer's index only along with the primary's.
      if (index !== undefined && peerIndex !== undefined) peerCtx.rememberIndex(peer.name, peerIndex);
      else {
        peerCtx.unknowIndexes();
        // A link of that name cached there earlier is gone (an old peer the kernel removed with
        // its namespace, say): the peer is another link, looked up again when needed.
        peerCtx.forgetIndex(peer.name);
      }
    }
  };
  try {
    const index = ctx.allocateIndex();
    const peerIndex = index === undefined ? undefined : peerCtx?.allocateIndex();
    try {
      send(index, peerIndex);
    } catch (e) {
      // Another process took a chosen index: EEXIST for the link itself, EBUSY for a veth peer
      // (or the name exists: then the retry says so).
      if (index === undefined || !isIndexRace(e)) throw e;
      ctx.unknowIndexes();
      peerCtx?.unknowIndexes();
      send(undefined, undefined);
    }
  } finally {
    closePending();
  }
  // The pin first: a failure after it leaves the bridge at its declared MTU (and with IPv6).
  if (pinMtu) {
    const w2 = new AttrWriter().u32(R.IFLA_MTU, link.mtu!);
    ctx.sock.request(R.RTM_NEWLINK, 0, [R.ifinfomsg({ index: ctx.ifindex(link.name) }), w2.view()], `pin mtu of ${link.name}`);
  }
  if (link.alias) setAlias(ctx, link.name, link.alias);
}

/** A create refused in a way a lost ifindex race explains: EEXIST (the link), EBUSY (a veth peer). */
export function isIndexRace(e: unknown): boolean {
  return e instanceof NetlinkError && (e.errno === 17 || e.errno === 16);
}

/** The MTU a bridge is created with before its declared MTU is set (see createLink). */
export function offMtu(mtu: number): number {
  if (mtu >= IPV6_MIN_MTU) return IPV6_MIN_MTU - 1;
  return mtu > 68 ? mtu - 1 : mtu + 1;
}

const IPV6_MIN_MTU = 1280;

/** A bridge's largest MTU (ETH_MAX_MTU). */
const BRIDGE_MAX_MTU = 65535;

/**
 * Mark an existing bridge's MTU "set by user" while keeping its value: the kernel ignores a write
 * of the MTU a link already has, so step off by one and back. Off is up: a lower bridge MTU would
 * lower the macvlans on the bridge with it (they never follow it back up), and below 1280 drop the
 * bridge's IPv6 addresses. Only at the largest MTU is it down.
 */
export function pinBridgeMtu(session: KernelSession, link: LinkRes): void {
  const ctx = session.ns(link.namespace);
  const mtu = link.mtu!;
  for (const value of [mtu < BRIDGE_MAX_MTU ? mtu + 1 : mtu - 1, mtu]) {
    const w = new AttrWriter().u32(R.IFLA_MTU, value);
    ctx.sock.request(R.RTM_NEWLINK, 0, [R.ifinfomsg({ index: ctx.ifindex(link.name) }), w.view()], `pin mtu of ${link.name}`);
  }
}

function setAlias(ctx: NsContext, name: string, alias: string): void {
  const w = aliasAttr(new AttrWriter(), alias);
  ctx.sock.request(R.RTM_NEWLINK, 0, [R.ifinfomsg({ index: ctx.ifindex(name) }), w.view()], `set alias ${name}`);
}

/**
 * IFLA_IFALIAS holds at most 255 bytes counting a trailing NUL (a 255-byte alias sent
 * NUL-terminated is refused with ERANGE): send the bytes alone, as iproute2 does. An empty alias
 * (clearing it) stays a lone NUL: the kernel refuses an empty string attribute.
 */
function aliasAttr(w: AttrWriter, alias: string): AttrWriter {
  return alias === '' ? w.str(R.IFLA_IFALIAS, '') : w.raw(R.IFLA_IFALIAS, Buffer.from(alias, 'utf8'));
}

/** Change declared fields of an existing link in place. `fields` are dotted model paths. */
export function updateLink(session: KernelSession, link: LinkRes, fields: readonly string[]): void {
  const ctx = session.ns(link.namespace);
  const has = (p: string) => fields.some((f) => f === p || f.startsWith(`${p}.`));
  const w = new AttrWriter();
  if (has('mtu') && link.mtu !== undefined) w.u32(R.IFLA_MTU, link.mtu);
  if (has('mac') && link.mac !== undefined) w.raw(R.IFLA_ADDRESS, macToBuffer(link.mac));
  if (has('master')) w.u32(R.IFLA_MASTER, link.master ? ctx.ifindex(link.master) : 0);
  if (has('alias')) aliasAttr(w, link.alias ?? '');
  const info = has('bridge') || has('vxlan') || has('macvlan');
  const what = `update link ${link.name} (${fields.join(', ')})`;
  const stateChange = has('state');
  const up = (link.state ?? 'up') === 'up';
  const hdr = R.ifinfomsg({ index: ctx.ifindex(link.name), flags: stateChange && up ? R.IFF_UP : 0, change: stateChange ? R.IFF_UP : 0 });
  // vxlan_changelink refuses any request carrying IFLA_MTU ("Cannot change mtu"), even though
  // the MTU itself is changeable: the link's own attributes go in a request of their own. First,
  // unless the VXLAN moves to another device: its MTU is checked against the current one (a
  // larger MTU for a larger new device fails), while the move itself clamps the MTU to the new one.
  if (info && link.type === 'vxlan' && w.length > 0) {
    const own = w.view();
    const sendOwn = () => ctx.sock.request(R.RTM_NEWLINK, 0, [R.ifinfomsg({ index: ctx.ifindex(link.name) }), own], what);
    const v = new AttrWriter();
    writeInfo(v, link, ctx, session, true, fields);
    if (has('vxlan.dev')) {
      // The move links the VXLAN under its new device, refused (EBUSY: an upper/lower loop)
      // while that device is still its master; the kernel runs changelink before the master
      // change of the same request. So a changing master is released first.
      if (has('master')) ctx.sock.request(R.RTM_NEWLINK, 0, [R.ifinfomsg({ index: ctx.ifindex(link.name) }), new AttrWriter().u32(R.IFLA_MASTER, 0).view()], what);
      ctx.sock.request(R.RTM_NEWLINK, 0, [hdr, v.view()], what);
      sendOwn();
    } else {
      sendOwn();
      ctx.sock.request(R.RTM_NEWLINK, 0, [hdr, v.view()], what);
    }
    return;
  }
  if (link.type === 'bridge' && has('bridge.forwardDelay') && has('bridge.stp') && !link.bridge?.stp) stpOffFirst(ctx, link.name, what);
  if (info) writeInfo(w, link, ctx, session, true, fields);
  if (w.length === 0 && !stateChange) return;
  ctx.sock.request(R.RTM_NEWLINK, 0, [hdr, w.view()], what);
}

/**
 * br_changelink sets the forward delay before the STP state, and refuses one outside 2..30 s
 * while STP is still on (ERANGE): a request turning STP off with a shorter delay turns it off
 * first, on its own.
 */
function stpOffFirst(ctx: NsContext, name: string, what: string): void {
  const w = new AttrWriter();
  w.nest(R.IFLA_LINKINFO, (li) => {
    li.str(R.IFLA_INFO_KIND, 'bridge');
    li.nest(R.IFLA_INFO_DATA, (d) => d.u32(R.IFLA_BR_STP_STATE, 0));
  });
  ctx.sock.request(R.RTM_NEWLINK, 0, [R.ifinfomsg({ index: ctx.ifindex(name) }), w.view()], what);
}

export function deleteLink(session: KernelSession, link: LinkRes): void {
  const ctx = session.ns(link.namespace);
  // By name, not by a cached index: a link the kernel already removed along with another one
  // (a macvlan with its parent, a veth end with its peer's namespace) must yield ENODEV, never
  // hit whatever link has since been given its old index.
  const w = new AttrWriter().str(R.IFLA_IFNAME, link.name);
  ctx.sock.request(R.RTM_DELLINK, 0, [R.ifinfomsg({}), w.view()], `delete link ${link.name}`);
  ctx.forgetIndex(link.name);
  if (link.veth) session.ns(link.veth.peer.namespace).forgetIndex(link.veth.peer.name);
}

/** How long to wait for the kernel to process a link's carrier change (see awaitCarrierEvent). */
const CARRIER_WAIT_MS = 1000;

/**
 * Wait until the kernel has processed the carrier change of link `name` that is still pending:
 * a carrier that comes on (a veth end whose peer came up) is handed to the kernel's link watch
 * and acted on later (operstate, IFF_RUNNING, then NETDEV_CHANGE to the protocols, which resets
 * the device's IPv6 mtu sysctl). Up with a carrier but not yet running means it is pending.
 */
export function awaitCarrierEvent(ctx: NsContext, name: string): void {
  const pending = (): boolean => {
    const w = new AttrWriter().str(R.IFLA_IFNAME, name).u32(R.IFLA_EXT_MASK, 1);
    const m = ctx.sock.request(R.RTM_GETLINK, 0, [R.ifinfomsg({}), w.view()], `get link ${name}`, false)[0];
    if (!m) return false;
    const flags = m.data.readUInt32LE(8);
    return (flags & R.IFF_UP) !== 0 && (flags & R.IFF_LOWER_UP) !== 0 && (flags & R.IFF_RUNNING) === 0;
  };
  const nap = new Int32Array(new SharedArrayBuffer(4));
  for (const end = Date.now() + CARRIER_WAIT_MS; pending() && Date.now() < end; ) Atomics.wait(nap, 0, 0, 1);
}
