// `show`'s pure half: live resources → a document in the config format (schema/voltron.schema.json),
// so that the document, fed back as a config, plans empty against the same kernel.
// Rendering (YAML with `# owned` comments, JSON with `owned: true`) is in show.ts.
import { seg6Mtu } from '../config/norm-srv6';
import { formatRate, formatSize, formatTime } from '../config/units';
import { resourceKey, resourceNamespace } from '../model/keys';
import { CLSACT_DEFAULT_PRIORITY, QDISC_KINDS, type BpfProgramRes, type LinkRes, type QdiscRes, type Resource, type RouteEncap, type RouteRes, type StateMap, type TcClassRes, type TcFilterRes } from '../model/types';
import { compileIgnore, isIgnored } from '../plan/ignore';
import { linkKey } from '../plan/refs';
import { LEFTOVER } from '../plan/handover';
import { rangeItem } from '../util/ranges';
import type { Inventory } from '../plan/types';

export interface ShowFilter {
  /** Only objects living in this logical namespace ('' root). */
  readonly namespace?: string;
  /** Also kernel-made objects (connected routes, default rules, link-local addresses, lo). */
  readonly all: boolean;
  /** The config's `ignore:` globs: matching links and what lives on them are hidden. */
  readonly ignore?: readonly string[];
}

export type Item = Record<string, unknown>;

/** A list entry (or the root sysctls) with its ownership marks. */
export interface ShowItem {
  readonly item: Item;
  readonly owned: boolean;
  /** Keys of `item.sysctls` the inventory owns. */
  readonly ownedSysctls: ReadonlySet<string>;
  /** A namespace's `seg6.tunsrc` is owned. */
  readonly ownedSeg6?: boolean;
}

export interface ShowDoc {
  readonly ignore: readonly string[];
  /** Root namespace sysctls (top-level `sysctls:` mapping). */
  readonly sysctls: ShowItem;
  /** Root namespace seg6 settings (top-level `seg6:` mapping), if shown. */
  readonly seg6?: { readonly tunsrc: string; readonly owned: boolean };
  /** Top-level lists in config order: namespaces, links, addresses, routes, rules, ... */
  readonly sections: ReadonlyMap<string, readonly ShowItem[]>;
  /**
   * Objects the config format cannot declare, by kind (`links`: other kinds, veths whose peer is
   * not visible; `qdiscs`: other kinds, or under a class that is not an htb class; `filters`:
   * programs that are not a declared bpf program; `routes`: multipath, TOS, source-prefix or
   * onlink routes, or with metrics the config lacks; `rules`: inverted, goto, uidrange, ...).
   * Printed under `x-unmanaged-<kind>`.
   */
  readonly unmanaged: ReadonlyMap<string, readonly Item[]>;
}

/** Top-level section order of the config format. */
export const SECTION_ORDER = ['namespaces', 'links', 'addresses', 'routes', 'rules', 'qdiscs', 'classes', 'filters', 'bpf'];

/** Objects the kernel makes by itself: hidden unless `--all` (or owned, i.e. adopted). */
export function kernelMade(r: Resource): boolean {
  if (r.kind === 'route') return r.protocol !== undefined && r.protocol <= 2; // kernel/unspec/redirect
  if (r.kind === 'rule') return r.protocol === 2 || ([0, 32766, 32767].includes(r.priority) && r.protocol === undefined);
  if (r.kind === 'address') return r.dev === 'lo' || /^fe80:/i.test(r.address);
  if (r.kind === 'link') return r.name === 'lo';
  return false;
}

function withNs(o: Item, n: string): Item {
  return n === '' ? o : { ...o, namespace: n };
}

export function clean(o: Item): Item {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined));
}

/** Sysctl text as the config writes it: integers as numbers (`1`), anything else as a string. */
export function sysctlValue(v: string): string | number {
  return /^-?(0|[1-9]\d{0,14})$/.test(v) ? Number(v) : v;
}

const ZERO_MAC = '00:00:00:00:00:00';

/**
 * The MAC the config can declare: none for a bridge without ports (the kernel reports all zeros,
 * which the config refuses) or a passthru macvlan (it always has its parent's address).
 */
function declarableMac(r: LinkRes): string | undefined {
  if (r.mac === ZERO_MAC || r.macvlan?.mode === 'passthru') return undefined;
  return r.mac;
}

