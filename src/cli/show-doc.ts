// `show`'s pure half: live resources → a document in the config format (schema/voltron.schema.json),
// so that the document, fed back as a config, plans empty against the same kernel.
// Rendering (YAML with `# owned` comments, JSON with `owned: true`) is in show.ts.
import { resourceKey, resourceNamespace } from '../model/keys';
import type { LinkRes, Resource, RouteEncap, StateMap } from '../model/types';
import { compileIgnore, isIgnored } from '../plan/ignore';
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
  /** Top-level lists in config order: namespaces, links, addresses, routes, rules, ... */
  readonly sections: ReadonlyMap<string, readonly ShowItem[]>;
  /** Links the config format cannot declare (other kinds, veths whose peer is not visible). */
  readonly unmanaged: readonly Item[];
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

/** The per-end attributes a veth `peer:` block may carry. */
function endAttrs(r: LinkRes): Item {
  return { mtu: r.mtu, mac: r.mac, state: r.state, master: r.master, alias: r.alias };
}

export interface VethView {
  /** The end whose entry declares the pair. */
  readonly self: LinkRes;
  /** The other end when it is shown too (its attributes go under `peer:`). */
  readonly peer?: LinkRes;
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
 * it declares the pair itself and names the other end without its attributes (they live elsewhere).
 */
export function vethView(r: LinkRes, current: StateMap, visible: (l: LinkRes) => boolean): VethView | undefined {
  const ref = r.veth!.peer;
  const other = current.get(`link:${ref.namespace}/${ref.name}`) as LinkRes | undefined;
  const peer = other?.kind === 'link' && other.veth && visible(other) ? other : undefined;
  if (peer && declaringEnd(r, peer) !== r) return undefined;
  return { self: r, peer, peerRef: ref };
}

function linkItem(r: LinkRes, view: VethView | undefined): Item {
  const b = r.bridge;
  const v = r.vxlan;
  let peer: Item | undefined;
  if (view) {
    const samens = view.peerRef.namespace === r.namespace;
    // An omitted peer namespace means the link's own: the root must then be spelled ''.
    peer = clean({ name: view.peerRef.name, namespace: samens ? undefined : view.peerRef.namespace, ...(view.peer ? endAttrs(view.peer) : {}) });
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
      vnis: r.vnis,
    }),
    r.namespace,
  );
}

/** A link the config format cannot declare, kept under `x-unmanaged-links` (ignored by the loader). */
function unmanagedItem(r: LinkRes): Item {
  const kind = r.type === 'other' ? r.otherKind || 'device' : r.type;
  return withNs(clean({ name: r.name, kind, peer: r.veth ? `${r.veth.peer.namespace}/${r.veth.peer.name} (not visible)` : undefined }), r.namespace);
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
            dev: r.dev,
            table: r.table === 254 ? undefined : r.table,
            metric: r.metric === (r.family === 6 ? 1024 : 0) ? undefined : r.metric,
            type: r.type === 'unicast' ? undefined : r.type,
            src: r.src,
            mtu: r.mtu,
            encap: r.encap ? encapItem(r.encap) : undefined,
          }),
          r.namespace,
        ),
      ];
    case 'rule':
      return ['rules', withNs(clean({ priority: r.priority, family: r.family, action: r.action === 'lookup' ? undefined : r.action, table: r.table, from: r.from, to: r.to, fwmark: r.fwmark, fwmask: r.fwmask, iif: r.iif, oif: r.oif }), r.namespace)];
    case 'namespace':
    case 'link':
    case 'sysctl':
    case 'tunsrc':
      return undefined;
    default: {
      const { kind, source: _s, ...rest } = r as Resource & { source?: unknown };
      return [`${kind}s`, clean(rest as Item)];
    }
  }
}

interface NsAcc {
  readonly item: Item & { sysctls?: Record<string, string | number>; seg6?: { tunsrc: string } };
  owned: boolean;
  ownedSeg6: boolean;
  readonly ownedSysctls: Set<string>;
}

/** Live state → config document. */
export function buildShowDoc(current: StateMap, inventory: Inventory, f: ShowFilter): ShowDoc {
  const isOwned = (r: Resource) => inventory.owned[resourceKey(r)] !== undefined;
  const match = compileIgnore(f.ignore ?? []);
  const visible = (r: Resource) =>
    (f.namespace === undefined || resourceNamespace(r) === f.namespace) && !isIgnored(r, match) && (f.all || isOwned(r) || !kernelMade(r));
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
  const unmanaged: Item[] = [];

  for (const r of sorted) {
    const owned = isOwned(r);
    if (r.kind === 'namespace') {
      if (r.name !== '') nsAcc(r.name).owned = owned;
    } else if (r.kind === 'sysctl') {
      const a = nsAcc(r.namespace);
      a.item.sysctls = { ...a.item.sysctls, [r.key]: sysctlValue(r.value) };
      if (owned) a.ownedSysctls.add(r.key);
    } else if (r.kind === 'tunsrc') {
      // The config has `seg6.tunsrc` on named namespaces only.
      if (r.namespace !== '') {
        const a = nsAcc(r.namespace);
        a.item.seg6 = { tunsrc: r.address };
        a.ownedSeg6 = owned;
      }
    } else if (r.kind === 'link') {
      if (r.type === 'other') {
        unmanaged.push(unmanagedItem(r));
      } else if (r.veth) {
        if (r.veth.peer.namespace === '?') unmanaged.push(unmanagedItem(r));
        else {
          const view = vethView(r, current, visible);
          if (view) push('links', linkItem(r, view), owned);
        }
      } else push('links', linkItem(r, undefined), owned);
    } else {
      const c = listItem(r);
      if (c) push(c[0], c[1], owned);
    }
  }
  if (namespaces.size > 0) {
    const byName = [...namespaces.values()].sort((a, b) => String(a.item.name).localeCompare(String(b.item.name)));
    sections.set('namespaces', byName.map((a) => ({ item: a.item, owned: a.owned, ownedSysctls: a.ownedSysctls, ownedSeg6: a.ownedSeg6 })));
  }
  const order = (k: string) => (SECTION_ORDER.includes(k) ? SECTION_ORDER.indexOf(k) : SECTION_ORDER.length);
  return {
    ignore: f.ignore ?? [],
    sysctls: { item: root.item.sysctls ?? {}, owned: false, ownedSysctls: root.ownedSysctls },
    sections: new Map([...sections].sort(([a], [b]) => order(a) - order(b) || a.localeCompare(b))),
    unmanaged,
  };
}
