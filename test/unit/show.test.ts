// `show` renders live state in the config format: the YAML, loaded back as a config, must be
// valid and plan empty against the same state (pure round trip; the kernel one is in
// test/kernel/cli-output.test.ts).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import YAML from 'yaml';
import { formatConfigError, loadConfigFromStrings } from '../../src/config';
import { resourceKey } from '../../src/model/keys';
import type { LinkRes, Resource, StateMap } from '../../src/model/types';
import { computePlan } from '../../src/plan';
import { EMPTY_INVENTORY, type Inventory } from '../../src/plan/types';
import { buildShowDoc, declaringEnd, sysctlValue } from '../../src/cli/show-doc';
import { showState } from '../../src/cli/show';

const map = (...rs: Resource[]): StateMap => new Map(rs.map((r) => [resourceKey(r), r] as const));

/** A veth end as the kernel reader returns it: every end claims to be primary. */
function vethEnd(ns: string, name: string, peerNs: string, peer: string, extra: Partial<LinkRes> = {}): LinkRes {
  return { kind: 'link', namespace: ns, name, type: 'veth', mtu: 1500, mac: '02:00:00:00:00:01', state: 'up', veth: { peer: { name: peer, namespace: peerNs }, primary: true }, ...extra };
}

/** Live state: two namespaces, sysctls and tunsrc (root and per namespace), veths of every shape. */
function sample(): StateMap {
  return map(
    { kind: 'namespace', name: 'na' },
    { kind: 'namespace', name: 'nb' },
    { kind: 'sysctl', namespace: '', key: 'net.ipv4.ip_forward', value: '1' },
    { kind: 'sysctl', namespace: 'na', key: 'net.ipv6.conf.all.forwarding', value: '0' },
    { kind: 'tunsrc', namespace: 'na', address: '2001:db8::1' },
    { kind: 'tunsrc', namespace: '', address: '2001:db8::2' },
    // foreign pair, both ends in na
    vethEnd('na', 'f1', 'na', 'f2'),
    vethEnd('na', 'f2', 'na', 'f1', { state: 'down' }),
    // owned pair root/v1 → nb/v1p with a down, smaller-MTU peer
    vethEnd('', 'v1', 'nb', 'v1p'),
    vethEnd('nb', 'v1p', '', 'v1', { state: 'down', mtu: 1400, veth: { peer: { name: 'v1', namespace: '' }, primary: false } }),
    // ignored pair and an address on it
    vethEnd('', 'skip0', '', 'skip1'),
    vethEnd('', 'skip1', '', 'skip0'),
    { kind: 'address', namespace: '', dev: 'skip0', address: '10.9.9.9/32' },
    { kind: 'address', namespace: 'nb', dev: 'v1p', address: '10.1.0.2/24' },
    // on lo: the kernel drops routes over a link that goes down (v1p), and the config refuses them
    { kind: 'route', namespace: 'nb', family: 6, to: 'fc00::1/128', table: 254, metric: 1024, type: 'unicast', dev: 'lo', encap: { type: 'seg6local', action: 'End.DT4', vrfTable: 100 }, protocol: 194 },
    { kind: 'link', namespace: 'na', name: 'dum0', type: 'other', otherKind: 'dummy', state: 'up', mtu: 1500 },
  );
}

function owning(state: StateMap, keys: readonly string[]): Inventory {
  return { ...EMPTY_INVENTORY, owned: Object.fromEntries(keys.map((k) => [k, state.get(k)!])) };
}

function loadBack(text: string): { desired: StateMap; ignore: readonly string[] } {
  const r = loadConfigFromStrings([{ name: 'a.yaml', text }]);
  assert.ok(r.ok, r.ok ? '' : `${r.errors.map(formatConfigError).join('\n')}\n---\n${text}`);
  return { desired: r.desired.resources, ignore: r.desired.ignore };
}

