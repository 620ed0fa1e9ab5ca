// fast-check arbitraries for plan property tests: a desired state and a live state drawn from the
// same small universe of names (so they overlap and differ in interesting ways), each repaired
// into a consistent state (no dangling references), plus foreign objects on the live side.
import fc from 'fast-check';
import { resourceKey } from '../../src/model/keys';
import type {
  AddressRes,
  BridgeVlan,
  LinkRes,
  MacvlanMode,
  Resource,
  RouteRes,
} from '../../src/model/types';
import type { Inventory } from '../../src/plan/types';
import { populate } from './memkernel';

export const NAMESPACES = ['', 'ns1', 'ns2'] as const;
export const LINK_NAMES = ['l0', 'l1', 'l2'] as const;
export const VETH_PAIRS = [
  ['va0', 'vb0'],
  ['va1', 'vb1'],
] as const;
const ALL_NAMES: readonly string[] = [...LINK_NAMES, ...VETH_PAIRS.flat()];

/** The same slot in the desired and the live world; `roll` against the scenario's bias decides
 * whether the live world takes the desired variant (mostly-synced) or its own (drifted). */
interface Pair<T> {
  readonly d: T | null;
  readonly c: T | null;
  readonly roll: number;
}

function pairOf<T>(arb: fc.Arbitrary<T>): fc.Arbitrary<Pair<T>> {
  return fc.record({ d: fc.option(arb, { freq: 3 }), c: fc.option(arb, { freq: 3 }), roll: fc.nat(99) });
}

interface LinkSpec {
  type: 'bridge' | 'vxlan' | 'macvlan';
  mtu?: number;
  state?: 'up' | 'down';
  master?: string;
  lower?: string;
  vni: number;
  external: boolean;
  learning: boolean;
  mode: MacvlanMode;
  vlanFiltering: boolean;
  vlans?: BridgeVlan[];
  alias?: string;
}

const VLAN_SETS: BridgeVlan[][] = [
  [{ vid: 10, pvid: true, untagged: true }, { vid: 20 }],
  [{ vid: 20 }, { vid: 10, pvid: true, untagged: true }], // same set, other order: no change
  [{ vid: 30 }],
];

const optional = <T>(a: fc.Arbitrary<T>) => fc.option(a, { nil: undefined });

const linkSpec = (index: number): fc.Arbitrary<LinkSpec> =>
  fc.record(
    {
      type: fc.constantFrom<LinkSpec['type']>('bridge', 'vxlan', 'macvlan'),
      mtu: optional(fc.constantFrom(1500, 9000)),
      state: optional(fc.constantFrom<'up' | 'down'>('up', 'down')),
      master: optional(fc.constantFrom(...LINK_NAMES)),
      lower: index === 0 ? fc.constant(undefined) : optional(fc.constantFrom(...LINK_NAMES.slice(0, index))),
      vni: fc.constantFrom(100, 200),
      external: fc.boolean(),
      learning: fc.boolean(),
      mode: fc.constantFrom<MacvlanMode>('bridge', 'vepa'),
      vlanFiltering: fc.boolean(),
      vlans: optional(fc.constantFrom(...VLAN_SETS)),
      alias: optional(fc.constantFrom('uplink', 'fabric')),
    },
    { requiredKeys: ['type', 'vni', 'external', 'learning', 'mode', 'vlanFiltering'] },
  );

interface EndSpec {
  mtu?: number;
  state?: 'up' | 'down';
  master?: string;
  vlans?: BridgeVlan[];
}
const endSpec: fc.Arbitrary<EndSpec> = fc.record(
  {
    mtu: optional(fc.constantFrom(1500, 9000)),
    state: optional(fc.constantFrom<'up' | 'down'>('up', 'down')),
    master: optional(fc.constantFrom(...LINK_NAMES)),
    vlans: optional(fc.constantFrom(...VLAN_SETS)),
  },
  { requiredKeys: [] },
);
interface VethSpec {
  nsA: string;
  nsB: string;
  primaryA: boolean;
  a: EndSpec;
  b: EndSpec;
}
const vethSpec: fc.Arbitrary<VethSpec> = fc.record({
  nsA: fc.constantFrom(...NAMESPACES),
  nsB: fc.constantFrom(...NAMESPACES),
  primaryA: fc.boolean(),
  a: endSpec,
  b: endSpec,
});

