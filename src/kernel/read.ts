// Read the live state of a set of logical namespaces: one dump per kind per namespace.
import { nsLabel, resourceKey } from '../model/keys';
import { VOLTRON_RTPROT, type AddressRes, type LinkRes, type Resource, type ResourceKind, type RouteRes, type RuleRes } from '../model/types';
import { readAddresses } from './address';
import { readLinks, stackedOnLowerLink, type RawLink } from './link';
import { readNamespaces } from './namespace';
import { AttrWriter, Attrs } from './netlink/attrs';
import * as R from './netlink/rtnl';
import { openNetns } from './netns';
import { libc } from './libc';
import { readRoutes } from './route';
import { readRules } from './rule';
import type { KernelSession, NsContext } from './session';
import { readSysctls } from './sysctl';
import { readTunsrc } from './tunsrc';
import { pushTo } from '../util/multimap';
import { readBridgeVlans, readVnis } from './vlan';

export interface ReadRequest {
  /** Logical namespaces to read ('' = root). Missing ones are skipped. */
  readonly namespaces: readonly string[];
  /** Sysctl keys to read per logical namespace. */
  readonly sysctls: ReadonlyMap<string, readonly string[]>;
  /** Namespaces whose seg6 tunsrc matters. */
  readonly tunsrc: readonly string[];
  /** Keys that matter (desired or owned): kernel-made routes outside it are not decoded. */
  readonly interesting?: (key: string) => boolean;
  /** Routing tables to read (undefined: all). */
  readonly routeTables?: readonly number[];
  /** Per logical namespace, the kinds extra readers must produce (undefined: all). */
  readonly extraKinds?: ReadonlyMap<string, ReadonlySet<ResourceKind>>;
  /**
   * Per logical namespace, the IP families whose addresses, routes and rules matter (a kind
   * with none is not dumped at all); undefined: every family of every kind.
   */
  readonly families?: ReadonlyMap<string, FamilyScope>;
}

export interface FamilyScope {
  readonly address: ReadonlySet<4 | 6>;
  readonly route: ReadonlySet<4 | 6>;
  readonly rule: ReadonlySet<4 | 6>;
}

const NO_FAMILIES: FamilyScope = { address: new Set(), route: new Set(), rule: new Set() };

/** The families to dump for a kind: undefined = all in one dump, else one dump per family. */
function familiesFor(req: ReadRequest, ns: string, kind: keyof FamilyScope): readonly (4 | 6 | undefined)[] {
  if (!req.families) return [undefined];
  return [...(req.families.get(ns) ?? NO_FAMILIES)[kind]].sort();
}

/** Extra per-namespace readers (qdiscs, tc filters, ...) registered by other kernel modules. */
export type NamespaceReader = (session: KernelSession, ctx: NsContext, names: ReadonlyMap<number, string>) => Resource[];
const extraReaders: { read: NamespaceReader; kinds: readonly ResourceKind[] }[] = [];
/** `kinds`: what the reader produces (it is skipped where a request needs none of them). */
export function registerReader(read: NamespaceReader, kinds: readonly ResourceKind[]): void {
  extraReaders.push({ read, kinds });
}
/** Global readers (bpf programs) called once per read. */
export type GlobalReader = (session: KernelSession) => Resource[];
const globalReaders: GlobalReader[] = [];
export function registerGlobalReader(r: GlobalReader): void {
  globalReaders.push(r);
}

const RTM_GETNSID = 90;
const NETNSA_NSID = 1;
const NETNSA_FD = 3;

/** nsid (as seen from ctx) of another logical namespace, or undefined if none assigned. */
function nsidOf(session: KernelSession, ctx: NsContext, other: string): number | undefined {
  const fd = openNetns(session.physical(other));
  try {
    const req = Buffer.concat([Buffer.alloc(4), new AttrWriter().u32(NETNSA_FD, fd).toBuffer()]);
    const reply = ctx.sock.request(RTM_GETNSID, 0, req, 'get nsid', false)[0];
    if (!reply) return undefined;
    const b = Attrs.parse(reply.data, 4).get(NETNSA_NSID);
    const id = b ? b.readInt32LE(0) : -1;
    return id >= 0 ? id : undefined;
  } finally {
    libc.close(fd);
  }
}

const IFLA_TARGET_NETNSID = 46;
const fingerprint = (name: string, index: number, mac: string): string => `${name}|${index}|${mac}`;

/**
 * Name, index and MAC of link `index` of the namespace that nsid `id` names from ctx (read
 * there through IFLA_TARGET_NETNSID, Linux 4.20+); undefined if the kernel does not say.
 */
