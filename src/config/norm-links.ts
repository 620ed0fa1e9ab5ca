// links → LinkRes (a veth declaration yields both ends), with reference, cycle and option checks.
import { canonicalIp, canonicalMac, ipFamily, isLinkLocal6, isMulticastIp, isMulticastMac, isUnspecifiedIp, whyNotIp, whyNotMac } from '../model/net';
import { vxlanIsV6, type BridgeOptions, type BridgeVlan, type LinkRes, type VniRange, type VxlanOptions } from '../model/types';
import { nsLabel } from '../model/keys';
import { nsOf } from './common';
import { compact, type Ctx } from './ctx';
import { isPoisoned } from './merge';
import { parseRange } from './units';
import { mergeRanges, RangeClaims } from '../util/ranges';
import type { Entry, Raw } from './types';

/** One link end as declared: the link itself (sub '') or a veth peer (sub 'peer'). */
interface Decl {
  readonly e: Entry;
  readonly sub: string;
  readonly ns: string;
  readonly name: string;
  readonly raw: Raw; // the object holding mtu/mac/state/alias/master
  res: LinkRes;
}

const at = (d: Decl, field: string): string => (d.sub ? `${d.sub}/${field}` : field);
const MAX_VNI = 16777215;
const OPTION_OWNER: Record<string, string> = { bridge: 'bridge', vxlan: 'vxlan', vnis: 'vxlan', peer: 'veth', macvlan: 'macvlan' };
const OPTION_LIST = Object.entries(OPTION_OWNER);

export function normaliseLinks(ctx: Ctx, entries: readonly Entry[], ignore: readonly Entry<string>[]): LinkRes[] {
  const decls: Decl[] = [];
  const byKey = new Map<string, Decl>();
  const register = (d: Decl): void => {
    const key = `${d.ns}/${d.name}`;
    const prev = byKey.get(key);
    if (prev) {
      ctx.err(d.e, at(d, 'name'), `link '${nsLabel(d.ns)}/${d.name}' is already declared at ${ctx.where(prev.e)}${prev.sub ? ' (veth peer)' : ''}`);
      return;
    }
    byKey.set(key, d);
    ctx.links.set(key, d.res.type);
    decls.push(d);
  };

  // Pass 1: every link end gets a name, so that references below can be resolved in any order.
  for (const e of entries) {
    const v = e.value;
    const ns = nsOf(v);
    const base = { kind: 'link', namespace: ns, name: v.name, type: v.type } as LinkRes;
    register({ e, sub: '', ns, name: v.name, raw: v, res: base });
    if (v.type === 'veth' && v.peer) {
      const pns = typeof v.peer.namespace === 'string' ? v.peer.namespace : ns;
      if (pns === ns && v.peer.name === v.name) {
        ctx.err(e, 'peer/name', `veth peer must differ from the link itself`);
        continue;
      }
      const peer = { kind: 'link', namespace: pns, name: v.peer.name, type: 'veth' } as LinkRes;
      register({ e, sub: 'peer', ns: pns, name: v.peer.name, raw: v.peer, res: peer });
    }
  }

  // Pass 2: per-end attributes and type options.
  for (const d of decls) {
    const v = d.raw;
    ctx.ifname(d.name, d.e, at(d, 'name'));
    // Every namespace has its loopback device: creating another 'lo' fails with EEXIST.
    if (d.name === 'lo') ctx.err(d.e, at(d, 'name'), `'lo' is the loopback device every namespace already has: choose another name`);
    if (d.sub === '' || v.namespace !== undefined) ctx.nsRef(d.ns, d.e, at(d, 'namespace'));
    for (const g of ignore)
      if (globMatch(g.value, d.name))
        ctx.err(d.e, at(d, 'name'), `link '${d.name}' matches ignore pattern '${g.value}' (${ctx.where(g)}): it would never be managed`);
    let mac: string | undefined;
    if (v.mac !== undefined) {
      mac = canonicalMac(v.mac);
      if (!mac) ctx.err(d.e, at(d, 'mac'), `bad MAC address '${v.mac}' (expected six hex octets like 02:00:00:00:00:01): ${whyNotMac(v.mac)}`);
      else if (isMulticastMac(mac)) ctx.err(d.e, at(d, 'mac'), `MAC address '${v.mac}' is a multicast address`);
      else if (mac === '00:00:00:00:00:00') ctx.err(d.e, at(d, 'mac'), `MAC address must not be all zeros`);
    }
    // Built key by key in the model's order (no spread and no compacting copy: 2000 links).
    const res: Record<string, unknown> = { kind: 'link', namespace: d.ns, name: d.name, type: d.res.type };
    if (v.mtu !== undefined) res.mtu = v.mtu;
    if (mac !== undefined) res.mac = mac;
    res.state = v.state ?? 'up';
    if (v.master !== undefined) res.master = v.master;
    // The kernel stores an empty alias as no alias: '' would never read back.
    if (v.alias === '') ctx.err(d.e, at(d, 'alias'), `alias must not be empty (the kernel keeps no empty alias; omit 'alias')`);
    // The schema counts characters; the kernel's limit (IFALIASZ - 1) is in UTF-8 bytes.
    else if (v.alias !== undefined && Buffer.byteLength(v.alias, 'utf8') > 255)
      ctx.err(d.e, at(d, 'alias'), `alias is ${Buffer.byteLength(v.alias, 'utf8')} bytes long in UTF-8 (the kernel keeps at most 255)`);
    else if (v.alias !== undefined) res.alias = v.alias;
    res.source = ctx.source(d.sub ? { ...d.e, ptr: `${d.e.ptr}/${d.sub}` } : d.e);
    if (d.sub === 'peer') {
      res.veth = { peer: { name: d.e.value.name, namespace: nsOf(d.e.value) }, primary: false };
    } else {
      for (const [opt, owner] of OPTION_LIST)
        if (v[opt] !== undefined && v.type !== owner)
          ctx.err(d.e, opt, `'${opt}' is only valid for links of type ${owner} (this link is ${v.type})`, true);
      const opts = typeOptions(ctx, d);
      for (const k in opts) {
        const x = opts[k as keyof typeof opts];
        if (x !== undefined) res[k] = x;
      }
    }
    d.res = res as unknown as LinkRes;
    if (v.mtu !== undefined) ctx.linkMtus.set(`${d.ns}/${d.name}`, v.mtu);
    if (v.state === 'down') ctx.downLinks.add(`${d.ns}/${d.name}`);
  }

  masters(ctx, decls, byKey);
  lowerDevices(ctx, decls, byKey);
  vniClashes(ctx, decls);
  socketClashes(ctx, decls);
  busyParents(ctx, decls, byKey);
  portsOnTheirMaster(ctx, decls, byKey);
  for (const d of decls) if (d.sub === '' && d.raw.vlans) vlans(ctx, d, byKey);
  return decls.map((d) => d.res);
}

