// Sizes real hosts reach: VNI filters of up to 2^24 entries are sent and shown as ranges; plans
// of thousands of routes and rules in one namespace order them without quadratic dependsOn.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Attrs } from '../../src/kernel/netlink/attrs';
import * as R from '../../src/kernel/netlink/rtnl';
import { VNI_ENTRIES_PER_REQUEST, vniRequests } from '../../src/kernel/vlan';
import { fmtScalar } from '../../src/plan/format';
import { legacyVnis, mergeRanges, RangeClaims, subtractRanges, toRanges } from '../../src/util/ranges';
import { Alias } from 'yaml';
import { formatConfigError, loadConfigFromStrings } from '../../src/config';
import { mergeFiles, newPoison } from '../../src/config/merge';
import type { ConfigError, Raw } from '../../src/config/types';
import { YamlFile } from '../../src/config/yamlpos';
import { planToJson, renderText } from '../../src/plan';
import { buildShowDoc } from '../../src/cli/show-doc';
import { resourceKey } from '../../src/model/keys';
import type { LinkRes, Resource } from '../../src/model/types';
import { computePlan } from '../../src/plan';
import { KernelGraph } from '../../src/plan/cascade';
import { LISTED_LAYER_MAX } from '../../src/plan/schedule';
import { EMPTY_INVENTORY, type Inventory, type Plan } from '../../src/plan/types';

/** [start, end] of every VNI filter entry of a request's attributes. */
function entries(buf: Buffer): [number, number][] {
  return Attrs.parse(buf)
    .all(R.VXLAN_VNIFILTER_ENTRY)
    .map((e) => {
      const a = Attrs.parse(e);
      const start = a.u32(R.VXLAN_VNIFILTER_ENTRY_START)!;
      return [start, a.u32(R.VXLAN_VNIFILTER_ENTRY_END) ?? start];
    });
}

test('toRanges: runs of consecutive integers, from any order and with duplicates', () => {
  assert.deepEqual(toRanges([]), []);
  assert.deepEqual(toRanges([1, 2, 3, 7, 9, 10]), [[1, 3], [7, 7], [9, 10]]);
  assert.deepEqual(toRanges([10, 9, 1, 3, 2, 2]), [[1, 3], [9, 10]]);
});

test('run arithmetic: merge, subtract and first-clash claims, whatever the run lengths', () => {
  assert.deepEqual(mergeRanges([[9, 12], [1, 4], [5, 5], [11, 20], [30, 30]]), [[1, 5], [9, 20], [30, 30]]);
  assert.deepEqual(subtractRanges([[1, 16777215]], [[100, 200], [16777215, 16777215]]), [[1, 99], [201, 16777214]]);
  assert.deepEqual(subtractRanges([[1, 5], [10, 20]], [[0, 2], [4, 12], [20, 30]]), [[3, 3], [13, 19]]);
  assert.deepEqual(subtractRanges([[1, 5]], []), [[1, 5]]);
  const c = new RangeClaims<string>();
  assert.equal(c.claim(100, 200, 'a'), undefined);
  assert.deepEqual(c.claim(1, 16777215, 'b'), { at: 100, owner: 'a' }); // takes 1-99 only
  assert.deepEqual(c.claim(50, 60, 'c'), { at: 50, owner: 'b' });
  assert.equal(c.claim(201, 16777215, 'd'), undefined);
  assert.deepEqual(c.list().map((x) => [x.lo, x.hi, x.owner]), [[1, 99, 'b'], [100, 200, 'a'], [201, 16777215, 'd']]);
  // A state file written when VNIs were listed one by one reads as runs.
  assert.deepEqual(JSON.parse('{"vnis":[3,1,2,7]}', legacyVnis), { vnis: [[1, 3], [7, 7]] });
  assert.deepEqual(JSON.parse('{"vnis":[[1,3]]}', legacyVnis), { vnis: [[1, 3]] });
});