type AddrTag = '4a' | '4b' | '6a';
interface RouteSpec {
  dev: string;
  via: boolean;
  src: boolean;
  alt: 0 | 1;
}
const routeSpec: fc.Arbitrary<RouteSpec> = fc.record({
  dev: fc.constantFrom(...ALL_NAMES),
  via: fc.boolean(),
  src: fc.boolean(),
  alt: fc.constantFrom<0 | 1>(0, 1),
});
interface RuleSpec {
  family: 4 | 6;
  table: number;
  from: boolean;
  fwmark?: number;
  blackhole: boolean;
}
const ruleSpec: fc.Arbitrary<RuleSpec> = fc.record(
  {
    family: fc.constantFrom<4 | 6>(4, 6),
    table: fc.constantFrom(100, 200),
    from: fc.boolean(),
    fwmark: optional(fc.constantFrom(1, 2)),
    blackhole: fc.boolean(),
  },
  { requiredKeys: ['family', 'table', 'from', 'blackhole'] },
);
interface TcSpec {
  root?: { qdisc: 'htb' | 'fq'; def: number; rate: number };
  clsact?: { tag: string };
}
const tcSpec: fc.Arbitrary<TcSpec> = fc.record(
  {
    root: optional(fc.record({ qdisc: fc.constantFrom<'htb' | 'fq'>('htb', 'fq'), def: fc.constantFrom(10, 20), rate: fc.constantFrom(1000, 2000) })),
    clsact: optional(fc.record({ tag: fc.constantFrom('aaaa', 'bbbb') })),
  },
  { requiredKeys: [] },
);
interface BpfSpec {
  ns: string;
  dev: string;
  tag: string;
  direction: 'ingress' | 'egress';
}
const bpfSpec: fc.Arbitrary<BpfSpec> = fc.record({
  ns: fc.constantFrom(...NAMESPACES),
  dev: fc.constantFrom(...LINK_NAMES),
  tag: fc.constantFrom('1111', '2222'),
  direction: fc.constantFrom<'ingress' | 'egress'>('ingress', 'egress'),
});

const SYSCTL_KEYS = ['net.ipv4.ip_forward', 'net.ipv6.conf.all.forwarding', 'net.ipv6.conf.l0.disable_ipv6'] as const;

/** Per namespace × slot maps are flattened into arrays indexed by position. */
interface Universe {
  ns: Pair<true>[]; // ns1, ns2
  links: Pair<LinkSpec>[]; // NAMESPACES × LINK_NAMES
  veths: Pair<VethSpec>[];
  addrs: Pair<AddrTag[]>[]; // NAMESPACES × ALL_NAMES
  routes: Pair<RouteSpec>[]; // NAMESPACES × 5 route slots
  rules: Pair<RuleSpec>[]; // NAMESPACES × 2 priorities
  sysctls: Pair<'0' | '1'>[]; // NAMESPACES × SYSCTL_KEYS
  tunsrc: Pair<'fc00::1' | 'fc00::2'>[]; // NAMESPACES
  tc: Pair<TcSpec>[]; // NAMESPACES × l0,l1
  bpf: Pair<BpfSpec>;
  /** Percentage of slots where the live world equals the desired one. */
  bias: number;
}

const universe: fc.Arbitrary<Universe> = fc.record({
  ns: fc.array(pairOf(fc.constant(true as const)), { minLength: 2, maxLength: 2 }),
  links: fc.tuple(...NAMESPACES.flatMap(() => LINK_NAMES.map((_, i) => pairOf(linkSpec(i))))),
  veths: fc.array(pairOf(vethSpec), { minLength: VETH_PAIRS.length, maxLength: VETH_PAIRS.length }),
  addrs: fc.array(pairOf(fc.subarray<AddrTag>(['4a', '4b', '6a'])), { minLength: 3 * ALL_NAMES.length, maxLength: 3 * ALL_NAMES.length }),
  routes: fc.array(pairOf(routeSpec), { minLength: 15, maxLength: 15 }),
  rules: fc.array(pairOf(ruleSpec), { minLength: 6, maxLength: 6 }),
  sysctls: fc.array(pairOf(fc.constantFrom<'0' | '1'>('0', '1')), { minLength: 9, maxLength: 9 }),
  tunsrc: fc.array(pairOf(fc.constantFrom<'fc00::1' | 'fc00::2'>('fc00::1', 'fc00::2')), { minLength: 3, maxLength: 3 }),
  tc: fc.array(pairOf(tcSpec), { minLength: 6, maxLength: 6 }),
  bpf: pairOf(bpfSpec),
  bias: fc.constantFrom(40, 80, 95, 99),
}) as fc.Arbitrary<Universe>;