function typeOptions(ctx: Ctx, d: Decl): Partial<LinkRes> {
  const v = d.raw;
  switch (v.type) {
    case 'bridge': {
      const b = v.bridge ?? {};
      // Turning STP on clamps forward_delay into 2..30 s (BR_MIN/MAX_FORWARD_DELAY), and setting
      // it outside with STP on fails (ERANGE): the declared value would never read back.
      if (b.stp === true && b.forward_delay !== undefined && (b.forward_delay < 200 || b.forward_delay > 3000))
        ctx.err(d.e, 'bridge/forward_delay', `forward_delay ${b.forward_delay} is outside 200..3000 (centiseconds, 2..30 s), which the kernel enforces with 'stp: true'`);
      const opts: BridgeOptions = {
        vlanFiltering: b.vlan_filtering ?? false,
        stp: b.stp ?? false,
        vlanDefaultPvid: b.vlan_default_pvid,
        ageingTime: b.ageing_time,
        forwardDelay: b.forward_delay,
        multicastSnooping: b.multicast_snooping,
      };
      return { bridge: compact(opts) };
    }
    case 'vxlan':
      return vxlan(ctx, d);
    case 'macvlan':
      ctx.devRef(d.ns, v.macvlan.parent, d.e, 'macvlan/parent', 'macvlan parent');
      // macvlan_port_create refuses a loopback parent (EINVAL).
      if (v.macvlan.parent === 'lo') ctx.err(d.e, 'macvlan/parent', `a macvlan cannot be stacked on the loopback device 'lo'`);
      // A passthru macvlan takes its parent's address at creation (and setting one later
      // rewrites the parent's): a declared MAC would never read back.
      if (v.macvlan.mode === 'passthru' && v.mac !== undefined)
        ctx.err(d.e, 'mac', `'mac' cannot be set on a passthru macvlan: it always has its parent's address (set 'mac' on '${v.macvlan.parent}' instead)`);
      return { macvlan: { parent: v.macvlan.parent, mode: v.macvlan.mode ?? 'vepa' } };
    case 'veth': {
      const pns = typeof v.peer.namespace === 'string' ? v.peer.namespace : d.ns;
      return { veth: { peer: { name: v.peer.name, namespace: pns }, primary: true } };
    }
  }
  return {};
}

