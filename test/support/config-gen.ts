// A generator of random configs for real-kernel property tests (agreement, drift, rollback): a
// small shared universe (the sandbox root and two declared namespaces; bridges with their timers
// and options, VXLANs (one with a VNI filter), a macvlan, veths across namespaces (a peer end
// with its own state, or a port of the bridge in its namespace), MACs and
// aliases, IPv4/IPv6 addresses, routes, rules, namespace and per-device sysctls), rendered as
// config text. Not every draw is valid: `desiredOf` keeps the ones the loader accepts.
// Not drawn: bridge VLANs (`vlan_filtering`, `vlans`, `vlan_default_pvid`): the test kernel has
// no CONFIG_BRIDGE_VLAN_FILTERING, so preflight refuses them; and `all.disable_ipv6`.
import fc from 'fast-check';
import { formatConfigError, loadConfigFromStrings } from '../../src/config';
import type { Resource } from '../../src/model/types';

// ---------------------------------------------------------------- the universe
const opt = <T>(a: fc.Arbitrary<T>) => fc.option(a, { nil: undefined, freq: 2 });
const present = (pct: number) => fc.nat(99).map((x) => x < pct);

/** Candidate addresses: [link, address]; the link's namespace is wherever that link is. */
const ADDRESSES: readonly (readonly [string, string])[] = [
  ['br0', '10.1.0.1/24'],
  ['br0', '2001:db8:1::1/64'],
  ['va0', '10.2.0.1/24'],
  ['vb0', '10.2.0.2/24'],
  ['vb0', '2001:db8:2::2/64'],
  ['br1', '10.3.0.1/24'],
  ['br1', '2001:db8:3::1/64'],
  ['vb1', '10.4.0.2/24'],
  ['va1', '10.4.0.1/24'],
];

/** Bridge options beyond `stp` (times in centiseconds; a forward delay of 100 only without STP). */
interface BridgeChoices {
  ageing?: number;
  fwd?: number;
  snoop?: boolean;
}

/** Per-device sysctls, each on a device of the universe (dropped when it is not declared). */
interface DevSysctls {
  rp?: number; // net.ipv4.conf.<br0|br1>.rp_filter
  acceptLocal?: number; // net.ipv4.conf.<va0|vb1>.accept_local
  noV6?: 'br0' | 'mv0' | 'vx0' | 'vb1'; // net.ipv6.conf.<dev>.disable_ipv6 = 1, where no IPv6 is declared
  seg6?: number; // net.ipv6.conf.<va0|vb1>.seg6_enabled
}

/** VNI filter lists of the external VXLAN (vx1): a state change moves between them. */
const VNI_LISTS: readonly (readonly (number | string)[])[] = [[100], [100, '200-201'], ['200-202'], [100, '300-305', 7000]];

export interface Choices {
  na: boolean;
  nb: boolean;
  sysctl: ({ fwd4?: number; fwd6?: number; rp?: number; seg6?: number } | undefined)[]; // root, na, nb
  devSysctl?: DevSysctls;
  br0?: { stp: boolean; mtu?: number; mac?: string; alias?: string; state?: 'up' | 'down' } & BridgeChoices;
  br1?: { stp: boolean; mtu?: number; alias?: string } & BridgeChoices;
  va0?: { peerNs: '' | 'na' | 'nb'; master: boolean; mtu?: number; state?: 'up' | 'down'; peerMtu?: number; peerAlias?: string; mac?: string; peerMac?: string; alias?: string };
  va1?: { peerNs: 'na' | 'nb'; master: boolean; mtu?: number; alias?: string; peerAlias?: string };
  vx0?: { vni: number; local?: string; far: 'none' | 'remote' | 'group'; dev: 'va0' | 'br0'; dstport: number; ttl?: number; learning: boolean; master: boolean; alias?: string };
  vx1?: { external: boolean; vnis: number; dstport: number; alias?: string };
  mv0?: { parent: 'br0' | 'va0'; mode: 'bridge' | 'vepa' | 'private' | 'passthru'; mtu?: number; mac?: string; alias?: string };
  addrs: boolean[];
  routes: ({ metric: number; src: boolean; mtu: boolean; table: boolean } | undefined)[];
  rules: ({ fwmark: boolean; mask: boolean; from: boolean; to: boolean; table: number } | undefined)[];
  // The veth peer end's own state and master (a port of the namespace's bridge br1, the usual
  // way a container's end is bridged). Drawn last: the keys above take the values they took before.
  vb0?: { state?: 'up' | 'down'; master?: boolean };
}