/** The per-end attributes a veth `peer:` block may carry. */
function endAttrs(r: LinkRes): Item {
  return { mtu: r.mtu, mac: declarableMac(r), state: r.state, master: r.master, alias: r.alias };
}

export interface VethView {
  /** The end whose entry declares the pair. */
  readonly self: LinkRes;
  /** The other end when it is shown too (its attributes go under `peer:`). */
  readonly peer?: LinkRes;
  /**
   * The other end when only `-n` hides it: its attributes go under `peer:` too (left out, the
   * document used as a config would set a down end up, or take a port off its bridge).
   */
  readonly outside?: LinkRes;
  /** The bridge `outside` is a port of, printed with the document so that `master` names a declared link. */
  readonly outsideMaster?: LinkRes;
  readonly peerRef: { readonly name: string; readonly namespace: string };
}

/**
 * Which end of a veth pair declares it. The kernel cannot tell; readCurrent takes it from the
 * config or inventory, else both ends claim it and the smaller key wins, so a pair is printed once.
 */
export function declaringEnd(a: LinkRes, b: LinkRes | undefined): LinkRes {
  if (!b?.veth) return a;
  const pa = a.veth?.primary === true;
  const pb = b.veth.primary;
  if (pa !== pb) return pa ? a : b;
  return resourceKey(a) <= resourceKey(b) ? a : b;
}

/**
 * The entry a visible veth end yields, or undefined when the pair is printed from its other end.
 * `visible` says whether an end passes the filters (namespace, ignore): when only one end does,
 * it declares the pair itself. `outside` says whether an end is hidden by the namespace filter
 * alone: its attributes are still declared, else the document, used as a config, would reset them.
 */
export function vethView(r: LinkRes, current: StateMap, visible: (l: LinkRes) => boolean, outside: (l: LinkRes) => boolean = () => false): VethView | undefined {
  const ref = r.veth!.peer;
  const found = current.get(linkKey(ref.namespace, ref.name)) as LinkRes | undefined;
  const other = found?.kind === 'link' && found.veth ? found : undefined;
  const peer = other && visible(other) ? other : undefined;
  if (peer && declaringEnd(r, peer) !== r) return undefined;
  const out = other && !peer && outside(other) ? other : undefined;
  const m = out?.master === undefined ? undefined : current.get(linkKey(out.namespace, out.master));
  // Only a master the config can declare (not a bond or VRF, not ignored).
  const outsideMaster = m?.kind === 'link' && m.type !== 'other' && m.unmodelled === undefined && outside(m) ? m : undefined;
  return { self: r, peer, outside: out, outsideMaster, peerRef: ref };
}

function linkItem(r: LinkRes, view: VethView | undefined): Item {
  const b = r.bridge;
  const v = r.vxlan;
  let peer: Item | undefined;
  if (view) {
    const samens = view.peerRef.namespace === r.namespace;
    // An omitted peer namespace means the link's own: the root must then be spelled ''.
    const attrs = view.peer ? endAttrs(view.peer) : view.outside ? { ...endAttrs(view.outside), master: view.outsideMaster?.name } : {};
    peer = clean({ name: view.peerRef.name, namespace: samens ? undefined : view.peerRef.namespace, ...attrs });
  }
  return withNs(
    clean({
      name: r.name,
      type: r.type,
      ...endAttrs(r),
      peer,
      bridge: b ? clean({ vlan_filtering: b.vlanFiltering, stp: b.stp, vlan_default_pvid: b.vlanDefaultPvid, ageing_time: b.ageingTime, forward_delay: b.forwardDelay, multicast_snooping: b.multicastSnooping }) : undefined,
      vxlan: v ? clean({ vni: v.vni, local: v.local, remote: v.remote, group: v.group, dev: v.dev, dstport: v.dstport, learning: v.learning, ttl: v.ttl, external: v.external, vnifilter: v.vnifilter }) : undefined,
      macvlan: r.macvlan ? clean({ ...r.macvlan }) : undefined,
      vlans: r.vlans?.map((x) => clean({ vid: x.vid, pvid: x.pvid || undefined, untagged: x.untagged || undefined })),
      vnis: r.vnis?.map(rangeItem),
    }),
    r.namespace,
  );
}