function vxlan(ctx: Ctx, d: Decl): Partial<LinkRes> {
  const x = d.raw.vxlan;
  const external = x.external ?? false;
  const vnifilter = x.vnifilter ?? false;
  if (x.vni !== undefined && (x.vni < 1 || x.vni > MAX_VNI)) ctx.err(d.e, 'vxlan/vni', `VNI ${x.vni} out of range 1..${MAX_VNI}`);
  if (x.vni === undefined && !external) ctx.err(d.e, 'vxlan', `vxlan needs 'vni' (or 'external: true')`);
  if (x.vni !== undefined && external && !vnifilter)
    ctx.err(d.e, 'vxlan/vni', `'vni' conflicts with 'external: true' (without 'vnifilter')`);
  if (vnifilter && !external) ctx.err(d.e, 'vxlan/vnifilter', `'vnifilter: true' requires 'external: true'`);
  if (x.remote !== undefined && x.group !== undefined) ctx.err(d.e, 'vxlan/group', `'group' conflicts with 'remote'`);
  const ips: Record<string, string | undefined> = {};
  let fam: number | undefined;
  for (const k of ['local', 'remote', 'group'] as const) {
    if (x[k] === undefined) continue;
    const ip = canonicalIp(x[k]);
    if (!ip) {
      ctx.err(d.e, `vxlan/${k}`, `bad IP address '${x[k]}': ${whyNotIp(x[k])}`);
      continue;
    }
    if (k === 'group' && !isMulticastIp(ip)) ctx.err(d.e, 'vxlan/group', `group '${ip}' is not a multicast address`);
    if (k !== 'group' && isMulticastIp(ip)) ctx.err(d.e, `vxlan/${k}`, `${k} '${ip}' must not be a multicast address (use 'group')`);
    // The kernel keeps 0.0.0.0 / :: as "not set": it would never read back.
    if (k !== 'group' && isUnspecifiedIp(ip)) ctx.err(d.e, `vxlan/${k}`, `${k} '${ip}' is the unspecified address: omit '${k}'`);
    if (fam !== undefined && ipFamily(ip) !== fam) ctx.err(d.e, `vxlan/${k}`, `address family of ${k} '${ip}' differs from the other vxlan addresses`);
    fam ??= ipFamily(ip);
    ips[k] = ip;
  }
  if (fam === 6) vxlanLinkLocal(ctx, d, ips, x.dev !== undefined);
  if (x.dev !== undefined) ctx.devRef(d.ns, x.dev, d.e, 'vxlan/dev', 'vxlan dev');
  // vxlan_config_validate refuses it (EINVAL "Local interface required for multicast remote destination").
  else if (ips.group !== undefined && isMulticastIp(ips.group) && x.remote === undefined) ctx.err(d.e, 'vxlan/group', `'group' needs 'dev': the kernel joins the multicast group on that device`);
  const opts: VxlanOptions = {
    vni: x.vni,
    local: ips.local,
    remote: ips.remote,
    group: ips.group,
    dev: x.dev,
    dstport: x.dstport ?? 4789,
    // iproute2's default: `external` turns learning off (a collect-metadata device's FDB is
    // filled by its control plane), so a device `ip link add ... external` made reads back as declared.
    learning: x.learning ?? !external,
    ttl: x.ttl,
    external,
    vnifilter,
  };
  const out: Partial<LinkRes> = { vxlan: compact(opts) };
  if (d.raw.vnis !== undefined) {
    if (!vnifilter) ctx.err(d.e, 'vnis', `'vnis' requires 'vxlan.vnifilter: true'`, true);
    const runs = listRuns(ctx, d.e, 'vnis', d.raw.vnis, 1, MAX_VNI, 'VNI');
    return { ...out, vnis: mergeRanges(runs.map((r) => [r.lo, r.hi])) };
  }
  return out;
}

/**
 * The runs of `[1, "5-7"]`, sorted, each with the index of the item that listed it; errors on
 * bad/duplicate. Never expanded: a VNI list may cover all 2^24 VNIs in one item.
 */