function peerFingerprint(ctx: NsContext, id: number, index: number): string | undefined {
  const req = Buffer.concat([R.ifinfomsg({ index }), new AttrWriter().s32(IFLA_TARGET_NETNSID, id).toBuffer()]);
  let reply;
  try {
    reply = ctx.sock.request(R.RTM_GETLINK, 0, req, 'get peer link', false).find((m) => m.type === R.RTM_NEWLINK);
  } catch {
    return undefined; // an older kernel, or not allowed there: the namespaces are asked in turn
  }
  if (!reply) return undefined;
  const a = Attrs.parse(reply.data, 16);
  const name = a.str(R.IFLA_IFNAME);
  const mac = a.macAt(a.firstAt(R.IFLA_ADDRESS));
  return name === undefined || mac === undefined ? undefined : fingerprint(name, reply.data.readInt32LE(4), mac);
}

/**
 * The kernel allows several rules with one priority, and several routes under one key (`ip route
 * append`); their keys collide. Voltron's own (its protocol) keeps the key and the others get
 * `<key>#N`, so they stay foreign instead of masking it (a plan would then "replace" the foreign one).
 */
function addKeepingOurs(out: Map<string, Resource>, r: RuleRes | RouteRes): void {
  const key = resourceKey(r);
  // A route or rule Voltron never makes (multipath, TOS, source prefix; uidrange, goto, ...) is never the one at the key,
  // even where no other is: a plan would take it for the declared route and update or delete it.
  if (r.unmodelled !== undefined) {
    setAside(out, key, r);
    return;
  }
  // Kernel-made routes (connected, IPv6 link-local prefixes: one per link under one key) are
  // never anyone's to change: the last read stands for them, as before.
  if (r.kind === 'route' && r.protocol === RTPROT_KERNEL) {
    out.set(key, r);
    return;
  }
  const prev = out.get(key) as RuleRes | RouteRes | undefined;
  if (!prev) {
    out.set(key, r);
    return;
  }
  const ours = prev.protocol !== VOLTRON_RTPROT && r.protocol === VOLTRON_RTPROT;
  if (ours) out.set(key, r);
  setAside(out, key, ours ? prev : r);
}

const RTPROT_KERNEL = 2;
const asideCount = new WeakMap<Map<string, Resource>, Map<string, number>>();

/** Keep `r` under `<key>#N`: a live object that must not be taken for the one keyed `key`. */
export function setAside(out: Map<string, Resource>, key: string, r: Resource): void {
  let counts = asideCount.get(out);
  if (!counts) asideCount.set(out, (counts = new Map()));
  let n = counts.get(key) ?? 2;
  while (out.has(`${key}#${n}`)) n++;
  counts.set(key, n + 1);
  out.set(`${key}#${n}`, r);
}

/**
 * IPv4 primaries whose device promotes a secondary when they go (promote_secondaries, `all` or
 * the device's own): read only for devices that have secondaries (rare), one file each.
 */
function markPromoting(session: KernelSession, ns: string, addrs: AddressRes[]): AddressRes[] {
  const devs = [...new Set(addrs.filter((a) => a.secondary).map((a) => a.dev))];
  if (devs.length === 0) return addrs;
  const key = (dev: string) => `net.ipv4.conf.${dev.replace(/\./g, '/')}.promote_secondaries`;
  const on = new Set(readSysctls(session, ns, [key('all'), ...devs.map(key)]).filter((s) => s.value.trim() !== '0').map((s) => s.key));
  return addrs.map((a) => (devs.includes(a.dev) && !a.secondary && (on.has(key('all')) || on.has(key(a.dev))) ? { ...a, promotes: true } : a));
}