test('a VNI filter of the whole VNI space loads, plans, renders and shows as runs in well under a second', () => {
  // It was expanded VNI by VNI: 52 s and 3.4 GB for `voltron validate` (256 items of 65536).
  const t0 = process.hrtime.bigint();
  const items = Array.from({ length: 256 }, (_, i) => `"${i * 65536 + 1}-${Math.min((i + 1) * 65536, 16777215)}"`);
  const load = (vnis: string) => {
    const r = loadConfigFromStrings([{ name: 'a.yaml', text: `links:\n  - { name: vx0, type: vxlan, vxlan: { external: true, vnifilter: true }, vnis: [ ${vnis} ] }\n` }], 'h');
    if (!r.ok) assert.fail(r.errors.map(formatConfigError).join('\n'));
    return r.desired.resources.get('link:/vx0') as LinkRes;
  };
  const all = load(items.join(', '));
  assert.deepEqual(all.vnis, [[1, 16777215]]);
  assert.deepEqual(load('"1-16777215"').vnis, [[1, 16777215]]); // one item: refused as "too large" before
  const live: LinkRes = { ...all, vnis: [[1, 99], [101, 16777215]] };
  const p = computePlan({ desired: new Map([['link:/vx0', all]]), current: new Map([['link:/vx0', live]]), inventory: EMPTY_INVENTORY });
  assert.match(renderText(p, { color: false }), /~ vnis: \[1-99, 101-16777215\] → \[1-16777215\]\n/);
  const json = planToJson(p) as { changes: { fields: { before: unknown; after: unknown }[] }[] };
  assert.deepEqual(json.changes[0]!.fields[0], { field: 'vnis', before: ['1-99', '101-16777215'], after: ['1-16777215'] });
  const shown = buildShowDoc(new Map([['link:/vx0', live]]), EMPTY_INVENTORY, { all: false }).sections.get('links')!;
  assert.deepEqual(shown[0]!.item['vnis'], ['1-99', '101-16777215']);
  assert.deepEqual(load(`7, "100-102", 300`).vnis, [[7, 7], [100, 102], [300, 300]]);
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  assert.ok(ms < 1000, `${ms} ms`);
});

test('VNI filter requests: 2^20 VNIs in 16 runs are 16 range entries in one small request (one entry per VNI was 12 MB: EMSGSIZE)', () => {
  const vnis = Array.from({ length: 1 << 20 }, (_, i) => i + 1);
  vnis.splice(70000, 1); // a hole: two runs around it
  const reqs = vniRequests(toRanges(vnis));
  assert.equal(reqs.length, 1);
  assert.deepEqual(entries(reqs[0]!.toBuffer()), [[1, 70000], [70002, 1 << 20]]);
  assert.ok(reqs[0]!.length < 100);
});

test('VNI filter requests: many separate VNIs are split so no request exceeds 64 KiB', () => {
  const vnis = Array.from({ length: 10_000 }, (_, i) => 2 * i + 1); // no two consecutive
  const reqs = vniRequests(toRanges(vnis));
  assert.equal(reqs.length, Math.ceil(10_000 / VNI_ENTRIES_PER_REQUEST));
  for (const r of reqs) assert.ok(r.length <= 65536, `${r.length} bytes`);
  assert.deepEqual(reqs.flatMap((r) => entries(r.toBuffer())).map(([a, b]) => (assert.equal(a, b), a)), vnis);
});

test('plan values: a VNI list is shown as runs, other lists item by item', () => {
  assert.equal(fmtScalar([[1, 1 << 20], [2_000_000, 2_000_000]], 'vnis'), '[1-1048576, 2000000]');
  assert.equal(fmtScalar([], 'vnis'), '[]');
  assert.equal(fmtScalar([1, 2, 3], 'segments'), '[1, 2, 3]');
});