/** An optional key drawn in one draw of three (each adds a dimension; most draws keep the defaults). */
const rare = <T>(a: fc.Arbitrary<T>): fc.Arbitrary<T | undefined> => fc.oneof({ arbitrary: fc.constant(undefined), weight: 2 }, { arbitrary: a, weight: 1 });
const bridgeOpts = {
  ageing: rare(fc.constantFrom(30000, 12345)),
  fwd: rare(fc.constantFrom(1500, 400, 100)),
  snoop: rare(fc.boolean()),
};

export const choicesArb: fc.Arbitrary<Choices> = fc.record({
  na: present(80),
  nb: present(60),
  sysctl: fc.array(
    opt(fc.record({ fwd4: opt(fc.constantFrom(0, 1)), fwd6: opt(fc.constantFrom(0, 1)), rp: rare(fc.constantFrom(0, 1, 2)), seg6: rare(fc.constantFrom(0, 1)) }, { requiredKeys: [] })),
    { minLength: 3, maxLength: 3 },
  ),
  devSysctl: opt(
    fc.record(
      {
        rp: rare(fc.constantFrom(1, 2)),
        acceptLocal: rare(fc.constantFrom(0, 1)),
        noV6: rare(fc.constantFrom<'br0' | 'mv0' | 'vx0' | 'vb1'>('br0', 'mv0', 'vx0', 'vb1')),
        seg6: rare(fc.constantFrom(0, 1)),
      },
      { requiredKeys: [] },
    ),
  ),
  br0: opt(
    fc.record(
      { stp: fc.boolean(), mtu: opt(fc.constantFrom(1500, 9000)), mac: opt(fc.constant('02:00:00:00:00:b0')), alias: opt(fc.constantFrom('core', 'edge')), state: opt(fc.constantFrom<'up' | 'down'>('up', 'down')), ...bridgeOpts },
      { requiredKeys: ['stp'] },
    ),
  ),
  br1: opt(fc.record({ stp: fc.boolean(), mtu: opt(fc.constantFrom(1500, 9000)), alias: opt(fc.constant('ns-bridge')), ...bridgeOpts }, { requiredKeys: ['stp'] })),
  va0: opt(
    fc.record(
      {
        peerNs: fc.constantFrom<'' | 'na' | 'nb'>('', 'na', 'nb'),
        master: fc.boolean(),
        mtu: opt(fc.constantFrom(1400, 1500)),
        state: opt(fc.constantFrom<'up' | 'down'>('up', 'down')),
        peerMtu: opt(fc.constantFrom(1400, 1500)),
        peerAlias: opt(fc.constant('far-end')),
        mac: rare(fc.constant('02:00:00:00:00:a0')),
        peerMac: rare(fc.constantFrom('02:00:00:00:00:a1', '02:00:00:00:00:a2')),
        alias: rare(fc.constant('uplink')),
      },
      { requiredKeys: ['peerNs', 'master'] },
    ),
  ),
  va1: opt(
    fc.record(
      { peerNs: fc.constantFrom<'na' | 'nb'>('na', 'nb'), master: fc.boolean(), mtu: opt(fc.constantFrom(1500, 9000)), alias: rare(fc.constant('inner')), peerAlias: rare(fc.constant('inner-far')) },
      { requiredKeys: ['peerNs', 'master'] },
    ),
  ),
  vx0: opt(
    fc.record(
      {
        vni: fc.constantFrom(100, 200),
        local: opt(fc.constantFrom('10.9.0.1', '10.9.0.3')),
        far: fc.constantFrom<'none' | 'remote' | 'group'>('none', 'remote', 'group'),
        dev: fc.constantFrom<'va0' | 'br0'>('va0', 'br0'),
        dstport: fc.constantFrom(4789, 4790),
        ttl: opt(fc.constantFrom(5, 64)),
        learning: fc.boolean(),
        master: fc.boolean(),
        alias: rare(fc.constant('overlay')),
      },
      { requiredKeys: ['vni', 'far', 'dev', 'dstport', 'learning', 'master'] },
    ),
  ),
  vx1: opt(fc.record({ external: fc.boolean(), vnis: fc.nat(VNI_LISTS.length - 1), dstport: fc.constantFrom(4789, 4790), alias: rare(fc.constant('evpn')) }, { requiredKeys: ['external', 'vnis', 'dstport'] })),
  mv0: opt(
    fc.record(
      {
        parent: fc.constantFrom<'br0' | 'va0'>('br0', 'va0'),
        mode: fc.constantFrom<'bridge' | 'vepa' | 'private' | 'passthru'>('bridge', 'vepa', 'private', 'passthru'),
        mtu: opt(fc.constantFrom(1400, 1500)),
        mac: rare(fc.constantFrom('02:00:00:00:00:c0', '02:00:00:00:00:c1')),
        alias: rare(fc.constant('tenant')),
      },
      { requiredKeys: ['parent', 'mode'] },
    ),
  ),
  addrs: fc.array(fc.boolean(), { minLength: ADDRESSES.length, maxLength: ADDRESSES.length }),
  routes: fc.array(opt(fc.record({ metric: fc.constantFrom(0, 10), src: fc.boolean(), mtu: fc.boolean(), table: fc.boolean() })), { minLength: 6, maxLength: 6 }),
  rules: fc.array(opt(fc.record({ fwmark: fc.boolean(), mask: fc.boolean(), from: fc.boolean(), to: fc.boolean(), table: fc.constantFrom(100, 254) })), { minLength: 3, maxLength: 3 }),
  vb0: fc.record({ state: rare(fc.constantFrom<'up' | 'down'>('up', 'down')), master: fc.boolean() }, { requiredKeys: ['master'] }),
});