test('show YAML loads back as a valid config that plans empty against the same state', () => {
  const state = sample();
  const inv = owning(state, ['namespace:na', 'namespace:nb', 'link:/v1', 'link:nb/v1p', 'sysctl:/net.ipv4.ip_forward']);
  const text = showState(state, inv, { format: 'yaml', all: false, ignore: ['skip*'] });
  const { desired, ignore } = loadBack(text);
  const plan = computePlan({ desired, current: state, inventory: inv, ignore });
  assert.deepEqual(plan.changes.map((c) => `${c.action} ${c.key}`), []);
  assert.doesNotMatch(text, /skip[01]|10\.9\.9\.9/, 'ignored links and what lives on them are hidden');
  assert.match(text, /# owned\n\s*net\.ipv4\.ip_forward: 1\n/, 'owned sysctls are marked on their key');
  assert.match(text, /vrf_table: 100/);
  assert.match(text, /x-unmanaged-links:\n\s*- name: dum0\n\s*kind: dummy/);
});

test('kernel-only values the config refuses are left out: zero MAC, passthru MAC, dev lo of a blackhole', () => {
  // As read from the kernel: a bridge without ports reports an all-zero MAC, a passthru macvlan
  // has its parent's MAC, IPv6 blackhole/unreachable routes sit on lo.
  const state = map(
    { kind: 'namespace', name: 'na' },
    { kind: 'link', namespace: 'na', name: 'br0', type: 'bridge', mtu: 1500, mac: '00:00:00:00:00:00', state: 'up', bridge: { vlanFiltering: false, stp: false } },
    vethEnd('na', 'u0', 'na', 'u1'),
    vethEnd('na', 'u1', 'na', 'u0'),
    { kind: 'link', namespace: 'na', name: 'mv0', type: 'macvlan', mtu: 1500, mac: '02:00:00:00:00:01', state: 'up', macvlan: { parent: 'u0', mode: 'passthru' } },
    { kind: 'route', namespace: 'na', family: 6, to: '2001:db8:53::/64', table: 254, metric: 1024, type: 'blackhole', dev: 'lo', protocol: 194 },
    { kind: 'route', namespace: 'na', family: 6, to: '2001:db8:54::/64', table: 254, metric: 1024, type: 'unreachable', dev: 'lo', protocol: 194 },
  );
  const inv = owning(state, [...state.keys()]);
  const text = showState(state, inv, { format: 'yaml', all: false });
  const { desired } = loadBack(text);
  assert.deepEqual(computePlan({ desired, current: state, inventory: inv }).changes.map((c) => `${c.action} ${c.key}`), []);
  assert.doesNotMatch(text, /00:00:00:00:00:00|dev: lo/);
});

test('a foreign seg6 route without an mtu is listed apart (the config derives one); an owned one stays a route', () => {
  const seg6 = { type: 'seg6' as const, mode: 'encap' as const, segments: ['fc00::1', 'fc00::2'] };
  const route = (to: string, extra: object = {}): Resource => ({ kind: 'route', namespace: 'na', family: 6, to, table: 254, metric: 1024, type: 'unicast', dev: 'u0', encap: seg6, protocol: 3, ...extra });
  const state = map(
    { kind: 'namespace', name: 'na' },
    vethEnd('na', 'u0', 'na', 'u1'),
    vethEnd('na', 'u1', 'na', 'u0'),
    route('2001:db8:98::/48'),
    route('2001:db8:97::/48', { mtu: 1400 }),
    route('2001:db8:96::/48', { protocol: 194 }),
  );
  const inv = owning(state, ['route:na/ipv6/t254/2001:db8:96::/48/m1024']);
  const text = showState(state, inv, { format: 'yaml', all: false });
  const doc = YAML.parse(text);
  assert.deepEqual(doc.routes.map((r: { to: string }) => r.to), ['2001:db8:96::/48', '2001:db8:97::/48']);
  assert.deepEqual(doc['x-unmanaged-routes'].map((r: { to: string; form: string }) => `${r.to} ${r.form}`), ['2001:db8:98::/48 seg6 encap segs fc00::1,fc00::2 without mtu (declared, it gets mtu 1420 unless it declares one)']);
  const { desired } = loadBack(text);
  // The owned one's mtu was removed behind Voltron's back: written back; the foreign one is left alone.
  assert.deepEqual(computePlan({ desired, current: state, inventory: inv }).changes.map((c) => `${c.action} ${c.key}`), ['update route:na/ipv6/t254/2001:db8:96::/48/m1024']);
});

test('what sits on a link the config cannot declare, outside the root namespace, is listed apart and the document loads back', () => {
  const other = (ns: string, name: string, otherKind: string): LinkRes => ({ kind: 'link', namespace: ns, name, type: 'other', otherKind, state: 'up', mtu: 1500 });
  const state = map(
    { kind: 'namespace', name: 'na' },
    other('na', 'bond0', 'bond'),
    other('na', 'vrf0', 'vrf'),
    other('', 'dum0', 'dummy'),
    // A veth whose end in na is a VRF port: the pair cannot be declared (without its master it would leave the VRF).
    vethEnd('', 'v0', 'na', 'v0p'),
    vethEnd('na', 'v0p', '', 'v0', { master: 'vrf0' }),
    { kind: 'link', namespace: 'na', name: 'mv0', type: 'macvlan', mtu: 1500, mac: '02:00:00:00:00:09', state: 'up', macvlan: { parent: 'bond0', mode: 'bridge' } },
    { kind: 'address', namespace: 'na', dev: 'bond0', address: '10.1.0.1/24' },
    { kind: 'address', namespace: 'na', dev: 'mv0', address: '10.2.0.1/24' },
    { kind: 'route', namespace: 'na', family: 4, to: '10.3.0.0/16', table: 254, metric: 0, type: 'unicast', dev: 'bond0', protocol: 3 },
    { kind: 'qdisc', namespace: 'na', dev: 'bond0', parent: 'root', handle: '1:', qdisc: 'htb', options: { default: 0, r2q: 10 } },
    { kind: 'tclass', namespace: 'na', dev: 'bond0', classid: '1:10', parent: '1:', rate: 125000, ceil: 125000 },
    // The root namespace takes an undeclared device for a host device: the address stays an entry.
    { kind: 'address', namespace: '', dev: 'dum0', address: '10.4.0.1/24' },
  );
  const text = showState(state, EMPTY_INVENTORY, { format: 'yaml', all: false });
  const doc = YAML.parse(text);
  assert.deepEqual(doc.addresses, [{ address: '10.4.0.1/24', dev: 'dum0' }]);
  assert.equal(doc.links, undefined);
  assert.deepEqual(doc['x-unmanaged-links'].map((l: { name: string; form?: string }) => `${l.name}: ${l.form ?? '-'}`), [
    'dum0: -',
    'v0: the peer of na/v0p, which the config cannot declare',
    'bond0: -',
    'mv0: on bond0, a link the config cannot declare',
    'v0p: a port of vrf0, a link the config cannot declare',
    'vrf0: -',
  ]);
  for (const k of ['addresses', 'routes', 'qdiscs', 'classes']) assert.ok(doc[`x-unmanaged-${k}`]?.length > 0, k);
  const { desired } = loadBack(text);
  assert.deepEqual(computePlan({ desired, current: state, inventory: EMPTY_INVENTORY }).changes.map((c) => `${c.action} ${c.key}`), []);
});

test('sysctls and tunsrc are mappings in their namespace entry; the root namespace\'s at the top', () => {
  const data = YAML.parse(showState(sample(), EMPTY_INVENTORY, { format: 'yaml', all: false }));
  assert.deepEqual(data.sysctls, { 'net.ipv4.ip_forward': 1 });
  assert.deepEqual(data.namespaces, [
    { name: 'na', sysctls: { 'net.ipv6.conf.all.forwarding': 0 }, seg6: { tunsrc: '2001:db8::1' } },
    { name: 'nb' },
  ]);
  assert.deepEqual(data.seg6, { tunsrc: '2001:db8::2' });
});

test('a veth pair is printed once, from its declaring end, with the peer end settings', () => {
  const data = YAML.parse(showState(sample(), EMPTY_INVENTORY, { format: 'yaml', all: false }));
  const names = data.links.map((l: { name: string }) => l.name);
  assert.deepEqual(names.filter((n: string) => /^(f1|f2|v1|v1p)$/.test(n)).sort(), ['f1', 'v1']);
  const v1 = data.links.find((l: { name: string }) => l.name === 'v1');
  assert.deepEqual(v1.peer, { name: 'v1p', namespace: 'nb', mtu: 1400, mac: '02:00:00:00:00:01', state: 'down' });
  const f1 = data.links.find((l: { name: string }) => l.name === 'f1');
  assert.deepEqual(f1.peer, { name: 'f2', mtu: 1500, mac: '02:00:00:00:00:01', state: 'down' }, 'same namespace: no peer namespace');
});

test('-n NS holding only a peer end prints that end, declaring the pair from there', () => {
  const data = YAML.parse(showState(sample(), EMPTY_INVENTORY, { format: 'yaml', all: false, namespace: 'nb' }));
  assert.deepEqual(data.links, [
    { name: 'v1p', type: 'veth', mtu: 1400, mac: '02:00:00:00:00:01', state: 'down', peer: { name: 'v1', namespace: '', mtu: 1500, mac: '02:00:00:00:00:01', state: 'up' }, namespace: 'nb' },
  ]);
  assert.deepEqual(data.namespaces, [{ name: 'nb' }]);
  assert.equal(data.sysctls, undefined, 'root sysctls live elsewhere');
  // The root end seen from the root: its peer's settings too (undeclared, a down peer would be set up).
  const root = YAML.parse(showState(sample(), EMPTY_INVENTORY, { format: 'yaml', all: false, namespace: '' }));
  assert.deepEqual(root.links.find((l: { name: string }) => l.name === 'v1').peer, { name: 'v1p', namespace: 'nb', mtu: 1400, mac: '02:00:00:00:00:01', state: 'down' });
});

test("-n NS: a veth's other end outside NS keeps its settings and its bridge (printed too), so the document plans empty", () => {
  const state = map(
    { kind: 'namespace', name: 'nb' },
    { kind: 'link', namespace: '', name: 'br0', type: 'bridge', mtu: 1500, mac: '02:00:00:00:00:09', state: 'up', bridge: { vlanFiltering: false, stp: false } },
    vethEnd('', 'v1', 'nb', 'v1p', { master: 'br0', state: 'down' }),
    vethEnd('nb', 'v1p', '', 'v1', { veth: { peer: { name: 'v1', namespace: '' }, primary: false } }),
    // another port of br0, and a bridge no end in nb is a port of: not shown
    vethEnd('', 'w1', '', 'w2', { master: 'br0' }),
    vethEnd('', 'w2', '', 'w1'),
    { kind: 'link', namespace: '', name: 'br1', type: 'bridge', mtu: 1500, mac: '02:00:00:00:00:0a', state: 'up', bridge: { vlanFiltering: false, stp: false } },
  );
  const text = showState(state, EMPTY_INVENTORY, { format: 'yaml', all: false, namespace: 'nb' });
  const data = YAML.parse(text);
  assert.deepEqual(data.links[0].peer, { name: 'v1', namespace: '', mtu: 1500, mac: '02:00:00:00:00:01', state: 'down', master: 'br0' });
  assert.deepEqual(data.links.map((l: { name: string }) => l.name), ['v1p', 'br0']);
  const { desired } = loadBack(text);
  const plan = computePlan({ desired, current: state, inventory: EMPTY_INVENTORY, ignore: [] });
  assert.deepEqual(plan.changes.map((c) => `${c.action} ${c.key}`), []);
  // An ignored bridge is not declared: nor is the master naming it.
  const ignored = YAML.parse(showState(state, EMPTY_INVENTORY, { format: 'yaml', all: false, namespace: 'nb', ignore: ['br*'] }));
  assert.deepEqual(ignored.links.map((l: { name: string; peer?: { master?: string } }) => [l.name, l.peer?.master]), [['v1p', undefined]]);
});

test('-n NS loads back as a valid config: the namespace of a veth end outside NS is declared', () => {
  const state = sample();
  const inv = owning(state, ['namespace:na', 'namespace:nb', 'link:/v1', 'link:nb/v1p']);
  for (const namespace of ['', 'na', 'nb']) {
    const text = showState(state, inv, { format: 'yaml', all: false, namespace, ignore: ['skip*'] });
    const { desired, ignore } = loadBack(text);
    // As a config in a fresh state dir: what it declares is in sync.
    const plan = computePlan({ desired, current: state, inventory: EMPTY_INVENTORY, ignore });
    assert.deepEqual(plan.changes.map((c) => `${c.action} ${c.key}`), [], `-n '${namespace}'`);
  }
  // From the root, v1's other end is in nb: nb is declared (and marked owned), without its contents.
  const root = YAML.parse(showState(state, inv, { format: 'yaml', all: false, namespace: '' }));
  assert.deepEqual(root.namespaces, [{ name: 'nb' }]);
  assert.match(showState(state, inv, { format: 'yaml', all: false, namespace: '' }), /# owned\n\s*- name: nb/);
});

test('JSON carries the same document plus owned: true on owned entries', () => {
  const state = sample();
  const inv = owning(state, ['namespace:na', 'link:/v1']);
  const opts = { all: false, ignore: ['skip*'] } as const;
  const json = JSON.parse(showState(state, inv, { ...opts, format: 'json' }));
  const yaml = YAML.parse(showState(state, inv, { ...opts, format: 'yaml' }));
  assert.equal(json.namespaces[0].owned, true);
  assert.equal(json.links.find((l: { name: string }) => l.name === 'v1').owned, true);
  const strip = (v: unknown): unknown =>
    Array.isArray(v) ? v.map(strip) : v && typeof v === 'object' ? Object.fromEntries(Object.entries(v).filter(([k]) => k !== 'owned').map(([k, x]) => [k, strip(x)])) : v;
  assert.deepEqual(strip(json), yaml);
});

test('declaringEnd: config/inventory primary wins, else the smaller key', () => {
  const a = vethEnd('nb', 'a', '', 'z');
  const z = vethEnd('', 'z', 'nb', 'a');
  assert.equal(declaringEnd(a, z), z, 'both claim it: link:/z < link:nb/a');
  assert.equal(declaringEnd(z, a), z);
  const za = { ...z, veth: { ...z.veth!, primary: false } };
  assert.equal(declaringEnd(za, a), a);
  assert.equal(buildShowDoc(map(a, z), EMPTY_INVENTORY, { all: false }).sections.get('links')!.length, 1);
});

test('sysctlValue keeps integers numeric and everything else text', () => {
  assert.equal(sysctlValue('1'), 1);
  assert.equal(sysctlValue('-1'), -1);
  assert.equal(sysctlValue('01'), '01');
  assert.equal(sysctlValue('4096\t87380\t6291456'), '4096\t87380\t6291456');
  assert.equal(sysctlValue('99999999999999999999'), '99999999999999999999');
});

/** Live tc and bpf state as the kernel readers return it (model units: bytes/s, bytes, µs). */
function tcSample(): StateMap {
  const q = (dev: string, parent: string, handle: string | undefined, qdisc: string, options: Record<string, number> = {}): Resource =>
    ({ kind: 'qdisc', namespace: 'na', dev, parent, ...(handle ? { handle } : {}), qdisc, options }) as Resource;
  return map(
    { kind: 'namespace', name: 'na' },
    vethEnd('na', 'ta', 'na', 'tb'),
    vethEnd('na', 'tb', 'na', 'ta'),
    q('ta', 'root', '1:', 'htb', { default: 0x10, r2q: 10 }),
    { kind: 'tclass', namespace: 'na', dev: 'ta', classid: '1:1', parent: '1:', rate: 12_500_000, ceil: 12_500_000 },
    { kind: 'tclass', namespace: 'na', dev: 'ta', classid: '1:10', parent: '1:1', rate: 1_250_000, ceil: 12_500_000 },
    { kind: 'tclass', namespace: 'na', dev: 'ta', classid: '1:20', parent: '1:1', rate: 625_000, ceil: 6_250_000_000 },
    { kind: 'tclass', namespace: 'na', dev: 'ta', classid: '1:30', parent: '1:1', rate: 1000, ceil: 1000 },
    q('ta', '1:10', '10:', 'tbf', { rate: 1_250_000, burst: 32768, limit: 95268, latency: 50000 }),
    q('ta', '1:20', '20:', 'pfifo', { limit: 100 }),
    q('ta', '1:30', '30:', 'tbf', { rate: 125_000, burst: 1514, limit: 3000 }), // no latency maps back: limit
    q('ta', 'clsact', undefined, 'clsact'),
    q('tb', 'root', '2:', 'fq_codel', { limit: 10240, flows: 1024, quantum: 1514, target: 4999, interval: 99999, ecn: 1 }),
    q('tb', 'clsact', undefined, 'clsact'),
    // a foreign prio qdisc and a pfifo under one of its classes: not declarable
    vethEnd('na', 'tc', 'na', 'td'),
    vethEnd('na', 'td', 'na', 'tc'),
    q('tc', 'root', '5:', 'prio'),
    q('tc', '5:1', '51:', 'pfifo', { limit: 10 }),
    // an ingress qdisc: the kernel reader puts it in the ingress/clsact slot, as a clsact
    q('tc', 'clsact', 'ffff:', 'ingress'),
    q('td', 'root', '6:', 'fq', { limit: 10000, flow_limit: 100, quantum: 3028, maxrate: 1_000_000 }),
    // the filter a clsact program attaches through; a filter running a declared program; a foreign one
    { kind: 'tfilter', namespace: 'na', dev: 'ta', direction: 'ingress', priority: 49152, program: 'count_packets_v:[9114]', tag: '1b8a71b7c134682f' },
    { kind: 'tfilter', namespace: 'na', dev: 'tb', direction: 'egress', priority: 1, program: 'cnt', tag: 'a4eb6e6a84bba3ed' },
    { kind: 'tfilter', namespace: 'na', dev: 'tb', direction: 'ingress', priority: 7, program: 'foo.o:[classifier]', tag: '00112233aabbccdd' },
    {
      kind: 'bpf',
      name: 'cnt',
      object: '/opt/bpf/counter.bpf.o',
      program: 'count_packets',
      attach: { type: 'tcx', namespace: 'na', dev: 'tb', direction: 'ingress' },
      maps: ['counters'],
      mapEntries: { counters: [{ key: '03000000', value: '0100000000000000' }] },
      tag: 'a4eb6e6a84bba3ed',
    },
    { kind: 'bpf', name: 'cls', object: '/opt/bpf/counter_v2.bpf.o', program: 'count_packets_v2', attach: { type: 'clsact', namespace: 'na', dev: 'ta', direction: 'ingress' }, maps: ['counters'], tag: '1b8a71b7c134682f' },
    { kind: 'bpf', name: 'sock', object: '/opt/bpf/sockops.bpf.o', program: 'socks', attach: { type: 'cgroup', cgroup: 'voltron-test', hook: 'sock_ops' }, maps: [], tag: 'detached' },
  );
}

test('qdiscs, classes, filters and bpf programs load back as a valid config that plans empty', () => {
  const state = tcSample();
  const inv = owning(state, ['namespace:na', 'qdisc:na/ta/root', 'tclass:na/ta/1:10', 'bpf:cnt']);
  const text = showState(state, inv, { format: 'yaml', all: false });
  const { desired, ignore } = loadBack(text);
  const plan = computePlan({ desired, current: state, inventory: inv, ignore });
  assert.deepEqual(plan.changes.map((c) => `${c.action} ${c.key}`), []);
  // Everything declarable is declared: not the prio qdisc and what is under it, the foreign filter,
  // nor the clsact program's own filter and (not owned) clsact qdisc (the program declares them).
  const declarable = [...state.keys()].filter((k) => !/^qdisc:na\/tc\/|^tfilter:na\/ta\/|^tfilter:na\/tb\/ingress|^qdisc:na\/ta\/clsact/.test(k));
  assert.deepEqual([...desired.keys()].sort(), declarable.sort());
  assert.doesNotMatch(text.split('x-unmanaged-')[0]!, /tclasss|tfilters|bpfs|options:|qdisc:|tag:/, 'no model-only keys');
  assert.match(text, /bpf:\n\s+programs:\n\s+- name: cls\n[^#]*# owned\n\s+- name: cnt\n/, 'bpf programs under bpf.programs, owned marked');
});

test('tc and bpf entries use the config spelling and units', () => {
  const data = YAML.parse(showState(tcSample(), EMPTY_INVENTORY, { format: 'yaml', all: false }));
  const qd = (dev: string, parent?: string) => data.qdiscs.find((x: Item) => x.dev === dev && (parent === undefined ? x.kind === 'clsact' : x.parent === parent));
  type Item = Record<string, unknown>;
  assert.deepEqual(qd('ta', 'root'), { dev: 'ta', parent: 'root', handle: '1:', kind: 'htb', default: '10', r2q: 10, namespace: 'na' });
  assert.deepEqual(qd('ta', '1:10'), { dev: 'ta', parent: '1:10', handle: '10:', kind: 'tbf', rate: '10mbit', burst: '32kb', latency: '50ms', namespace: 'na' });
  assert.deepEqual(qd('ta', '1:30'), { dev: 'ta', parent: '1:30', handle: '30:', kind: 'tbf', rate: '1mbit', burst: 1514, limit: 3000, namespace: 'na' });
  assert.deepEqual(qd('ta', '1:20'), { dev: 'ta', parent: '1:20', handle: '20:', kind: 'pfifo', limit: 100, namespace: 'na' });
  assert.equal(qd('ta'), undefined, "the clsact program's qdisc comes with the program");
  assert.deepEqual(qd('tb'), { dev: 'tb', kind: 'clsact', namespace: 'na' }, 'a clsact no program uses is printed');
  assert.deepEqual(qd('tb', 'root'), { dev: 'tb', parent: 'root', handle: '2:', kind: 'fq_codel', limit: 10240, flows: 1024, target: '4999us', interval: '99999us', quantum: 1514, ecn: true, namespace: 'na' });
  assert.deepEqual(qd('td', 'root'), { dev: 'td', parent: 'root', handle: '6:', kind: 'fq', limit: 10000, flow_limit: 100, quantum: 3028, maxrate: '8mbit', namespace: 'na' });
  assert.deepEqual(data.classes, [
    { dev: 'ta', classid: '1:1', rate: '100mbit', ceil: '100mbit', namespace: 'na' },
    { dev: 'ta', classid: '1:10', parent: '1:1', rate: '10mbit', ceil: '100mbit', namespace: 'na' },
    { dev: 'ta', classid: '1:20', parent: '1:1', rate: '5mbit', ceil: '50gbit', namespace: 'na' },
    { dev: 'ta', classid: '1:30', parent: '1:1', rate: '8kbit', ceil: '8kbit', namespace: 'na' },
  ]);
  assert.deepEqual(data.filters, [{ dev: 'tb', direction: 'egress', priority: 1, program: 'cnt', namespace: 'na' }], "a clsact program's own filter is the program");
  assert.deepEqual(data.bpf.programs, [
    { name: 'cls', object: '/opt/bpf/counter_v2.bpf.o', program: 'count_packets_v2', attach: { type: 'clsact', namespace: 'na', dev: 'ta', direction: 'ingress' }, maps: ['counters'] },
    {
      name: 'cnt',
      object: '/opt/bpf/counter.bpf.o',
      program: 'count_packets',
      attach: { type: 'tcx', namespace: 'na', dev: 'tb', direction: 'ingress' },
      maps: ['counters'],
      map_entries: { counters: [{ key: '03 00 00 00', value: '01 00 00 00 00 00 00 00' }] },
    },
    { name: 'sock', object: '/opt/bpf/sockops.bpf.o', program: 'socks', attach: { type: 'cgroup', cgroup: 'voltron-test', hook: 'sock_ops' } },
  ]);
  assert.deepEqual(data['x-unmanaged-qdiscs'], [
    { dev: 'tc', parent: '5:1', handle: '51:', kind: 'pfifo', form: 'under 5:1, which is not an htb class in this document', namespace: 'na' },
    // no `parent: clsact`: an ingress qdisc is no qdisc under a clsact
    { dev: 'tc', handle: 'ffff:', kind: 'ingress', form: 'kind ingress is not modelled (a clsact qdisc has the same ingress hook)', namespace: 'na' },
    { dev: 'tc', parent: 'root', handle: '5:', kind: 'prio', form: 'kind prio is not modelled', namespace: 'na' },
  ]);
  assert.deepEqual(data['x-unmanaged-filters'], [{ dev: 'tb', direction: 'ingress', priority: 7, program: 'foo.o:[classifier]', tag: '00112233aabbccdd', namespace: 'na' }]);
});

test('tc ids are quoted in YAML; -n and JSON keep bpf programs under bpf.programs', () => {
  const state = tcSample();
  const text = showState(state, EMPTY_INVENTORY, { format: 'yaml', all: false });
  assert.match(text, /parent: "1:10"/);
  assert.match(text, /classid: "1:1"/);
  assert.match(text.split('x-unmanaged-qdiscs')[1]!, /parent: "5:1"/, 'also where x-unmanaged-qdiscs names a class');
  const json = JSON.parse(showState(state, owning(state, ['bpf:cls']), { format: 'json', all: false }));
  assert.equal(json.bpf.programs.find((p: { name: string }) => p.name === 'cls').owned, true);
  const only = YAML.parse(showState(state, EMPTY_INVENTORY, { format: 'yaml', all: false, namespace: '' }));
  assert.deepEqual(only.bpf.programs.map((p: { name: string }) => p.name), ['sock'], 'a cgroup program lives in the root namespace');
  assert.equal(only.qdiscs, undefined);
});

test("a clsact qdisc a program's attach created is not printed; one the config declared (owned) is", () => {
  const state = tcSample();
  const qdiscsOf = (inv: Inventory) => (YAML.parse(showState(state, inv, { format: 'yaml', all: false })).qdiscs as { dev: string; kind: string }[]).filter((q) => q.kind === 'clsact').map((q) => q.dev);
  assert.deepEqual(qdiscsOf(EMPTY_INVENTORY), ['tb']);
  assert.deepEqual(qdiscsOf(owning(state, ['qdisc:na/ta/clsact'])), ['ta', 'tb']);
});