/** A link the config format cannot declare, kept under `x-unmanaged-links` (ignored by the loader). */
function unmanagedItem(r: LinkRes): Item {
  const kind = r.type === 'other' ? r.otherKind || 'device' : r.type;
  return withNs(clean({ name: r.name, kind, form: r.unmodelled, peer: r.veth ? `${r.veth.peer.namespace}/${r.veth.peer.name} (not visible)` : undefined }), r.namespace);
}

/** A route encap in config spelling (the model's `vrfTable` is `vrf_table`). */
function encapItem(e: RouteEncap): Item {
  if (e.type === 'seg6') return { ...e };
  const { vrfTable, ...rest } = e;
  return clean({ ...rest, vrf_table: vrfTable });
}

/** A list entry of the config for a resource; links, sysctls, tunsrc and namespaces are built elsewhere. */
function listItem(r: Resource): [section: string, item: Item] | undefined {
  switch (r.kind) {
    case 'address':
      return ['addresses', withNs({ address: r.address, dev: r.dev }, r.namespace)];
    case 'route':
      return [
        'routes',
        withNs(
          clean({
            to: r.to,
            via: r.via,
            // The kernel puts IPv6 blackhole/unreachable/prohibit routes on lo; the config has no dev there.
            dev: r.type === 'unicast' ? r.dev : undefined,
            table: r.table === 254 ? undefined : r.table,
            metric: r.metric === (r.family === 6 ? 1024 : 0) ? undefined : r.metric,
            type: r.type === 'unicast' ? undefined : r.type,
            src: r.src,
            mtu: r.mtu,
            scope: r.scope,
            encap: r.encap ? encapItem(r.encap) : undefined,
          }),
          r.namespace,
        ),
      ];
    case 'rule':
      return ['rules', withNs(clean({ priority: r.priority, family: r.family, action: r.action === 'lookup' ? undefined : r.action, table: r.table, from: r.from, to: r.to, fwmark: r.fwmark, fwmask: r.fwmask, iif: r.iif, oif: r.oif }), r.namespace)];
    case 'tclass':
      return ['classes', classItem(r)];
    case 'bpf':
      return ['bpf', bpfItem(r)];
    case 'namespace':
    case 'link':
    case 'sysctl':
    case 'tunsrc':
    case 'qdisc':
    case 'tfilter':
      return undefined;
  }
}

const num = (o: QdiscRes['options'], k: string): number | undefined => (typeof o[k] === 'number' ? (o[k] as number) : undefined);
const opt = <T>(v: number | undefined, f: (n: number) => T): T | undefined => (v === undefined ? undefined : f(v));

/**
 * A qdisc's options in config spelling and units (rates `10mbit`, sizes `32kb`, times `50ms`, htb
 * `default` as a hex minor), or undefined when the config cannot declare them.
 */
export function qdiscOptions(r: QdiscRes): Item | undefined {
  const o = r.options;
  switch (r.qdisc) {
    case 'clsact':
      return {};
    case 'pfifo':
      return { limit: num(o, 'limit') };
    case 'htb': {
      const d = num(o, 'default');
      if (d !== undefined && d > 0xffff) return undefined;
      return { default: opt(d, (x) => x.toString(16)), r2q: num(o, 'r2q') };
    }
    case 'tbf': {
      const rate = num(o, 'rate');
      const burst = num(o, 'burst');
      const latency = num(o, 'latency');
      if (!rate || burst === undefined) return undefined;
      // The config takes exactly one of latency and limit: the latency when the kernel's limit maps
      // back to one (read as the smallest latency giving that limit), else the limit itself.
      return {
        rate: formatRate(rate),
        burst: formatSize(burst),
        latency: opt(latency, formatTime),
        limit: latency === undefined ? opt(num(o, 'limit'), formatSize) : undefined,
        peakrate: opt(num(o, 'peakrate') || undefined, formatRate),
        mtu: num(o, 'peakrate') ? num(o, 'mtu') : undefined,
      };
    }
    case 'fq':
      return { limit: num(o, 'limit'), flow_limit: num(o, 'flow_limit'), quantum: opt(num(o, 'quantum'), formatSize), maxrate: opt(num(o, 'maxrate') || undefined, formatRate) };
    case 'fq_codel':
      return {
        limit: num(o, 'limit'),
        flows: num(o, 'flows'),
        target: opt(num(o, 'target'), formatTime),
        interval: opt(num(o, 'interval'), formatTime),
        quantum: opt(num(o, 'quantum'), formatSize),
        ecn: opt(num(o, 'ecn'), (x) => x !== 0),
      };
    default:
      return undefined; // a kind Voltron does not manage (prio, ingress, ...)
  }
}