test('plan ordering: many rules over many routes and addresses keep their layers through barriers, with linear dependsOn', () => {
  const ns = 'big';
  const link: Resource = { kind: 'link', namespace: ns, name: 'b0', type: 'bridge' };
  const addresses: Resource[] = Array.from({ length: 100 }, (_, i) => ({ kind: 'address', namespace: ns, dev: 'b0', address: `10.${i}.0.1/16` }));
  const routes: Resource[] = Array.from({ length: 3000 }, (_, i) => ({ kind: 'route', namespace: ns, family: 4, to: `172.${16 + (i >> 8)}.${i & 255}.0/24`, table: 100, metric: 0, type: 'unicast', dev: 'b0' }));
  const rules: Resource[] = Array.from({ length: 500 }, (_, i) => ({ kind: 'rule', namespace: ns, family: 4, priority: 1000 + i, action: 'lookup', table: 100 }));
  const nsRes: Resource = { kind: 'namespace', name: ns };
  const all = [nsRes, link, ...addresses, ...routes, ...rules];
  const state = (rs: Resource[]) => new Map(rs.map((r) => [resourceKey(r), r]));
  const at = (p: Plan) => new Map(p.changes.map((c, i) => [c.key, i]));
  const layersHold = (p: Plan, first: Resource[], then: Resource[]) => {
    const i = at(p);
    const lastFirst = Math.max(...first.map((r) => i.get(resourceKey(r))!));
    const firstThen = Math.min(...then.map((r) => i.get(resourceKey(r))!));
    assert.ok(lastFirst < firstThen, `${lastFirst} < ${firstThen}`);
  };
  // Creates: addresses, then routes, then rules.
  const up = computePlan({ desired: state(all), current: new Map(), inventory: EMPTY_INVENTORY });
  assert.equal(up.changes.length, all.length);
  layersHold(up, addresses, routes);
  layersHold(up, routes, rules);
  // 1.5 million edges listed one by one before; beyond LISTED_LAYER_MAX members the order carries a layer.
  const listed = up.changes.reduce((n, c) => n + c.dependsOn.length, 0);
  assert.ok(listed < 4 * all.length, `${listed} dependsOn entries`);
  // Deletes, reversed: rules, then routes, then addresses (the link, the namespace and one address
  // stay: the link's last IPv4 address would take the routes along in the kernel).
  const owned: Inventory = { version: 1, owned: Object.fromEntries(all.map((r) => [resourceKey(r), r])), original: {} };
  const down = computePlan({ desired: state([nsRes, link, addresses[0]!]), current: state(all), inventory: owned });
  assert.equal(down.changes.length, all.length - 3);
  layersHold(down, rules, routes);
  layersHold(down, routes, addresses.slice(1));
  // A small layer is still listed in full.
  const small = computePlan({ desired: state([nsRes, link, addresses[0]!, routes[0]!, rules[0]!]), current: new Map(), inventory: EMPTY_INVENTORY });
  const byKey = new Map(small.changes.map((c) => [c.key, c]));
  assert.deepEqual(byKey.get(resourceKey(rules[0]!))!.dependsOn, ['namespace:big', resourceKey(routes[0]!)]);
  assert.ok(byKey.get(resourceKey(routes[0]!))!.dependsOn.includes(resourceKey(addresses[0]!)));
  assert.ok(LISTED_LAYER_MAX < 100);
});

test('kernel cascades: thousands of IPv4 addresses on one link are deleted with linear work', () => {
  // Pruning 16000 secondaries of one primary took 33 s in compute plan: every address's "was that
  // the link's last IPv4 address?" check rescanned the link, and every primary its secondaries.
  const n = 4000;
  const a = (address: string, secondary?: boolean): Resource => ({ kind: 'address', namespace: '', dev: 'b0', address, ...(secondary ? { secondary } : {}) });
  const primary = a('10.0.0.1/8');
  const secondaries = Array.from({ length: n }, (_, i) => a(`10.1.${i >> 8}.${i & 255}/8`, true));
  const primaries = Array.from({ length: n }, (_, i) => a(`11.${i >> 8}.${i & 255}.1/24`)); // one subnet each
  const route: Resource = { kind: 'route', namespace: '', family: 4, to: '172.16.0.0/16', table: 254, metric: 0, type: 'unicast', dev: 'b0' };
  const all = [{ kind: 'link', namespace: '', name: 'b0', type: 'bridge' } as Resource, primary, ...secondaries, ...primaries, route];
  let ops = 0;
  class Counting<K, V> extends Map<K, V> {
    override get(k: K): V | undefined {
      ops++;
      return super.get(k);
    }
    override has(k: K): boolean {
      ops++;
      return super.has(k);
    }
  }
  const state = new Counting(all.map((r) => [resourceKey(r), r] as const));
  const addrKeys = all.filter((r) => r.kind === 'address').map(resourceKey);
  // Everything deleted: compute.ts asks what each delete takes along.
  const graph = new KernelGraph(state, new Counting(addrKeys.map((k) => [k, k] as const)) as unknown as Set<string>);
  ops = 0;
  const taken = addrKeys.map((k) => graph.removedWith(k));
  assert.ok(ops < 50 * addrKeys.length, `${ops} lookups for ${addrKeys.length} addresses`);
  assert.equal(taken[0]!.size, n + 1, 'the primary takes its secondaries and, as all go, the route');
  assert.ok(taken[0]!.has(resourceKey(route)));
  // Only the primary deleted: it takes its subnet's secondaries, not the other primaries nor the route.
  ops = 0;
  const alone = new KernelGraph(state, new Set([resourceKey(primary)])).removedWith(resourceKey(primary));
  assert.ok(ops < 50 * addrKeys.length, `${ops} lookups`);
  assert.deepEqual([...alone.keys()].sort(), secondaries.map(resourceKey).sort());
});