function listRuns(ctx: Ctx, e: Entry, field: string, items: readonly (number | string)[], min: number, max: number, what: string, itemKey = ''): readonly ListRun[] {
  const claims = new RangeClaims<number>();
  items.forEach((item, i) => {
    const sub = `${field}/${i}${itemKey}`;
    const r = parseRange(item);
    if (!r) return ctx.err(e, sub, `bad ${what} range '${item}'`);
    if (r.lo < min || r.hi > max) return ctx.err(e, sub, `${what} ${r.lo === r.hi ? r.lo : `range ${r.lo}-${r.hi}`} out of range ${min}..${max}`);
    const clash = claims.claim(r.lo, r.hi, i);
    if (clash) ctx.err(e, sub, `${what} ${clash.at} is listed twice (also in item ${clash.owner})`);
  });
  return claims.list().map((x) => ({ lo: x.lo, hi: x.hi, item: x.owner }));
}

interface ListRun {
  readonly lo: number;
  readonly hi: number;
  /** Index of the list item it comes from. */
  readonly item: number;
}

function masters(ctx: Ctx, decls: readonly Decl[], byKey: ReadonlyMap<string, Decl>): void {
  const inCycle = new Set<Decl>();
  for (const d of decls) {
    if (inCycle.has(d) || d.res.master === undefined) continue;
    const chain: Decl[] = [d];
    let cur: Decl | undefined = d;
    while (cur?.res.master !== undefined) {
      cur = byKey.get(`${cur.ns}/${cur.res.master}`);
      if (!cur) break;
      const idx = chain.indexOf(cur);
      if (idx >= 0) {
        const cycle = chain.slice(idx);
        if (!cycle.some((c) => inCycle.has(c))) {
          const names = [...cycle.map((c) => c.name), cur.name].join(' -> ');
          ctx.err(cycle[0]!.e, at(cycle[0]!, 'master'), `master cycle: ${names}`);
        }
        cycle.forEach((c) => inCycle.add(c));
        break;
      }
      chain.push(cur);
    }
  }
  for (const d of decls) {
    const m = d.res.master;
    if (m === undefined || inCycle.has(d)) continue;
    if (!ctx.ifname(m, d.e, at(d, 'master'))) continue;
    const target = byKey.get(`${d.ns}/${m}`);
    if (!target) {
      if (!isPoisoned(ctx.poison, 'links', `${d.ns}/${m}`))
        ctx.err(d.e, at(d, 'master'), `master '${m}' is not a bridge declared in namespace ${nsLabel(d.ns)}${ctx.removedHint('links', `${d.ns || '(root)'}/${m}`)}`);
    } else if (target.res.type !== 'bridge') {
      ctx.err(d.e, at(d, 'master'), `master '${m}' is a ${target.res.type}, not a bridge`);
    } else if (d.res.type === 'bridge') {
      ctx.err(d.e, at(d, 'master'), `a bridge cannot be a port of another bridge ('${m}')`);
    }
  }
}

/** A bridge port's frames go to the bridge: it cannot also be a macvlan parent (EBUSY). */
function busyParents(ctx: Ctx, decls: readonly Decl[], byKey: ReadonlyMap<string, Decl>): void {
  for (const d of decls) {
    const parent = d.res.macvlan?.parent;
    const p = parent === undefined ? undefined : byKey.get(`${d.ns}/${parent}`);
    if (p?.res.master !== undefined)
      ctx.err(d.e, 'macvlan/parent', `macvlan parent '${parent}' is a port of bridge '${p.res.master}' (${ctx.where(p.e)}): a device is either a bridge port or a macvlan parent (the kernel refuses the second with EBUSY)`);
  }
}

/**
 * A port stacked (macvlan parent, vxlan dev, at any depth) on its own bridge: the stacked device
 * is an upper device of the bridge, so enslaving it would make a loop (the kernel refuses, EBUSY).
 */
function portsOnTheirMaster(ctx: Ctx, decls: readonly Decl[], byKey: ReadonlyMap<string, Decl>): void {
  for (const d of decls) {
    const m = d.res.master;
    const first = lowerOf(d);
    if (m === undefined || first === undefined) continue;
    const seen = new Set<Decl>([d]);
    for (let cur = byKey.get(`${d.ns}/${first.name}`); cur && !seen.has(cur); ) {
      if (cur.name === m) {
        const how = cur.name === first.name ? first.field.replace('/', '.') : `${first.field.replace('/', '.')} '${first.name}', stacked on it`;
        ctx.err(d.e, at(d, 'master'), `'${d.name}' is stacked on its master '${m}' (${how}): the kernel refuses to enslave it (EBUSY: an upper device of the bridge cannot be its port)`);
        break;
      }
      seen.add(cur); // a stacking cycle ends the walk (reported on its own)
      const l = lowerOf(cur);
      cur = l && byKey.get(`${d.ns}/${l.name}`);
    }
  }
}