type Obj = Record<string, unknown>;

/** The config (as JSON, which is YAML) for one set of choices. */
export function render(c: Choices): string {
  const nss = ['', ...(c.na ? ['na'] : []), ...(c.nb ? ['nb'] : [])];
  const has = (ns: string) => nss.includes(ns);
  const nsKey = (ns: string) => (ns === '' ? {} : { namespace: ns });
  const links: Obj[] = [];
  const where = new Map<string, string>(); // link name -> namespace
  const state = new Map<string, 'up' | 'down'>();
  const strip = (o: Obj): Obj => Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined));
  // A forward delay below 2 s only without STP (refused: the kernel clamps it into 2..30 s).
  const bridgeOf = (b: { stp: boolean } & BridgeChoices): Obj =>
    strip({ stp: b.stp, ageing_time: b.ageing, forward_delay: b.stp && b.fwd === 100 ? undefined : b.fwd, multicast_snooping: b.snoop });
  if (c.br0) {
    links.push(strip({ name: 'br0', type: 'bridge', mtu: c.br0.mtu, mac: c.br0.mac, alias: c.br0.alias, state: c.br0.state, bridge: bridgeOf(c.br0) }));
    where.set('br0', '');
    state.set('br0', c.br0.state ?? 'up');
  }
  if (c.br1 && has('na')) {
    links.push(strip({ name: 'br1', namespace: 'na', type: 'bridge', mtu: c.br1.mtu, alias: c.br1.alias, bridge: bridgeOf(c.br1) }));
    where.set('br1', 'na');
  }
  if (c.va0 && has(c.va0.peerNs)) {
    // The peer end is a port of br1 only in br1's namespace (a master is a bridge of its own namespace).
    const peerMaster = c.vb0?.master && c.va0.peerNs === 'na' && where.has('br1') ? 'br1' : undefined;
    const peer = strip({ name: 'vb0', ...nsKey(c.va0.peerNs), mtu: c.va0.peerMtu, alias: c.va0.peerAlias, mac: c.va0.peerMac, state: c.vb0?.state, master: peerMaster });
    links.push(strip({ name: 'va0', type: 'veth', mtu: c.va0.mtu, mac: c.va0.mac, alias: c.va0.alias, state: c.va0.state, master: c.va0.master && where.has('br0') ? 'br0' : undefined, peer }));
    where.set('va0', '');
    where.set('vb0', c.va0.peerNs);
    state.set('va0', c.va0.state ?? 'up');
    state.set('vb0', c.vb0?.state ?? 'up');
  }
  if (c.va1 && has('na') && has(c.va1.peerNs)) {
    const peer = strip({ name: 'vb1', namespace: c.va1.peerNs, alias: c.va1.peerAlias });
    links.push(strip({ name: 'va1', namespace: 'na', type: 'veth', mtu: c.va1.mtu, alias: c.va1.alias, master: c.va1.master && where.has('br1') ? 'br1' : undefined, peer }));
    where.set('va1', 'na');
    where.set('vb1', c.va1.peerNs);
  }
  if (c.vx0) {
    const v = c.vx0;
    const dev = where.get(v.dev) === '' ? v.dev : undefined;
    const vx: Obj = strip({ vni: v.vni, local: v.local, dstport: v.dstport, ttl: v.ttl, learning: v.learning, dev });
    if (v.far === 'remote') vx['remote'] = '10.9.0.2';
    if (v.far === 'group' && dev !== undefined) vx['group'] = '239.1.1.1';
    // Not a port of the bridge it is stacked on (refused: test/bad-inputs/100-*).
    links.push(strip({ name: 'vx0', type: 'vxlan', alias: v.alias, master: v.master && where.has('br0') && dev !== 'br0' ? 'br0' : undefined, vxlan: vx }));
    where.set('vx0', '');
  }
  if (c.vx1 && has('na')) {
    const v = c.vx1;
    const vxlan = v.external ? { external: true, vnifilter: true, dstport: v.dstport } : { vni: 300, dstport: v.dstport };
    links.push(strip({ name: 'vx1', namespace: 'na', type: 'vxlan', alias: v.alias, vxlan, vnis: v.external ? VNI_LISTS[v.vnis] : undefined }));
    where.set('vx1', 'na');
  }
  if (c.mv0 && where.get(c.mv0.parent) === '') {
    // A bridge port is no macvlan parent (refused): then the bridge is.
    const parent = c.mv0.parent === 'va0' && c.va0?.master && where.has('br0') ? 'br0' : c.mv0.parent;
    // A passthru macvlan has its parent's MAC (a declared one is refused).
    const mac = c.mv0.mode === 'passthru' ? undefined : c.mv0.mac;
    links.push(strip({ name: 'mv0', type: 'macvlan', mtu: c.mv0.mtu, mac, alias: c.mv0.alias, macvlan: { parent, mode: c.mv0.mode } }));
    where.set('mv0', '');
  }

  const addresses: Obj[] = [];
  const addrOn = new Set<string>();
  // No address on a bridge port (refused: test/bad-inputs/193-*).
  const ports = new Set(links.flatMap((l) => [l, (l['peer'] ?? {}) as Obj]).filter((l) => l['master'] !== undefined).map((l) => String(l['name'])));
  ADDRESSES.forEach(([dev, address], i) => {
    // No IPv6 address on a link declared down (refused: test/bad-inputs/101-*).
    if (!c.addrs[i] || !where.has(dev) || ports.has(dev) || (address.includes(':') && state.get(dev) === 'down')) return;
    addresses.push({ address, dev, ...nsKey(where.get(dev)!) });
    addrOn.add(`${dev} ${address}`);
  });
  const up = (dev: string) => (state.get(dev) ?? 'up') === 'up';

  const routes: Obj[] = [];
  const r = c.routes;
  // Root namespace gateways are judged by the kernel, not the loader: keep them reachable.
  if (r[0] && addrOn.has('br0 10.1.0.1/24') && up('br0')) {
    routes.push(strip({ to: '10.50.0.0/16', via: '10.1.0.254', dev: 'br0', metric: r[0].metric, src: r[0].src ? '10.1.0.1' : undefined, mtu: r[0].mtu ? 1400 : undefined, table: r[0].table ? 100 : undefined }));
  }
  if (r[1] && addrOn.has('br0 2001:db8:1::1/64') && up('br0')) {
    routes.push(strip({ to: '2001:db8:50::/48', via: '2001:db8:1::fe', dev: 'br0', metric: r[1].metric ? 2000 : undefined, src: r[1].src ? '2001:db8:1::1' : undefined, mtu: r[1].mtu ? 1400 : undefined }));
  }
  if (r[2]) routes.push(strip({ to: '10.60.0.0/16', type: r[2].src ? 'blackhole' : 'unreachable', metric: r[2].metric, table: r[2].table ? 100 : undefined }));
  if (r[3]) routes.push(strip({ to: '2001:db8:60::/48', type: r[3].src ? 'blackhole' : 'unreachable', metric: r[3].metric ? 5 : undefined }));
  // In a declared namespace gateways and sources must be declared ones (the loader checks).
  const br1v4 = addrOn.has('br1 10.3.0.1/24');
  if (r[4] && where.get('br1') === 'na') {
    routes.push(strip({ to: '10.70.0.0/16', namespace: 'na', dev: 'br1', via: r[4].src && br1v4 ? '10.3.0.254' : undefined, src: r[4].mtu && br1v4 ? '10.3.0.1' : undefined, metric: r[4].metric, table: r[4].table ? 100 : undefined }));
  }
  if (r[5] && where.get('vb0') === 'na' && addrOn.has('vb0 10.2.0.2/24') && up('vb0')) {
    routes.push(strip({ to: 'default', namespace: 'na', via: '10.2.0.1', dev: 'vb0', metric: r[5].metric }));
  }

  const rules: Obj[] = [];
  const sel = (x: NonNullable<Choices['rules'][number]>, fam: 4 | 6): Obj =>
    strip({
      fwmark: x.fwmark ? 1 : undefined,
      fwmask: x.fwmark && x.mask ? 255 : undefined,
      from: x.from ? (fam === 4 ? '10.0.0.0/8' : '2001:db8::/32') : undefined,
      to: x.to ? (fam === 4 ? '10.1.0.0/16' : '2001:db8:1::/48') : undefined,
      table: x.table,
    });
  if (c.rules[0]) rules.push({ priority: 100, ...sel(c.rules[0], 4) });
  if (c.rules[1]) rules.push({ priority: 200, family: 6, ...sel(c.rules[1], 6) });
  if (c.rules[2] && has('na')) rules.push({ priority: 100, namespace: 'na', ...sel(c.rules[2], 4) });

  const devKeys = devSysctls(c.devSysctl, where, addresses);
  const sysctlsOf = (i: number, ns: string): Obj | undefined => {
    const s = c.sysctl[i] ?? {};
    const o = strip({ 'net.ipv4.ip_forward': s.fwd4, 'net.ipv6.conf.all.forwarding': s.fwd6, 'net.ipv4.conf.all.rp_filter': s.rp, 'net.ipv6.conf.all.seg6_enabled': s.seg6, ...devKeys.get(ns) });
    return Object.keys(o).length ? o : undefined;
  };
  const namespaces = nss.slice(1).map((ns) => strip({ name: ns, sysctls: sysctlsOf(ns === 'na' ? 1 : 2, ns) }));
  const cfg = strip({
    namespaces: namespaces.length ? namespaces : undefined,
    sysctls: sysctlsOf(0, ''),
    links: links.length ? links : undefined,
    addresses: addresses.length ? addresses : undefined,
    routes: routes.length ? routes : undefined,
    rules: rules.length ? rules : undefined,
  });
  // Always something (an empty directory is an error): the namespaces at least, or a blackhole.
  if (Object.keys(cfg).length === 0) cfg['routes'] = [{ to: '10.60.0.0/16', type: 'blackhole' }];
  return `${JSON.stringify(cfg, null, 1)}\n`;
}