test('YAML aliases: 5000 routes sharing one anchor load, with no per-alias scan of the document', () => {
  // yaml's toJS refused over 1000 uses of one anchor ("resource exhaustion attack"), and looks up
  // each alias by a scan of the document (yaml's Alias.resolve): 200 s for 64000 aliases, and
  // the error path that placed an alias took 43 s for 4000.
  const n = 5000;
  const routes = Array.from({ length: n }, (_, i) => `  - { to: "2001:db8:${i.toString(16)}::/64", dev: b0, table: 100, encap: *s }`);
  const text = `${['x-s: &s { type: seg6, mode: encap, segments: [ "fc00:1::1", "fc00:2::1" ] }', 'links:', '  - { name: b0, type: bridge }', 'routes:', ...routes].join('\n')}\n`;
  const resolve = Alias.prototype.resolve;
  let calls = 0;
  Alias.prototype.resolve = function (this: Alias, ...args: Parameters<Alias['resolve']>) {
    calls++;
    return resolve.apply(this, args);
  };
  try {
    const r = loadConfigFromStrings([{ name: 'a.yaml', text }], 'h');
    if (!r.ok) assert.fail(r.errors.slice(0, 3).map(formatConfigError).join('\n'));
    assert.equal([...r.desired.resources.values()].filter((x) => x.kind === 'route' && x.encap?.type === 'seg6').length, n);
    // A dangling alias after them all is found and placed.
    const bad = loadConfigFromStrings([{ name: 'a.yaml', text: `${text}  - { to: 10.0.0.0/8, dev: b0, encap: *t }\n` }], 'h');
    assert.ok(!bad.ok);
    assert.deepEqual(bad.errors.map(formatConfigError), [`a.yaml:${n + 5}:39: /: YAML: alias '*t' has no anchor '&t' before it`]);
  } finally {
    Alias.prototype.resolve = resolve;
  }
  assert.equal(calls, 0);
});

test('show: 20000 sysctls of one namespace are built in linear time', () => {
  // Each key copied the namespace's whole sysctl mapping: 16 s of `voltron show` for 8000.
  const n = 20_000;
  const rs: Resource[] = Array.from({ length: n }, (_, i) => ({ kind: 'sysctl', namespace: '', key: `net.ipv4.conf.b${i}.rp_filter`, value: '2' }));
  const t0 = process.hrtime.bigint();
  const doc = buildShowDoc(new Map(rs.map((r) => [resourceKey(r), r])), EMPTY_INVENTORY, { all: false });
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  assert.equal(Object.keys(doc.sysctls.item).length, n);
  assert.equal(doc.sysctls.item['net.ipv4.conf.b7.rp_filter'], 2);
  assert.ok(ms < 5000, `${ms} ms (quadratic: minutes)`);
});

test('kernel cascades: thousands of htb classes are deleted with linear work, each taking its own children', () => {
  // Each removed class scanned every tc object of its device for children: 1.9 s of a plan at 4000.
  const n = 4000;
  const cls = (classid: string, parent: string): Resource => ({ kind: 'tclass', namespace: '', dev: 'p0', classid, parent, rate: 1000 });
  const root: Resource = { kind: 'qdisc', namespace: '', dev: 'p0', parent: 'root', handle: '1:', qdisc: 'htb', options: {} };
  const top = cls('1:1', '1:');
  const leaves = Array.from({ length: n }, (_, i) => cls(`1:${(i + 2).toString(16)}`, '1:1'));
  const leafQdisc: Resource = { kind: 'qdisc', namespace: '', dev: 'p0', parent: '1:2', handle: '2:', qdisc: 'htb', options: {} };
  const under = cls('2:1', '2:');
  const all = [{ kind: 'link', namespace: '', name: 'p0', type: 'bridge' } as Resource, root, top, ...leaves, leafQdisc, under];
  let ops = 0;
  const state = new (class extends Map<string, Resource> {
    override get(k: string): Resource | undefined {
      ops++;
      return super.get(k);
    }
  })(all.map((r) => [resourceKey(r), r] as const));
  const graph = new KernelGraph(state);
  ops = 0;
  const taken = all.slice(1).map((r) => graph.removedWith(resourceKey(r)));
  assert.ok(ops < 50 * all.length, `${ops} lookups for ${all.length} tc objects`);
  assert.equal(taken[0]!.size, all.length - 2, 'the root qdisc takes every class and qdisc below it');
  assert.equal(taken[1]!.size, n + 2, 'the top class: its leaves, and the qdisc (and class) below one');
  assert.deepEqual([...taken[2]!.keys()], [resourceKey(leafQdisc), resourceKey(under)], 'leaf 1:2: its qdisc and that qdisc\'s class');
  assert.equal(taken[3]!.size, 0);
});