/** The device a link is stacked on (macvlan parent, vxlan dev), with the field naming it. */
function lowerOf(d: Decl): { name: string; field: string } | undefined {
  if (d.sub !== '') return undefined;
  if (d.res.macvlan) return { name: d.res.macvlan.parent, field: 'macvlan/parent' };
  if (d.res.vxlan?.dev !== undefined) return { name: d.res.vxlan.dev, field: 'vxlan/dev' };
  return undefined;
}

/**
 * Stacked devices: no cycles (the plan could not order them), no macvlan on a macvlan (the
 * kernel attaches it to the lower macvlan's parent instead, so it never reads back), a passthru
 * macvlan alone on its parent, and a macvlan's mtu not above its parent's (the kernel refuses both).
 */
function lowerDevices(ctx: Ctx, decls: readonly Decl[], byKey: ReadonlyMap<string, Decl>): void {
  const lower = (d: Decl): Decl | undefined => {
    const l = lowerOf(d);
    return l && byKey.get(`${d.ns}/${l.name}`);
  };
  const inCycle = new Set<Decl>();
  for (const d of decls) {
    const chain: Decl[] = [];
    for (let cur: Decl | undefined = d; cur && !inCycle.has(cur); cur = lower(cur)) {
      const idx = chain.indexOf(cur);
      if (idx >= 0) {
        const cycle = chain.slice(idx);
        const names = [...cycle.map((c) => c.name), cur.name].join(' -> ');
        ctx.err(cycle[0]!.e, lowerOf(cycle[0]!)!.field, `dependency cycle of stacked devices: ${names}`);
        cycle.forEach((c) => inCycle.add(c));
        break;
      }
      chain.push(cur);
    }
  }
  const firstOn = new Map<string, Decl>(); // parent → its first macvlan
  const macsOn = new Map<string, Decl>(); // parent + MAC → the first macvlan up with it
  for (const d of decls) {
    if (d.res.vxlan && !inCycle.has(d)) vxlanMtu(ctx, d, lower(d));
    const parent = d.res.macvlan ? lower(d) : undefined;
    if (!parent || inCycle.has(d)) continue;
    const mac = d.res.state === 'up' ? d.res.mac : undefined;
    const sibling = mac === undefined ? undefined : macsOn.get(`${parent.ns}/${parent.name}/${mac}`);
    // macvlan_open: a MAC its parent or another macvlan that is up on it has is busy (EADDRINUSE).
    if (mac !== undefined && mac === parent.res.mac && d.res.macvlan?.mode !== 'passthru')
      ctx.err(d.e, 'mac', `MAC address ${mac} is the address of macvlan parent '${parent.name}' (${ctx.where(parent.e)}): the kernel refuses it (EADDRINUSE)`);
    else if (sibling)
      ctx.err(d.e, 'mac', `MAC address ${mac} is also the address of macvlan '${sibling.name}' (${ctx.where(sibling.e)}) on the same parent: the kernel refuses the second (EADDRINUSE)`);
    else if (mac !== undefined) macsOn.set(`${parent.ns}/${parent.name}/${mac}`, d);
    const prev = firstOn.get(`${parent.ns}/${parent.name}`);
    if (!prev) firstOn.set(`${parent.ns}/${parent.name}`, d);
    else if (d.res.macvlan?.mode === 'passthru' || prev.res.macvlan?.mode === 'passthru')
      ctx.err(d.e, 'macvlan/parent', `'${parent.name}' already has macvlan '${prev.name}' (${ctx.where(prev.e)}): a passthru macvlan must be the only macvlan on its parent`);
    // A bridge takes its lowest port's MAC; once its last port left it has 00:00:00:00:00:00
    // (br_stp_recalculate_bridge_id) unless one was set: a passthru macvlan inherits it and
    // cannot come up (EADDRNOTAVAIL). Without declared ports, its MAC depends on its history.
    const portless = !decls.some((x) => x.ns === parent.ns && x.res.master === parent.name);
    if (d.res.macvlan?.mode === 'passthru' && parent.res.type === 'bridge' && parent.res.mac === undefined && portless && (d.res.state ?? 'up') === 'up')
      ctx.err(d.e, 'macvlan/parent', `a passthru macvlan takes the MAC address of its parent, and bridge '${parent.name}' (${ctx.where(parent.e)}) declares neither ports nor a mac: once its last port left, it has none (00:00:00:00:00:00) and the kernel refuses to bring the macvlan up (EADDRNOTAVAIL); declare the bridge's mac`);
    if (parent.res.type === 'macvlan')
      ctx.err(d.e, 'macvlan/parent', `macvlan parent '${parent.name}' is itself a macvlan: the kernel would attach to its parent instead (use 'parent: ${parent.res.macvlan?.parent ?? parent.name}')`);
    else if (d.res.mtu !== undefined) {
      const p = parentMtu(parent, decls, lower);
      if (p !== undefined && d.res.mtu > p.mtu)
        ctx.err(d.e, 'mtu', `mtu ${d.res.mtu} is above the mtu ${p.mtu} of macvlan parent '${parent.name}'${p.from ? ` (which a bridge without a declared mtu takes from its port '${p.from}')` : ''} (the kernel refuses it)`);
    }
  }
  derivedLowMtus(ctx, decls, lower, inCycle);
}