/**
 * The per-device sysctls of the drawn devices that exist, by namespace. IPv6 is disabled only on
 * a device without declared IPv6 addresses (refused: EACCES), and IPv6 routes need an address.
 */
function devSysctls(d: DevSysctls | undefined, where: ReadonlyMap<string, string>, addresses: readonly Obj[]): Map<string, Obj> {
  const out = new Map<string, Obj>();
  const put = (dev: string, key: string, value: number | undefined) => {
    const ns = where.get(dev);
    if (value === undefined || ns === undefined) return;
    out.set(ns, { ...out.get(ns), [`net.${key.replace('%', dev)}`]: value });
  };
  if (!d) return out;
  for (const dev of ['br0', 'br1']) put(dev, 'ipv4.conf.%.rp_filter', d.rp);
  for (const dev of ['va0', 'vb1']) put(dev, 'ipv4.conf.%.accept_local', d.acceptLocal);
  for (const dev of ['va0', 'vb1']) put(dev, 'ipv6.conf.%.seg6_enabled', d.seg6);
  const v6 = d.noV6 !== undefined && addresses.some((a) => a['dev'] === d.noV6 && String(a['address']).includes(':'));
  if (d.noV6 !== undefined && !v6) put(d.noV6, 'ipv6.conf.%.disable_ipv6', 1);
  return out;
}