const nsIdx = (ns: string) => NAMESPACES.indexOf(ns as (typeof NAMESPACES)[number]);
const slotIdx = (name: string) => ALL_NAMES.indexOf(name);
const v4 = (ns: string, dev: string, host: number) => `10.${nsIdx(ns)}.${slotIdx(dev)}.${host}`;
const v6 = (ns: string, dev: string, host: string) => `2001:db8:${nsIdx(ns)}:${slotIdx(dev)}::${host}`;

/** Build one consistent world (0 = desired, 1 = live) from the universe. */
export function buildWorld(u: Universe, side: 0 | 1): Resource[] {
  const pick = <T>(p: Pair<T>): T | null => (side === 0 || p.roll < u.bias ? p.d : p.c);
  const out: Resource[] = [];
  const nss = new Set<string>(['']);
  ['ns1', 'ns2'].forEach((ns, i) => {
    if (pick(u.ns[i]!)) {
      nss.add(ns);
      out.push({ kind: 'namespace', name: ns });
    }
  });

  // Links, repaired in index order so that lower devices are known before stacked ones.
  const links = new Map<string, LinkRes>(); // `${ns}/${name}`
  const lk = (ns: string, n: string) => `${ns}/${n}`;
  const specs = new Map<string, LinkSpec>();
  NAMESPACES.forEach((ns, ni) => {
    if (!nss.has(ns)) return;
    LINK_NAMES.forEach((name, li) => {
      const s = pick(u.links[ni * LINK_NAMES.length + li]!);
      if (!s) return;
      let type = s.type;
      const lower = s.lower !== undefined && links.has(lk(ns, s.lower)) ? s.lower : undefined;
      if (type === 'macvlan' && lower === undefined) type = 'bridge';
      const l: Record<string, unknown> = { kind: 'link', namespace: ns, name, type };
      if (s.mtu !== undefined) l['mtu'] = s.mtu;
      if (s.state !== undefined) l['state'] = s.state;
      if (s.alias !== undefined) l['alias'] = s.alias;
      if (type === 'bridge') l['bridge'] = { vlanFiltering: s.vlanFiltering, stp: false };
      if (type === 'vxlan') {
        l['vxlan'] = {
          ...(s.external ? { external: true } : { vni: s.vni, external: false }),
          dstport: 4789,
          learning: s.learning,
          ...(lower !== undefined ? { dev: lower } : {}),
        };
      }
      if (type === 'macvlan') l['macvlan'] = { parent: lower, mode: s.mode };
      links.set(lk(ns, name), l as unknown as LinkRes);
      specs.set(lk(ns, name), s);
    });
  });
  // Ports: master must be a bridge in the same namespace, and a bridge is never a port.
  const withMaster = (l: LinkRes, master: string | undefined, vlans: BridgeVlan[] | undefined): LinkRes => {
    const m = master !== undefined ? links.get(lk(l.namespace, master)) : undefined;
    if (!m || m.type !== 'bridge' || l.type === 'bridge' || m.name === l.name) return l;
    return { ...l, master: m.name, ...(vlans ? { vlans } : {}) };
  };
  for (const [k, l] of links) links.set(k, withMaster(l, specs.get(k)!.master, specs.get(k)!.vlans));

  VETH_PAIRS.forEach(([an, bn], i) => {
    const s = pick(u.veths[i]!);
    if (!s || !nss.has(s.nsA) || !nss.has(s.nsB)) return;
    const end = (ns: string, name: string, peerNs: string, peer: string, primary: boolean, e: EndSpec): LinkRes => {
      const l: Record<string, unknown> = { kind: 'link', namespace: ns, name, type: 'veth', veth: { peer: { name: peer, namespace: peerNs }, primary } };
      if (e.mtu !== undefined) l['mtu'] = e.mtu;
      if (e.state !== undefined) l['state'] = e.state;
      return withMaster(l as unknown as LinkRes, e.master, e.vlans);
    };
    links.set(lk(s.nsA, an), end(s.nsA, an, s.nsB, bn, s.primaryA, s.a));
    links.set(lk(s.nsB, bn), end(s.nsB, bn, s.nsA, an, !s.primaryA, s.b));
  });
  out.push(...links.values());

  // Addresses on existing links.
  const addrs = new Set<string>(); // `${ns}/${dev}/${tag}`
  NAMESPACES.forEach((ns, ni) => {
    ALL_NAMES.forEach((dev, di) => {
      const tags = pick(u.addrs[ni * ALL_NAMES.length + di]!);
      if (!tags || !links.has(lk(ns, dev))) return;
      for (const t of tags) {
        const address = t === '4a' ? `${v4(ns, dev, 1)}/24` : t === '4b' ? `${v4(ns, dev, 2)}/24` : `${v6(ns, dev, '1')}/64`;
        out.push({ kind: 'address', namespace: ns, dev, address } satisfies AddressRes);
        addrs.add(`${ns}/${dev}/${t}`);
      }
    });
  });

  // Routes: dev must exist; a gateway needs an address in its subnet on that dev; src an address.
  NAMESPACES.forEach((ns, ni) => {
    if (!nss.has(ns)) return;
    for (let slot = 0; slot < 5; slot++) {
      const s = pick(u.routes[ni * 5 + slot]!);
      if (!s) continue;
      const hasDev = links.has(lk(ns, s.dev));
      const has = (t: AddrTag) => addrs.has(`${ns}/${s.dev}/${t}`);
      const v4src = has('4a') ? v4(ns, s.dev, 1) : undefined;
      let r: Record<string, unknown> | undefined;
      switch (slot) {
        case 0:
          if (!hasDev) break;
          r = { family: 4, to: '10.100.0.0/16', table: 254, metric: s.alt ? 100 : 0, type: 'unicast', dev: s.dev };
          if (s.via && (has('4a') || has('4b'))) r['via'] = v4(ns, s.dev, 254);
          if (s.src && v4src) r['src'] = v4src;
          break;
        case 1:
          if (!hasDev || !(has('4a') || has('4b'))) break;
          r = { family: 4, to: '0.0.0.0/0', table: 100, metric: 0, type: 'unicast', dev: s.dev, via: v4(ns, s.dev, s.alt ? 253 : 254) };
          break;
        case 2:
          if (!hasDev) break;
          r = {
            family: 6,
            to: '2001:db8:100::/48',
            table: 254,
            metric: 1024,
            type: 'unicast',
            dev: s.dev,
            encap: { type: 'seg6', mode: 'encap', segments: s.alt ? ['fc00:2::1', 'fc00:3::1'] : ['fc00:1::1'] },
          };
          if (s.via && has('6a')) r['via'] = v6(ns, s.dev, 'fe');
          break;
        case 3:
          if (!hasDev) break;
          r = {
            family: 6,
            to: 'fc00:ff::1/128',
            table: 254,
            metric: 1024,
            type: 'unicast',
            dev: s.dev,
            encap: s.alt ? { type: 'seg6local', action: 'End.DT6', table: 100 } : { type: 'seg6local', action: 'End' },
          };
          break;
        case 4:
          r = { family: 4, to: '10.250.0.0/16', table: 254, metric: s.alt ? 5 : 0, type: s.via ? 'blackhole' : 'unreachable' };
          break;
      }
      if (r) out.push({ kind: 'route', namespace: ns, ...r } as unknown as RouteRes);
    }
  });

  NAMESPACES.forEach((ns, ni) => {
    if (!nss.has(ns)) return;
    [100, 200].forEach((priority, pi) => {
      const s = pick(u.rules[ni * 2 + pi]!);
      if (!s) return;
      out.push({
        kind: 'rule',
        namespace: ns,
        family: s.family,
        priority,
        action: s.blackhole ? 'blackhole' : 'lookup',
        ...(s.blackhole ? {} : { table: s.table }),
        ...(s.from ? { from: s.family === 4 ? '10.0.0.0/8' : '2001:db8::/32' } : {}),
        ...(s.fwmark !== undefined ? { fwmark: s.fwmark } : {}),
      });
    });
    SYSCTL_KEYS.forEach((key, ki) => {
      const v = pick(u.sysctls[ni * SYSCTL_KEYS.length + ki]!);
      if (v === null) return;
      if (key.includes('.l0.') && !links.has(lk(ns, 'l0'))) return;
      out.push({ kind: 'sysctl', namespace: ns, key, value: v });
    });
    const t = pick(u.tunsrc[ni]!);
    if (t !== null) out.push({ kind: 'tunsrc', namespace: ns, address: t });
    ['l0', 'l1'].forEach((dev, di) => {
      const s = pick(u.tc[ni * 2 + di]!);
      if (!s || !links.has(lk(ns, dev))) return;
      if (s.root) {
        out.push({ kind: 'qdisc', namespace: ns, dev, parent: 'root', handle: '1:', qdisc: s.root.qdisc, options: { default: s.root.def } });
        if (s.root.qdisc === 'htb') out.push({ kind: 'tclass', namespace: ns, dev, classid: '1:10', parent: '1:', rate: s.root.rate });
      }
      if (s.clsact) {
        out.push({ kind: 'qdisc', namespace: ns, dev, parent: 'clsact', qdisc: 'clsact', options: {} });
        out.push({ kind: 'tfilter', namespace: ns, dev, direction: 'egress', priority: 1, program: 'p1', tag: s.clsact.tag });
      }
    });
  });

  const b = pick(u.bpf);
  if (b && links.has(lk(b.ns, b.dev))) {
    out.push({
      kind: 'bpf',
      name: 'cnt',
      object: 'bpf/counter.bpf.o',
      program: 'count_packets',
      attach: { type: 'tcx', namespace: b.ns, dev: b.dev, direction: b.direction },
      maps: ['counters'],
      tag: b.tag,
    });
  }
  return side === 0 ? out.filter((r) => !onDownLink(r, links)) : out;
}