/**
 * Where a qdisc sits, in config keys. The ingress/clsact slot has no `parent` in the config (the
 * model names it 'clsact' whichever of the two holds it): an `ingress` qdisc is printed with its
 * handle and no parent, as `tc` shows it (`ingress ffff:`), not as a qdisc under a clsact.
 */
function qdiscPlace(r: QdiscRes): Item {
  const slot = r.parent === 'clsact';
  return { dev: r.dev, parent: slot ? undefined : r.parent, handle: r.qdisc === 'clsact' ? undefined : r.handle, kind: r.qdisc };
}

function qdiscItem(r: QdiscRes, options: Item): Item {
  return withNs(clean({ ...qdiscPlace(r), ...clean(options) }), r.namespace);
}

/** Why a qdisc is listed under `x-unmanaged-qdiscs` instead of `qdiscs`. */
function unmanagedQdiscForm(r: QdiscRes, options: Item | undefined): string {
  if (!QDISC_KINDS.has(r.qdisc)) return r.parent === 'clsact' ? `kind ${r.qdisc} is not modelled (a clsact qdisc has the same ingress hook)` : `kind ${r.qdisc} is not modelled`;
  if (options === undefined) return 'options the config cannot declare';
  return `under ${r.parent}, which is not an htb class in this document`;
}

function classItem(r: TcClassRes): Item {
  const qdisc = `${r.classid.split(':')[0]}:`;
  return withNs(clean({ dev: r.dev, classid: r.classid, parent: r.parent === qdisc ? undefined : r.parent, rate: formatRate(r.rate), ceil: opt(r.ceil, formatRate) }), r.namespace);
}

/** Hex bytes as the docs write them: `03 00 00 00`. */
function spacedHex(h: string): string {
  return (h.match(/../g) ?? []).join(' ');
}

/** A bpf program from its record (object, program, attach, maps, entries); the tag is the kernel's, not declared. */
function bpfItem(r: BpfProgramRes): Item {
  const a = r.attach;
  const entries = r.mapEntries && Object.entries(r.mapEntries).filter(([m]) => r.maps.includes(m)); // a map whose pin is gone is not listed
  return clean({
    name: r.name,
    object: r.object,
    program: r.program,
    attach: clean({ type: a.type, namespace: a.namespace || undefined, dev: a.dev, direction: a.direction, cgroup: a.cgroup, hook: a.hook, priority: a.priority }),
    maps: r.maps.length > 0 ? [...r.maps] : undefined,
    map_entries: entries && entries.length > 0 ? Object.fromEntries(entries.map(([m, l]) => [m, l.map((kv) => ({ key: spacedHex(kv.key), value: spacedHex(kv.value) }))])) : undefined,
  });
}

/** The tc filter a clsact bpf program attaches through is that program's, not a `filters` entry. */
function programFilters(current: StateMap): Set<string> {
  const out = new Set<string>();
  for (const r of current.values()) {
    if (r.kind !== 'bpf' || r.attach.type !== 'clsact') continue;
    const a = r.attach;
    out.add(resourceKey({ kind: 'tfilter', namespace: a.namespace ?? '', dev: a.dev!, direction: a.direction!, priority: a.priority ?? CLSACT_DEFAULT_PRIORITY, program: r.name }));
  }
  return out;
}

function filterItem(r: TcFilterRes, managed: boolean): Item {
  return withNs(clean({ dev: r.dev, direction: r.direction, priority: r.priority, program: r.program, tag: managed ? undefined : r.tag }), r.namespace);
}

/**
 * A seg6 route without an MTU metric (as `ip route add ... encap seg6` makes it): the config gives
 * every seg6 route one (declared, or derived from its segment count), so printed as a route it
 * would plan an MTU write. An owned one stays a route (its MTU was removed behind Voltron's back).
 */
const seg6WithoutMtu = (r: RouteRes): boolean => r.encap?.type === 'seg6' && r.mtu === undefined;