export function desiredOf(text: string): Map<string, Resource> | undefined {
  const r = loadConfigFromStrings([{ name: 'net.yaml', text }]);
  if (!r.ok) return undefined;
  const m = new Map(r.desired.resources);
  m.set('namespace:', { kind: 'namespace', name: '' }); // the sandbox's root (effectiveDesired)
  return m;
}


/** Counts of drawn states the loader accepted and rejected, with the rejections' reasons. */
export class DrawStats {
  accepted = 0;
  rejected = 0;
  readonly reasons = new Map<string, number>();

  /** The valid states among `texts`, in order; the others are counted with their reasons. */
  keepValid(texts: readonly string[]): { text: string; desired: Map<string, Resource> }[] {
    const states: { text: string; desired: Map<string, Resource> }[] = [];
    for (const text of texts) {
      const d = desiredOf(text);
      if (d) {
        states.push({ text, desired: d });
        continue;
      }
      this.rejected++;
      const r = loadConfigFromStrings([{ name: 'net.yaml', text }]);
      if (!r.ok)
        for (const e of r.errors) {
          const why = formatConfigError(e).replace(/^[^ ]+ [^ ]+ /, '').replace(/'[^']*'/g, "'…'").slice(0, 90);
          this.reasons.set(why, (this.reasons.get(why) ?? 0) + 1);
        }
    }
    this.accepted += states.length;
    return states;
  }

  /** The rejection reasons, most frequent first. */
  why(): string {
    return [...this.reasons].sort((a, b) => b[1] - a[1]).map(([w, n]) => `  ${n}× ${w}`).join('\n');
  }
}

/** What the agreement tests compare of a plan: key, action, and each changed field with its `after` value. */
export interface PlanShape {
  action: string;
  key: string;
  fields: string[];
}

export function planShape(changes: readonly { action: string; key: string; fields: readonly { field: string; after: unknown }[] }[]): PlanShape[] {
  return changes.map((c) => ({ action: c.action, key: c.key, fields: c.fields.map((f) => `${f.field}=${JSON.stringify(f.after ?? null)}`).sort() })).sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
}