/**
 * What validation refuses in a config: a route over a link declared down, or an IPv6 address on
 * one (the kernel removes both when the link goes down, so such a plan would never converge).
 */
function onDownLink(r: Resource, links: ReadonlyMap<string, LinkRes>): boolean {
  const down = (ns: string, dev: string) => links.get(`${ns}/${dev}`)?.state === 'down';
  if (r.kind === 'route') return r.dev !== undefined && down(r.namespace, r.dev);
  return r.kind === 'address' && r.address.includes(':') && down(r.namespace, r.dev);
}

/** Objects of other owners that a live system typically has. */
function foreignCandidates(live: readonly Resource[]): Resource[] {
  const other = 'other' as LinkRes['type']; // physical/loopback devices: not a Voltron link type
  const out: Resource[] = [
    { kind: 'link', namespace: '', name: 'eth0', type: other, mtu: 1500, state: 'up', mac: '52:54:00:12:34:56' },
    { kind: 'link', namespace: '', name: 'lo', type: other, mtu: 65536, state: 'up', mac: '00:00:00:00:00:00' },
    { kind: 'address', namespace: '', dev: 'eth0', address: '192.0.2.10/24' },
    { kind: 'address', namespace: '', dev: 'eth0', address: 'fe80::5054:ff:fe12:3456/64' },
    { kind: 'address', namespace: '', dev: 'lo', address: '127.0.0.1/8' },
    { kind: 'route', namespace: '', family: 4, to: '192.0.2.0/24', table: 254, metric: 0, type: 'unicast', dev: 'eth0', src: '192.0.2.10' },
    { kind: 'route', namespace: '', family: 4, to: '0.0.0.0/0', table: 254, metric: 100, type: 'unicast', dev: 'eth0', via: '192.0.2.1' },
    { kind: 'rule', namespace: '', family: 4, priority: 0, action: 'lookup', table: 255 },
    { kind: 'rule', namespace: '', family: 4, priority: 32766, action: 'lookup', table: 254 },
    { kind: 'rule', namespace: '', family: 6, priority: 32766, action: 'lookup', table: 254 },
    { kind: 'sysctl', namespace: '', key: 'net.ipv4.tcp_syncookies', value: '1' },
  ];
  for (const r of live) {
    if (r.kind === 'namespace') {
      out.push({ kind: 'link', namespace: r.name, name: 'lo', type: other, mtu: 65536, state: 'down', mac: '00:00:00:00:00:00' });
      out.push({ kind: 'rule', namespace: r.name, family: 4, priority: 32766, action: 'lookup', table: 254 });
    }
    if (r.kind === 'link') {
      out.push({ kind: 'address', namespace: r.namespace, dev: r.name, address: `fe80::${slotIdx(r.name) + 1}:${nsIdx(r.namespace) + 1}/64` });
      if (r.name === 'l0') out.push({ kind: 'route', namespace: r.namespace, family: 4, to: '10.240.0.0/16', table: 254, metric: 20, type: 'unicast', dev: 'l0' });
    }
  }
  return out;
}