function seg6WithoutMtuForm(r: RouteRes): string {
  const segs = r.encap?.type === 'seg6' ? r.encap.segments : [];
  return `seg6 ${r.encap?.type === 'seg6' ? r.encap.mode : ''} segs ${segs.join(',')} without mtu (declared, it gets mtu ${seg6Mtu(segs.length)} unless it declares one)`;
}

/** Why a rule or route set aside at another's key is not a list entry: the config takes one per key. */
const SAME_KEY = 'another at the same key (the config declares one per key)';
/** A rule the inventory records as left by an interrupted replace (reconcile: placeRuleLeftovers). */
const LEFT_BY_REPLACE = "Voltron's, left by a replace interrupted between its add and its delete: the next apply deletes it";

interface NsAcc {
  readonly item: Item & { sysctls?: Record<string, string | number>; seg6?: { tunsrc: string } };
  owned: boolean;
  ownedSeg6: boolean;
  readonly ownedSysctls: Set<string>;
}

/** A link printed under `x-unmanaged-links` for what it is itself (kind, options, invisible peer). */
const unmanagedLink = (r: LinkRes): boolean => r.name !== 'lo' && (r.type === 'other' || r.unmodelled !== undefined || r.veth?.peer.namespace === '?');

/**
 * Links the document cannot declare (`ns/name` → why), and with them what needs them: the config
 * takes only a bridge for a master, and outside the root namespace (where an undeclared device is
 * a host device) only a declared link for a macvlan's parent or a VXLAN's `dev`; a veth pair is
 * declared whole. Printed as a link entry, such a link would make the document invalid, or
 * (without its master) a config that takes it out of its bond or VRF.
 */
function undeclarableLinks(current: StateMap): Map<string, string> {
  const out = new Map<string, string>();
  const links = [...current.values()].filter((r): r is LinkRes => r.kind === 'link');
  for (const l of links) if (unmanagedLink(l)) out.set(linkKey(l.namespace, l.name), '');
  const on = (l: LinkRes, dev: string | undefined): boolean => dev !== undefined && out.has(linkKey(l.namespace, dev));
  for (let grew = true; grew; ) {
    grew = false;
    for (const l of links) {
      const k = linkKey(l.namespace, l.name);
      if (out.has(k)) continue;
      const below = l.namespace === '' ? undefined : l.macvlan?.parent ?? l.vxlan?.dev;
      const peer = l.veth && linkKey(l.veth.peer.namespace, l.veth.peer.name);
      const why = on(l, l.master) ? `a port of ${l.master}, a link the config cannot declare`
        : on(l, below) ? `on ${below}, a link the config cannot declare`
        : peer !== undefined && out.has(peer) ? `the peer of ${l.veth!.peer.namespace || '(root)'}/${l.veth!.peer.name}, which the config cannot declare` : undefined;
      if (why === undefined) continue;
      out.set(k, why);
      grew = true;
    }
  }
  return out;
}

/**
 * The device an object outside the root namespace sits on when the document cannot declare that
 * device (undeclarableLinks): the config refuses an undeclared `dev` there.
 */
function onUndeclarable(r: Resource, undeclarable: ReadonlyMap<string, string>): string | undefined {
  if (r.kind !== 'address' && r.kind !== 'route' && r.kind !== 'qdisc' && r.kind !== 'tclass' && r.kind !== 'tfilter') return undefined;
  if (r.namespace === '') return undefined;
  const devs = r.kind === 'route' ? [r.dev, r.encap?.type === 'seg6local' ? r.encap.oif : undefined] : [r.dev];
  return devs.find((d) => d !== undefined && undeclarable.has(linkKey(r.namespace, d)));
}

type OnDevice = Extract<Resource, { kind: 'address' | 'route' | 'qdisc' | 'tclass' | 'tfilter' }>;

/** The section and identifying fields of an object listed apart for the device it sits on. */
function identityItem(r: OnDevice, form: string): [section: string, item: Item] {
  switch (r.kind) {
    case 'address':
      return ['addresses', withNs({ address: r.address, dev: r.dev, form }, r.namespace)];
    case 'route':
      return ['routes', withNs(clean({ to: r.to, table: r.table === 254 ? undefined : r.table, metric: r.metric, form, dev: r.dev }), r.namespace)];
    case 'qdisc':
      return ['qdiscs', withNs(clean({ ...qdiscPlace(r), form }), r.namespace)];
    case 'tclass':
      return ['classes', withNs({ dev: r.dev, classid: r.classid, form }, r.namespace)];
    case 'tfilter':
      return ['filters', withNs(clean({ dev: r.dev, direction: r.direction, priority: r.priority, program: r.program, tag: r.tag, form }), r.namespace)];
  }
}