test('merge: thousands of entries with schema errors are set aside with linear work, as before', () => {
  // Each entry scanned every bad pointer of its file: 10 s of `voltron validate` at 16000 errors.
  const n = 5000;
  const text = `links:\n${Array.from({ length: n }, (_, i) => `  - { name: b${i}, type: bridge, mtu: ${i % 2 ? 10 : 1500} }`).join('\n')}\n`;
  const yaml = new YamlFile('a.yaml', text);
  const loaded = yaml.load();
  assert.ok(!loaded.errors);
  const bad = Array.from({ length: n / 2 }, (_, i) => `/links/${2 * i + 1}/mtu`);
  let reads = 0;
  const counted = new Proxy(bad, {
    get(t, k, r) {
      if (typeof k === 'string' && /^[0-9]+$/.test(k)) reads++;
      return Reflect.get(t, k, r) as unknown;
    },
  });
  const poison = newPoison();
  const errors: ConfigError[] = [];
  const merged = mergeFiles([{ yaml, data: loaded.value as Raw, bad: counted, overlay: false }], poison, errors);
  assert.ok(reads < 10 * n, `${reads} reads of ${bad.length} bad pointers`);
  assert.deepEqual(errors, []);
  assert.equal(merged.lists.links.length, n / 2, 'the valid half is merged');
  assert.equal(poison.names.get('links')?.size, n / 2, 'the other half is poisoned');
  // At, above and below a bad pointer; not a sibling whose name merely starts the same.
  const one = mergeFiles([{ yaml, data: { links: [{ name: 'x', type: 'bridge' }], ignore: ['a'] } as Raw, bad: ['/links/0/mtu', '/ignore'], overlay: false }], newPoison(), []);
  assert.equal(one.lists.links.length, 0);
  assert.deepEqual(one.ignore, []);
  const sib = mergeFiles([{ yaml, data: { links: [{ name: 'x', type: 'bridge' }, { name: 'y', type: 'bridge' }] } as Raw, bad: ['/links/10'], overlay: false }], newPoison(), []);
  assert.equal(sib.lists.links.length, 2);
  const all = mergeFiles([{ yaml, data: { links: [{ name: 'x', type: 'bridge' }] } as Raw, bad: [''], overlay: false }], newPoison(), []);
  assert.equal(all.lists.links.length, 0);
});

test('schema errors under an anyOf are reported one each, with linear work', () => {
  // Each error was checked against every anyOf error of the file (a schemaPath prefix test per
  // pair): 17 s of `voltron validate` for 8000 routes with a bad table.
  const n = 1500;
  const routes = Array.from({ length: n }, (_, i) => `  - { to: 10.${i >> 8}.${i & 255}.0/24, dev: br0, table: [1] }`);
  const text = `links:\n  - { name: br0, type: bridge }\nroutes:\n${routes.join('\n')}\n`;
  const startsWith = String.prototype.startsWith;
  let calls = 0;
  String.prototype.startsWith = function (this: string, ...args: Parameters<string['startsWith']>) {
    calls++;
    return startsWith.apply(this, args);
  };
  let r;
  try {
    r = loadConfigFromStrings([{ name: 'a.yaml', text }], 'h');
  } finally {
    String.prototype.startsWith = startsWith;
  }
  assert.ok(!r.ok);
  assert.equal(r.errors.length, n);
  assert.match(formatConfigError(r.errors[n - 1]!), new RegExp(`^a\\.yaml:${n + 3}:[0-9]+: /routes/${n - 1}/table: must be a routing table`));
  assert.ok(calls < 50 * n, `${calls} prefix tests for ${n} errors`);
});