export interface Scenario {
  readonly desired: Map<string, Resource>;
  readonly current: Map<string, Resource>;
  readonly inventory: Inventory;
  /** Keys of live objects Voltron does not own. */
  readonly foreign: ReadonlySet<string>;
}

const toMap = (rs: Iterable<Resource>) => new Map([...rs].map((r) => [resourceKey(r), r] as const));

/**
 * A desired state, a live state (as a reader reports it, with foreign objects) and an inventory.
 * With `lossyInventory`, some live Voltron objects are missing from the inventory (an inventory
 * lost or written by an interrupted run): they count as foreign unless declared.
 */
export function scenario(opts: { lossyInventory?: boolean } = {}): fc.Arbitrary<Scenario> {
  return fc
  .record({
    u: universe,
    foreignMask: fc.array(fc.boolean(), { minLength: 64, maxLength: 64 }),
    origMask: fc.array(fc.constantFrom<string | null>(null, '0', '1', '::'), { minLength: 16, maxLength: 16 }),
    dropMask: fc.array(fc.nat(9), { minLength: 97, maxLength: 97 }),
  })
  .map(({ u, foreignMask, origMask, dropMask }) => {
    const desiredList = buildWorld(u, 0);
    const liveList = buildWorld(u, 1);
    const owned: Record<string, Resource> = {};
    liveList.forEach((r, i) => {
      if (!opts.lossyInventory || dropMask[i % dropMask.length]! >= 3) owned[resourceKey(r)] = r;
    });
    const original: Record<string, string> = {};
    let oi = 0;
    for (const r of liveList) {
      if (r.kind !== 'sysctl' && r.kind !== 'tunsrc') continue;
      const o = origMask[oi++ % origMask.length]!;
      if (o === null) continue;
      if (r.kind === 'sysctl' && o !== '::') original[resourceKey(r)] = o;
      if (r.kind === 'tunsrc' && o === '::') original[resourceKey(r)] = o;
    }
    const foreignList = foreignCandidates(liveList).filter((_, i) => foreignMask[i % foreignMask.length]);
    const current = new Map(populate([...liveList, ...foreignList]));
    return {
      desired: toMap(desiredList),
      current,
      inventory: { version: 1 as const, owned, original },
      foreign: new Set([...current.keys()].filter((k) => !(k in owned) && !desiredList.some((r) => resourceKey(r) === k))),
    };
  });
}

export const scenarioArb: fc.Arbitrary<Scenario> = scenario();

/** One consistent desired state and the live state a reader reports after it was applied. */
export const syncedArb: fc.Arbitrary<{ desired: Map<string, Resource>; current: Map<string, Resource>; foreign: ReadonlySet<string> }> = fc
  .record({ u: universe, foreignMask: fc.array(fc.boolean(), { minLength: 64, maxLength: 64 }) })
  .map(({ u, foreignMask }) => {
    const list = buildWorld(u, 0);
    const foreignList = foreignCandidates(list).filter((_, i) => foreignMask[i % foreignMask.length]);
    return { desired: toMap(list), current: new Map(populate([...list, ...foreignList])), foreign: new Set(foreignList.map(resourceKey)) };
  });