/** Live state → config document. */
export function buildShowDoc(current: StateMap, inventory: Inventory, f: ShowFilter): ShowDoc {
  // A foreign rule sharing an owned rule's priority is read under another key (kernel/read).
  const aliased = new Set([...current].filter(([k, r]) => k !== resourceKey(r)).map(([, r]) => r));
  const leftovers = new Set([...current].filter(([k]) => k.endsWith(LEFTOVER)).map(([, r]) => r));
  const isOwned = (r: Resource) => !aliased.has(r) && inventory.owned[resourceKey(r)] !== undefined;
  const match = compileIgnore(f.ignore ?? []);
  const visible = (r: Resource) =>
    (f.namespace === undefined || resourceNamespace(r) === f.namespace) && !isIgnored(r, match) && (f.all || isOwned(r) || !kernelMade(r));
  const hiddenByNamespace = (l: LinkRes) => f.namespace !== undefined && l.namespace !== f.namespace && !isIgnored(l, match);
  const sorted = [...current.values()].filter(visible).sort((a, b) => resourceKey(a).localeCompare(resourceKey(b)));

  const root: NsAcc = { item: {}, owned: false, ownedSeg6: false, ownedSysctls: new Set() };
  const namespaces = new Map<string, NsAcc>();
  const nsAcc = (name: string): NsAcc => {
    if (name === '') return root;
    let a = namespaces.get(name);
    if (!a) namespaces.set(name, (a = { item: { name }, owned: false, ownedSeg6: false, ownedSysctls: new Set() }));
    return a;
  };
  const sections = new Map<string, ShowItem[]>();
  const push = (section: string, item: Item, owned: boolean) => {
    const list = sections.get(section) ?? [];
    list.push({ item, owned, ownedSysctls: new Set() });
    sections.set(section, list);
  };
  const peerNamespaces = new Set<string>();
  const outsideMasters = new Set<LinkRes>();
  const unmanagedBy = new Map<string, Item[]>();
  const addUnmanaged = (k: string, i: Item) => {
    const l = unmanagedBy.get(k);
    if (l) l.push(i);
    else unmanagedBy.set(k, [i]);
  };
  const undeclarable = undeclarableLinks(current);
  const visibleKeys = new Set(sorted.map(resourceKey));
  const shownPrograms = new Set(sorted.flatMap((r) => (r.kind === 'bpf' ? [r.name] : [])));
  const ofPrograms = programFilters(current);
  // A clsact qdisc on a shown clsact program's device comes with the program (its attach creates
  // it if missing): declared separately only if the config declared it (owned).
  const programClsacts = new Set(sorted.flatMap((r) => (r.kind === 'bpf' && r.attach.type === 'clsact' ? [`${r.attach.namespace ?? ''}/${r.attach.dev}`] : [])));

  for (const r of sorted) {
    const owned = isOwned(r);
    if (r.kind === 'namespace') {
      if (r.name !== '') nsAcc(r.name).owned = owned;
    } else if (r.kind === 'sysctl') {
      const a = nsAcc(r.namespace);
      // Added to in place: a copy per key was n² (8000 device sysctls: 16 s of a show).
      (a.item.sysctls ??= {})[r.key] = sysctlValue(r.value);
      if (owned) a.ownedSysctls.add(r.key);
    } else if (r.kind === 'tunsrc') {
      // The root namespace's is the top-level `seg6`.
      const a = nsAcc(r.namespace);
      a.item.seg6 = { tunsrc: r.address };
      a.ownedSeg6 = owned;
    } else if (onUndeclarable(r, undeclarable) !== undefined) {
      const [section, item] = identityItem(r as OnDevice, `on ${onUndeclarable(r, undeclarable)}, a link the config cannot declare`);
      addUnmanaged(section, item);
    } else if (r.kind === 'link') {
      const why = undeclarable.get(linkKey(r.namespace, r.name));
      if (r.type === 'other' || r.unmodelled !== undefined) {
        addUnmanaged('links', unmanagedItem(r));
      } else if (why) {
        addUnmanaged('links', withNs(clean({ name: r.name, kind: r.type, form: why }), r.namespace));
      } else if (r.veth) {
        if (r.veth.peer.namespace === '?') addUnmanaged('links', unmanagedItem(r));
        else {
          const view = vethView(r, current, visible, hiddenByNamespace);
          if (view) {
            push('links', linkItem(r, view), owned);
            peerNamespaces.add(view.peerRef.namespace);
            if (view.outsideMaster) outsideMasters.add(view.outsideMaster);
          }
        }
      } else push('links', linkItem(r, undefined), owned);
    } else if (r.kind === 'qdisc') {
      if (r.qdisc === 'clsact' && !owned && programClsacts.has(`${r.namespace}/${r.dev}`)) continue;
      const options = qdiscOptions(r);
      // Under a class: only an htb class that is shown too can be named as the parent.
      const underClass = r.parent !== 'root' && r.parent !== 'clsact';
      if (options && (!underClass || visibleKeys.has(`tclass:${r.namespace}/${r.dev}/${r.parent}`))) push('qdiscs', qdiscItem(r, options), owned);
      else addUnmanaged('qdiscs', withNs(clean({ ...qdiscPlace(r), form: unmanagedQdiscForm(r, options) }), r.namespace));
    } else if (r.kind === 'tfilter') {
      if (ofPrograms.has(resourceKey(r))) continue; // printed as its bpf program (attach type clsact)
      const managed = shownPrograms.has(r.program);
      if (managed) push('filters', filterItem(r, true), owned);
      else addUnmanaged('filters', filterItem(r, false));
    } else if (r.kind === 'address' && r.unmodelled !== undefined) {
      addUnmanaged('addresses', withNs(clean({ address: r.address, dev: r.dev, form: r.unmodelled }), r.namespace));
    } else if (r.kind === 'rule' && (r.unmodelled !== undefined || aliased.has(r))) {
      // Set aside (kernel/read): printed as a rule it would repeat another's identity (priority).
      const form = r.unmodelled ?? (leftovers.has(r) ? LEFT_BY_REPLACE : SAME_KEY);
      addUnmanaged('rules', withNs(clean({ priority: r.priority, family: r.family, form, table: r.table, from: r.from, to: r.to, fwmark: r.fwmark, fwmask: r.fwmask, iif: r.iif, oif: r.oif }), r.namespace));
    } else if (r.kind === 'route' && (r.unmodelled !== undefined || aliased.has(r) || (!owned && seg6WithoutMtu(r)))) {
      const form = r.unmodelled ?? (aliased.has(r) ? SAME_KEY : seg6WithoutMtuForm(r));
      addUnmanaged('routes', withNs(clean({ to: r.to, table: r.table === 254 ? undefined : r.table, metric: r.metric, form, via: r.via, dev: r.dev }), r.namespace));
    } else {
      const c = listItem(r);
      if (c) push(c[0], c[1], owned);
    }
  }
  // A veth whose other end lives in a namespace `-n` leaves out still names it, and the bridge that
  // end is a port of: declared, or the document does not load back ("namespace 'x' is not declared").
  for (const m of outsideMasters) push('links', linkItem(m, undefined), isOwned(m));
  for (const n of peerNamespaces) {
    if (n === '' || namespaces.has(n)) continue;
    const live = current.get(resourceKey({ kind: 'namespace', name: n }));
    nsAcc(n).owned = live !== undefined && isOwned(live);
  }
  if (namespaces.size > 0) {
    const byName = [...namespaces.values()].sort((a, b) => String(a.item.name).localeCompare(String(b.item.name)));
    sections.set('namespaces', byName.map((a) => ({ item: a.item, owned: a.owned, ownedSysctls: a.ownedSysctls, ownedSeg6: a.ownedSeg6 })));
  }
  const order = (k: string) => (SECTION_ORDER.includes(k) ? SECTION_ORDER.indexOf(k) : SECTION_ORDER.length);
  return {
    ignore: f.ignore ?? [],
    sysctls: { item: root.item.sysctls ?? {}, owned: false, ownedSysctls: root.ownedSysctls },
    ...(root.item.seg6 ? { seg6: { tunsrc: root.item.seg6.tunsrc, owned: root.ownedSeg6 } } : {}),
    sections: new Map([...sections].sort(([a], [b]) => order(a) - order(b) || a.localeCompare(b))),
    unmanaged: unmanagedBy,
  };
}