export function readState(session: KernelSession, req: ReadRequest): Map<string, Resource> {
  const out = new Map<string, Resource>();
  const add = (r: Resource) => out.set(resourceKey(r), r);
  for (const n of readNamespaces(session)) add(n);
  const present = [...new Set(req.namespaces)].filter((ns) => session.exists(ns)).sort();
  const raw = new Map<string, RawLink[]>();
  for (const ns of present) {
    const ctx = session.ns(ns);
    const links = readLinks(ctx);
    raw.set(ns, links);
    const names = new Map(links.map((l) => [l.index, l.name]));
    const byName = new Map<string, LinkRes>(links.map((l) => [l.name, l.res]));
    if (links.some((l) => l.res.bridge?.vlanFiltering)) {
      for (const [dev, vlans] of readBridgeVlans(ctx, names)) {
        const l = byName.get(dev);
        if (l) byName.set(dev, { ...l, vlans });
      }
    }
    if (links.some((l) => l.res.vxlan?.vnifilter)) {
      for (const [dev, vnis] of readVnis(ctx, names)) {
        const l = byName.get(dev);
        if (l) byName.set(dev, { ...l, vnis });
      }
    }
    for (const l of byName.values()) if (l.type !== 'veth') add(l);
    // Kernel-made addresses only matter if the config or inventory names one (then it is adopted).
    for (const f of familiesFor(req, ns, 'address')) {
      const addrs = readAddresses(ctx, names, f).filter((a) => !a.kernelMade || req.interesting?.(resourceKey(a.res)));
      // One Voltron never writes (noprefixroute, a peer ...) is never taken for the declared one.
      for (const a of markPromoting(session, ns, addrs.map((x) => x.res))) if (a.unmodelled === undefined) add(a);
      else setAside(out, resourceKey(a), a);
    }
    for (const f of familiesFor(req, ns, 'route')) for (const r of readRoutes(ctx, names, req.interesting, req.routeTables, f)) addKeepingOurs(out, r);
    for (const f of familiesFor(req, ns, 'rule')) for (const r of readRules(ctx, f)) addKeepingOurs(out, r);
    for (const r of readSysctls(session, ns, req.sysctls.get(ns) ?? [])) add(r);
    if (req.tunsrc.includes(ns)) add(readTunsrc(session, ns));
    for (const { read, kinds } of extraReaders) {
      const want = req.extraKinds?.get(ns);
      if (req.extraKinds && !kinds.some((k) => want?.has(k))) continue;
      for (const r of read(session, ctx, names)) add(r);
    }
    // keep vlan-annotated links for veth resolution below
    raw.set(ns, links.map((l) => ({ ...l, res: byName.get(l.name) ?? l.res })));
  }
  // ifindex → name per namespace, made when first needed (most reads have no veth).
  const byIndex = new Map<string, Map<number, string>>();
  const indexed = (ns: string): Map<number, string> => {
    let m = byIndex.get(ns);
    if (!m) byIndex.set(ns, (m = new Map((raw.get(ns) ?? []).map((p) => [p.index, p.name]))));
    return m;
  };
  // Veth peers, and the lower devices of links moved in from another namespace (a macvlan made on
  // a device there), may live in other namespaces: resolve them through netns ids.
  // Which namespace holds a veth's peer: the kernel gives only an nsid, and maps an nsid to a
  // namespace only the other way round (RTM_GETNSID: namespace → nsid). Asking every namespace
  // in every namespace was n² requests (400 namespaces with a veth to the root each: 160000,
  // 1.9 s of a no-op plan's 2 s). The peer's name and MAC, read through its nsid, say which
  // namespace to ask; the others are asked only when that fails.
  const byFingerprint = new Map<string, string[]>();
  for (const [ns, links] of raw) {
    for (const l of links) {
      if (l.res.type !== 'veth' || l.res.mac === undefined) continue;
      pushTo(byFingerprint, fingerprint(l.name, l.index, l.res.mac), ns);
    }
  }
  for (const ns of present) {
    const ctx = session.ns(ns);
    // nsid → namespace, learnt as namespaces are asked (each at most once from here).
    const nsids = new Map<number, string>();
    const asked = new Set([ns]);
    let next = 0;
    const ask = (other: string): void => {
      asked.add(other);
      const n = nsidOf(session, ctx, other);
      if (n !== undefined) nsids.set(n, other);
    };
    const nsOf = (id: number, peerIndex: number | undefined): string => {
      if (!nsids.has(id) && peerIndex !== undefined) {
        const k = peerFingerprint(ctx, id, peerIndex);
        for (const h of (k && byFingerprint.get(k)) || []) if (!nsids.has(id) && !asked.has(h)) ask(h);
      }
      while (!nsids.has(id) && next < present.length) {
        const other = present[next++]!;
        if (!asked.has(other)) ask(other);
      }
      return nsids.get(id) ?? '?';
    };
    for (const l of raw.get(ns)!) {
      const veth = l.res.type === 'veth';
      if (!veth && (l.linkNetnsId === undefined || (l.res.type !== 'vxlan' && (l.linkIndex === undefined || !stackedOnLowerLink(l.res))))) continue;
      const linkNs = l.linkNetnsId === undefined ? ns : nsOf(l.linkNetnsId, veth ? l.linkIndex : undefined);
      const other = (l.linkIndex !== undefined && indexed(linkNs).get(l.linkIndex)) || '?';
      if (veth) {
        add({ ...l.res, veth: { peer: { name: other, namespace: linkNs }, primary: true } });
      } else {
        // Moved in from another namespace: not a link the config can declare here (a macvlan's
        // parent is a link of its namespace; a VXLAN's sockets and VNI stay where it was made),
        // but the kernel deletes it with its lower device there.
        const lower = l.linkIndex !== undefined ? { lower: { namespace: linkNs, name: other } } : {};
        const where = linkNs === '?' ? 'a namespace Voltron does not read' : `namespace ${nsLabel(linkNs)}`;
        const form = l.res.type === 'macvlan' ? `parent ${other} in ${where}` : l.res.type === 'vxlan' ? `made in ${where}` : undefined;
        const unmodelled = form === undefined ? {} : { unmodelled: l.res.unmodelled === undefined ? form : `${l.res.unmodelled} ${form}` };
        add({ ...l.res, ...unmodelled, ...lower, ...(l.res.type === 'vxlan' ? { madeIn: linkNs } : {}) });
      }
    }
  }
  for (const g of globalReaders) for (const r of g(session)) add(r);
  return out;
}