/**
 * The mtu a link will have, if the config says: its declared one; for a bridge without one, the
 * lowest mtu of its declared ports (the kernel sets such a bridge's mtu to its ports' lowest).
 */
function parentMtu(parent: Decl, decls: readonly Decl[], lower: (d: Decl) => Decl | undefined): { mtu: number; from?: string } | undefined {
  if (parent.res.mtu !== undefined || parent.res.type !== 'bridge') return parent.res.mtu === undefined ? undefined : { mtu: parent.res.mtu };
  let low: { mtu: number; from?: string } | undefined;
  for (const x of decls) {
    if (x.ns !== parent.ns || x.res.master !== parent.name) continue;
    const mtu = linkMtu(x, lower, 0);
    if (mtu !== undefined && (low === undefined || mtu < low.mtu)) low = { mtu, from: x.name };
  }
  return low;
}

/**
 * IPv6 link-local VXLAN addresses (vxlan_config_validate): a link-local `local` takes only a
 * link-local `remote` or link-scoped `group` (ff02::/16 and the like); a link-local `remote` needs
 * a link-local `local`; and either needs `dev` (the kernel cannot tell which link they are on).
 */
function vxlanLinkLocal(ctx: Ctx, d: Decl, ips: Record<string, string | undefined>, hasDev: boolean): void {
  const ll = (ip: string | undefined): boolean => ip !== undefined && /^fe[89ab][0-9a-f]:/.test(ip);
  const localLL = ll(ips.local);
  const peer = ips.remote !== undefined ? 'remote' : 'group';
  const far = ips.remote ?? ips.group;
  const farLL = ips.remote !== undefined ? ll(ips.remote) : far !== undefined && /^ff[0-9a-f]2:/.test(far);
  if (localLL && far !== undefined && !farLL)
    ctx.err(d.e, `vxlan/${peer}`, `${peer} '${far}' is not link-local but local '${ips.local}' is: the kernel refuses the mix ("Invalid combination of local and remote address scopes")`);
  else if (!localLL && ll(ips.remote))
    ctx.err(d.e, 'vxlan/remote', `link-local remote '${ips.remote}' needs a link-local 'local': the kernel refuses it ("Invalid combination of local and remote address scopes")`);
  else if ((localLL || ll(ips.remote)) && !hasDev)
    ctx.err(d.e, localLL ? 'vxlan/local' : 'vxlan/remote', `a link-local VXLAN address needs 'dev': the kernel refuses it ("Local interface required for link-local local/remote addresses")`);
}

/**
 * Links without a declared mtu that get one below 1280 from what the config declares below them
 * (a macvlan its parent's, a VXLAN its dev's less its headers, a bridge its lowest port's): the
 * kernel disables IPv6 on them, so IPv6 addresses and routes there would fail mid-apply.
 */
function derivedLowMtus(ctx: Ctx, decls: readonly Decl[], lower: (d: Decl) => Decl | undefined, inCycle: ReadonlySet<Decl>): void {
  for (const d of decls) {
    if (d.res.mtu !== undefined || inCycle.has(d)) continue;
    const below = lower(d);
    const port = d.res.type === 'bridge' ? parentMtu(d, decls, lower) : undefined;
    const mtu = port?.mtu ?? (d.res.type === 'bridge' ? undefined : linkMtu(d, lower, 0));
    if (mtu === undefined || mtu >= 1280) continue;
    const why = port ? `that of its port '${port.from}'` : d.res.vxlan ? `the mtu of its vxlan dev '${below?.name}' less the VXLAN headers` : `that of its macvlan parent '${below?.name}'`;
    ctx.derivedLowMtus.set(`${d.ns}/${d.name}`, { mtu, why });
  }
}

/**
 * A link's mtu: declared, or the kernel's default for its type (measured on 6.18): 1500 for a
 * veth and for a VXLAN without a device; a VXLAN's device's less its headers (50, 70 for IPv6);
 * a macvlan's parent's. Undefined where the config cannot tell.
 */
function linkMtu(d: Decl, lower: (d: Decl) => Decl | undefined, depth: number): number | undefined {
  if (d.res.mtu !== undefined) return d.res.mtu;
  if (depth > 8) return undefined; // a cycle, reported elsewhere
  const below = lower(d);
  switch (d.res.type) {
    case 'veth':
      return 1500;
    case 'vxlan': {
      if (d.res.vxlan?.dev === undefined) return 1500;
      const base = below && linkMtu(below, lower, depth + 1);
      return base === undefined ? undefined : base - (vxlanIsV6(d.res.vxlan) ? 70 : 50);
    }
    case 'macvlan':
      return below && linkMtu(below, lower, depth + 1);
    default:
      return undefined;
  }
}

/**
 * A VXLAN's MTU leaves room for its headers on its device: at most the device's MTU less 50
 * (IPv4) or 70 (IPv6). The kernel silently lowers a larger MTU at creation and refuses it later.
 */
function vxlanMtu(ctx: Ctx, d: Decl, dev: Decl | undefined): void {
  if (d.res.mtu === undefined || dev?.res.mtu === undefined) return;
  const headroom = vxlanIsV6(d.res.vxlan!) ? 70 : 50;
  const max = Math.max(68, dev.res.mtu - headroom);
  if (d.res.mtu > max)
    ctx.err(d.e, 'mtu', `mtu ${d.res.mtu} is above ${max}: the mtu ${dev.res.mtu} of vxlan dev '${dev.name}' less ${headroom} bytes of VXLAN headers (the kernel refuses or lowers it)`);
}

/**
 * Two vxlan devices in one namespace that would receive the same VNI on the same UDP port and
 * address family: the kernel refuses the second ("VNI already exists" / "VNI in use"). An
 * external (collect-metadata) device without vnifilter takes every VNI of its port; devices
 * with vnifilter share a port as long as their `vnis` differ. Devices with a link-local `local`
 * on different `dev`s do not clash (vxlan_vni_in_use tells them apart by their device, and each
 * receives on its own: measured on 6.18); one with a link-local `local` and one without clash
 * whatever their devices, as the kernel refuses the pair when the link-local one comes first.
 */
function vniClashes(ctx: Ctx, decls: readonly Decl[]): void {
  // Per namespace, port, family and mode (and device, if link-local): the VNIs claimed so far (a filter may hold 2^24: runs).
  const groups = new Map<string, RangeClaims<Decl>>();
  const claimsOf = (key: string): RangeClaims<Decl> => {
    let claims = groups.get(key);
    if (!claims) groups.set(key, (claims = new RangeClaims()));
    return claims;
  };
  // Those without a link-local `local` first: each link-local one is then judged against all of them.
  for (const linkLocal of [false, true]) {
    for (const d of decls) {
      const x = d.res.vxlan;
      if (d.sub !== '' || !x || (x.local !== undefined && isLinkLocal6(x.local)) !== linkLocal) continue;
      const fam = vxlanIsV6(x) ? 6 : 4;
      const mode = x.vnifilter ? 'vnifilter' : x.external ? 'external' : 'vni';
      const runs: readonly VniRange[] = mode === 'vnifilter' ? (d.res.vnis ?? []) : mode === 'external' ? [[0, 0]] : x.vni !== undefined ? [[x.vni, x.vni]] : [];
      const key = `${d.ns}|${x.dstport}|${fam}|${mode}`;
      const claims = claimsOf(linkLocal ? `${key}|${x.dev ?? ''}` : key);
      const shared = linkLocal ? groups.get(key) : undefined;
      for (const [lo, hi] of runs) {
        const clash = shared?.overlap(lo, hi) ?? claims.claim(lo, hi, d);
        if (!clash) continue;
        const prev = clash.owner;
        const what = mode === 'external' ? `an external vxlan on dstport ${x.dstport}` : `VNI ${clash.at} on dstport ${x.dstport}`;
        const dev = linkLocal && prev.res.vxlan!.dev === x.dev ? ` on dev '${x.dev}'` : '';
        ctx.err(d.e, mode === 'vnifilter' ? 'vnis' : mode === 'external' ? 'vxlan/external' : 'vxlan/vni', `${what} (IPv${fam})${dev} already exists in namespace ${nsLabel(d.ns)}: '${prev.name}' at ${ctx.where(prev.e)} (the kernel refuses a second one)`);
        break;
      }
    }
  }
}

/**
 * VXLAN devices of one namespace on one UDP port whose sockets share a family (an external
 * device opens IPv4 and IPv6) must agree on external/vnifilter (the kernel's receive flags): the
 * kernel opens one socket per port and family, so the second cannot come up (EADDRINUSE).
 */
function socketClashes(ctx: Ctx, decls: readonly Decl[]): void {
  // Per namespace and port: the first device that is up of each kind (a few kinds: linear).
  const byPort = new Map<string, Map<string, Decl>>();
  for (const d of decls) {
    const x = d.res.vxlan;
    if (d.sub !== '' || !x || d.res.state === 'down') continue;
    // Only self-consistent devices (the others already have their own errors).
    if ((!x.external && x.vni === undefined) || (x.external && !x.vnifilter && x.vni !== undefined) || (x.vnifilter && !x.external)) continue;
    const k = `${d.ns}|${x.dstport}`;
    let kinds = byPort.get(k);
    if (!kinds) byPort.set(k, (kinds = new Map()));
    const kind = `${x.external}|${x.vnifilter}|${socketFamilies(x).join()}`;
    const rival = [...kinds.values()].find((o) => {
      const y = o.res.vxlan!;
      return (x.external !== y.external || x.vnifilter !== y.vnifilter) && socketFamilies(x).some((f) => socketFamilies(y).includes(f));
    });
    if (rival)
      ctx.err(d.e, 'vxlan', `vxlan '${d.name}' shares UDP port ${x.dstport} with '${rival.name}' (${ctx.where(rival.e)}) but not its external/vnifilter setting: both cannot be up (the kernel opens one socket per port); use another dstport`);
    if (!kinds.has(kind)) kinds.set(kind, d);
  }
}

/** The UDP socket families a VXLAN device opens when up. */
const socketFamilies = (x: VxlanOptions): (4 | 6)[] => (x.external ? [4, 6] : [vxlanIsV6(x) ? 6 : 4]);

function vlans(ctx: Ctx, d: Decl, byKey: ReadonlyMap<string, Decl>): void {
  const filtering = (x: Decl | undefined): boolean => x?.res.type === 'bridge' && !!x.res.bridge?.vlanFiltering;
  const master = d.res.master !== undefined ? byKey.get(`${d.ns}/${d.res.master}`) : undefined;
  if (!filtering(d) && !filtering(master)) {
    const why =
      d.res.type === 'bridge' ? `bridge '${d.name}' needs 'bridge.vlan_filtering: true'` : master && master.res.type === 'bridge'
        ? `master bridge '${master.name}' needs 'bridge.vlan_filtering: true'`
        : `only a vlan_filtering bridge or its ports can have vlans`;
    ctx.err(d.e, 'vlans', `vlans: ${why}`, true);
  }
  const items: Raw[] = d.raw.vlans;
  const runs = listRuns(ctx, d.e, 'vlans', items.map((x) => x.vid), 1, 4094, 'VLAN', '/vid');
  const pvids = items.map((x, i) => (x.pvid ? i : -1)).filter((i) => i >= 0);
  for (const i of pvids) {
    const r = parseRange(items[i]!.vid);
    if (r && r.lo !== r.hi) ctx.err(d.e, `vlans/${i}/pvid`, `pvid cannot be set on a VLAN range`);
  }
  if (pvids.length > 1) ctx.err(d.e, `vlans/${pvids[1]}/pvid`, `only one VLAN can be the pvid (also item ${pvids[0]})`);
  const list: BridgeVlan[] = [];
  for (const { lo, hi, item } of runs) for (let vid = lo; vid <= hi; vid++) list.push({ vid, pvid: items[item]!.pvid === true, untagged: items[item]!.untagged === true });
  d.res = { ...d.res, vlans: list };
}

/** Glob with * and ? (the `ignore` patterns). */
export function globMatch(glob: string, name: string): boolean {
  const re = glob.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.');
  return new RegExp(`^${re}$`).test(name);
}
