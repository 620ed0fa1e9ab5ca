import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { resourceKey } from '../../src/model/keys';
import type { LinkRes, Resource } from '../../src/model/types';
import { computePlan, isOwned, renderText, type PlanInput } from '../../src/plan';
import type { Change, Inventory, Plan } from '../../src/plan/types';
import { KernelError, applyChange, applyPlan, memState, readState } from '../support/memkernel';
import { recordChange } from '../../src/apply/inventory';

const EMPTY: Inventory = { version: 1, owned: {}, original: {} };
const map = (...rs: Resource[]) => new Map(rs.map((r) => [resourceKey(r), r] as const));
const owning = (...rs: Resource[]): Inventory => ({ version: 1, owned: Object.fromEntries(rs.map((r) => [resourceKey(r), r])), original: {} });
const plan = (desired: Resource[], current: Resource[], extra: Partial<PlanInput> = {}): Plan =>
  computePlan({ desired: map(...desired), current: map(...current), inventory: EMPTY, ...extra });
const byKey = (p: Plan, k: string): Change => {
  const c = p.changes.find((x) => x.key === k);
  assert.ok(c, `no change for ${k} in:\n${p.changes.map((x) => `${x.action} ${x.key}`).join('\n')}`);
  return c;
};
const keys = (p: Plan) => p.changes.map((c) => c.key);

const bridge = (name: string, extra: Partial<LinkRes> = {}, ns = ''): LinkRes => ({ kind: 'link', namespace: ns, name, type: 'bridge', ...extra });
const live = (l: LinkRes): LinkRes => ({ mtu: 1500, mac: '02:00:00:00:00:01', state: 'up', ...l });

describe('computePlan: actions', () => {
  test('creates everything from an empty kernel, namespace first, with dependsOn', () => {
    const p = plan(
      [
        { kind: 'route', namespace: 'a', family: 4, to: '10.1.0.0/16', table: 254, metric: 0, type: 'unicast', via: '10.0.0.254', dev: 'br0' },
        { kind: 'address', namespace: 'a', dev: 'br0', address: '10.0.0.1/24' },
        bridge('br0', { state: 'up' }, 'a'),
        { kind: 'namespace', name: 'a' },
      ],
      [],
    );
    assert.deepEqual(keys(p), ['namespace:a', 'link:a/br0', 'address:a/br0/10.0.0.1/24', 'route:a/ipv4/t254/10.1.0.0/16/m0']);
    assert.ok(p.changes.every((c) => c.action === 'create' && !c.disruptive));
    assert.deepEqual(byKey(p, 'link:a/br0').dependsOn, ['namespace:a']);
    assert.deepEqual(byKey(p, 'route:a/ipv4/t254/10.1.0.0/16/m0').dependsOn, ['address:a/br0/10.0.0.1/24', 'link:a/br0', 'namespace:a']);
    assert.deepEqual(
      byKey(p, 'link:a/br0').fields.map((f) => [f.field, f.before, f.after]),
      [
        ['state', undefined, 'up'],
        ['type', undefined, 'bridge'],
      ],
    );
    assert.equal(byKey(p, 'namespace:a').reason, 'not present in the kernel');
  });

  test('a rule depends on the route changes of its namespace (a lookup should find its table filled)', () => {
    const route = { kind: 'route', namespace: '', family: 4, to: '10.1.0.0/16', table: 10, metric: 0, type: 'unicast', dev: 'eth1' } as const;
    const rule = { kind: 'rule', namespace: '', family: 4, priority: 10, action: 'lookup', table: 10 } as const;
    const p = plan([rule, route], []);
    assert.deepEqual(keys(p), [resourceKey(route), resourceKey(rule)]);
    assert.deepEqual(byKey(p, resourceKey(rule)).dependsOn, [resourceKey(route)]);
  });

  test('undeclared fields are not compared, declared ones are', () => {
    const cur = live(bridge('br0', { alias: 'x', bridge: { stp: true, vlanFiltering: false } }));
    assert.equal(plan([bridge('br0')], [cur]).changes.length, 0);
    assert.equal(plan([bridge('br0', { bridge: { vlanFiltering: false } })], [cur]).changes.length, 0);
    const p = plan([bridge('br0', { mtu: 9000, bridge: { stp: false } })], [cur]);
    const c = byKey(p, 'link:/br0');
    assert.equal(c.action, 'update');
    assert.equal(c.disruptive, false);
    assert.deepEqual(c.fields, [
      { field: 'bridge.stp', before: true, after: false },
      { field: 'mtu', before: 1500, after: 9000 },
    ]);
    assert.equal(c.reason, 'bridge.stp and mtu differ');
  });

  test('master, route via/src/encap and rule selectors mean "none" when undeclared', () => {
    const port: LinkRes = { kind: 'link', namespace: '', name: 'p1', type: 'macvlan', macvlan: { parent: 'eth1', mode: 'bridge' } };
    const p = plan([port], [live({ ...port, master: 'br0' })]);
    assert.deepEqual(byKey(p, 'link:/p1').fields, [{ field: 'master', before: 'br0', after: undefined }]);
    assert.equal(byKey(p, 'link:/p1').disruptive, true, 'leaving a bridge is disruptive');
    const r = { kind: 'route', namespace: '', family: 6, to: '2001:db8::/64', table: 254, metric: 1024, type: 'unicast', dev: 'p1' } as const;
    const pr = plan([r], [{ ...r, encap: { type: 'seg6', mode: 'encap', segments: ['fc00::1'] } }]);
    assert.equal(byKey(pr, resourceKey(r)).fields[0]!.field, 'encap');
    const rule = { kind: 'rule', namespace: '', family: 4, priority: 10, action: 'lookup', table: 10 } as const;
    assert.equal(byKey(plan([rule], [{ ...rule, from: '10.0.0.0/8' }]), resourceKey(rule)).action, 'replace');
  });

  test('a removed VXLAN endpoint or route MTU is removed, not kept as "don\'t care"', () => {
    const vx = (extra: Partial<NonNullable<LinkRes['vxlan']>>): LinkRes => ({ kind: 'link', namespace: '', name: 'vx0', type: 'vxlan', vxlan: { vni: 5, ...extra } });
    const c = live(vx({ local: '10.0.0.1', remote: '10.0.0.2', dstport: 4789, learning: true }));
    const ch = byKey(plan([vx({ local: '10.0.0.1' })], [c]), 'link:/vx0');
    assert.equal(ch.action, 'update', 'the kernel removes a remote in place');
    assert.deepEqual(ch.fields, [{ field: 'vxlan.remote', before: '10.0.0.2', after: undefined }]);
    assert.equal(plan([vx({ local: '10.0.0.1', remote: '10.0.0.2' })], [c]).changes.length, 0, 'ttl, dstport, learning stay don\'t care');
    const r = (mtu?: number) => ({ kind: 'route', namespace: '', family: 4, to: '10.9.0.0/16', table: 254, metric: 0, type: 'unicast', dev: 'x', ...(mtu ? { mtu } : {}) }) as const;
    assert.deepEqual(byKey(plan([r()], [r(1400)]), resourceKey(r())).fields, [{ field: 'mtu', before: 1400, after: undefined }]);
  });

  test('vlans and vnis are sets; other arrays keep their order', () => {
    const d = bridge('br0', { vlans: [{ vid: 20 }, { vid: 10, pvid: true, untagged: true }] });
    const c = live(bridge('br0', { vlans: [{ vid: 10, pvid: true, untagged: true }, { vid: 20, pvid: false }] }));
    assert.equal(plan([d], [c]).changes.length, 0);
    assert.equal(plan([bridge('br0', { vlans: [{ vid: 10, pvid: true }, { vid: 20 }] })], [c]).changes.length, 1, 'untagged flag differs');
    // One run per VNI, unsorted and repeated: compared as the merged set.
    const vx = (vnis: number[]): LinkRes => ({ kind: 'link', namespace: '', name: 'vx0', type: 'vxlan', vxlan: { external: true, vnifilter: true }, vnis: vnis.map((n) => [n, n] as const) });
    assert.equal(plan([vx([300, 100, 100])], [vx([100, 300])]).changes.length, 0);
    // The kernel reports no entry at all for an empty filter: `vnis: []` / `vlans: []` are in sync.
    const { vnis: _v, ...bare } = vx([]);
    assert.equal(plan([vx([])], [bare]).changes.length, 0, 'empty vnis read as absent');
    assert.equal(plan([bridge('br0', { vlans: [] })], [live(bridge('br0'))]).changes.length, 0, 'empty vlans read as absent');
    assert.deepEqual(byKey(plan([vx([])], [vx([100])]), 'link:/vx0').fields.map((f) => f.after), [[]]);
    const r = (segments: string[]) =>
      ({ kind: 'route', namespace: '', family: 6, to: '2001:db8::/64', table: 254, metric: 1024, type: 'unicast', dev: 'x', encap: { type: 'seg6', mode: 'encap', segments } }) as const;
    const p = plan([r(['fc00::2', 'fc00::1'])], [r(['fc00::1', 'fc00::2'])]);
    const ch = byKey(p, resourceKey(r([])));
    assert.equal(ch.action, 'update');
    assert.equal(ch.disruptive, false, 'routes are replaced in place');
    assert.deepEqual(ch.fields.map((f) => f.field), ['encap.segments']);
  });

  test('immutable fields force a replace, with the values in the reason', () => {
    const vx = (vni: number, learning: boolean): LinkRes => ({ kind: 'link', namespace: '', name: 'vx0', type: 'vxlan', vxlan: { vni, learning, dstport: 4789 } });
    const p = plan([vx(200, false)], [live(vx(100, true))]);
    const c = byKey(p, 'link:/vx0');
    assert.equal(c.action, 'replace');
    assert.equal(c.disruptive, true);
    assert.equal(c.reason, 'vxlan.vni is immutable (100 → 200)');
    assert.deepEqual(c.fields.map((f) => f.field), ['vxlan.learning', 'vxlan.vni']);
    assert.equal(byKey(plan([vx(100, false)], [live(vx(100, true))]), 'link:/vx0').action, 'update');
    const q = { kind: 'qdisc', namespace: '', dev: 'x', parent: 'root', handle: '1:', qdisc: 'htb', options: { default: 10 } } as const;
    assert.equal(byKey(plan([{ ...q, qdisc: 'fq', options: {} }], [q]), resourceKey(q)).action, 'replace');
    assert.equal(byKey(plan([{ ...q, options: { default: 20 } }], [q]), resourceKey(q)).action, 'update');
    const f = { kind: 'tfilter', namespace: '', dev: 'x', direction: 'egress', priority: 1, program: 'p', tag: 'aa' } as const;
    const fc = byKey(plan([{ ...f, tag: 'bb' }], [f]), resourceKey(f));
    assert.deepEqual([fc.action, fc.disruptive], ['update', false]);
    const b = { kind: 'bpf', name: 'b', object: 'o', program: 'p', attach: { type: 'tcx', namespace: '', dev: 'x', direction: 'ingress' }, maps: [], tag: 't1' } as const;
    assert.equal(byKey(plan([{ ...b, tag: 't2' }], [b]), 'bpf:b').action, 'update');
    assert.equal(byKey(plan([{ ...b, attach: { ...b.attach, direction: 'egress' } }], [b]), 'bpf:b').action, 'replace');
  });

  test('state up → down is disruptive, down → up is not', () => {
    assert.equal(plan([bridge('b', { state: 'down' })], [live(bridge('b'))]).changes[0]!.disruptive, true);
    assert.equal(plan([bridge('b', { state: 'up' })], [live(bridge('b', { state: 'down' }))]).changes[0]!.disruptive, false);
  });

  test('a rule fwmark removed from the config is removed (replace), not kept as "don\'t care"', () => {
    const rule = { kind: 'rule', namespace: '', family: 4, priority: 10, action: 'lookup', table: 10 } as const;
    const c = byKey(plan([rule], [{ ...rule, fwmark: 7, fwmask: 0xffffffff }]), resourceKey(rule));
    assert.equal(c.action, 'replace');
    assert.deepEqual(c.fields, [{ field: 'fwmark', before: 7, after: undefined }]);
  });

  test('a macvlan mode change into passthru, a qdisc handle and a class parent change force a replace', () => {
    const mv = (mode: 'bridge' | 'vepa' | 'passthru'): LinkRes => ({ kind: 'link', namespace: '', name: 'mv0', type: 'macvlan', macvlan: { parent: 'eth1', mode } });
    const m = byKey(plan([mv('passthru')], [live(mv('vepa'))]), 'link:/mv0');
    assert.deepEqual([m.action, m.reason], ['replace', 'macvlan.mode (vepa → passthru) cannot change in place: the kernel cannot switch a macvlan into or out of passthru mode']);
    // Between other modes the kernel changes it in place.
    assert.equal(byKey(plan([mv('bridge')], [live(mv('vepa'))]), 'link:/mv0').action, 'update');
    const q = { kind: 'qdisc', namespace: '', dev: 'x', parent: 'root', handle: '1:', qdisc: 'htb', options: {} } as const;
    const qc = byKey(plan([{ ...q, handle: '2:' }], [q]), resourceKey(q));
    assert.deepEqual([qc.action, qc.reason], ['replace', 'handle is immutable (1: → 2:)']);
    const cl = { kind: 'tclass', namespace: '', dev: 'x', classid: '1:10', parent: '1:', rate: 1000 } as const;
    const cc = byKey(plan([{ ...cl, parent: '1:1' }], [cl]), resourceKey(cl));
    assert.deepEqual([cc.action, cc.reason], ['replace', 'parent is immutable (1: → 1:1)']);
  });

  test('a VXLAN device is changed in place only where its inverse is too: adding one where there was none replaces', () => {
    const vx = (dev: string | undefined, remote: string): LinkRes => ({ kind: 'link', namespace: '', name: 'vx0', type: 'vxlan', vxlan: { vni: 5, remote, ...(dev ? { dev } : {}) } });
    const add = byKey(plan([vx('eth1', '10.0.0.3')], [live(vx(undefined, '10.0.0.2'))]), 'link:/vx0');
    assert.equal(add.action, 'replace');
    assert.match(add.reason, /vxlan\.dev \(\(none\) → eth1\) cannot change in place: the kernel could not undo it in place/);
    const drop = byKey(plan([vx(undefined, '10.0.0.3')], [live(vx('eth1', '10.0.0.2'))]), 'link:/vx0');
    assert.equal(drop.action, 'replace');
    // Another device with another remote: in place, and so is going back.
    assert.equal(byKey(plan([vx('eth2', '10.0.0.3')], [live(vx('eth1', '10.0.0.2'))]), 'link:/vx0').action, 'update');
    assert.equal(byKey(plan([vx('eth1', '10.0.0.2')], [live(vx('eth2', '10.0.0.3'))]), 'link:/vx0').action, 'update');
  });

  test('a route encap of another type is one whole-field change, not a merge of the two variants', () => {
    const r = { kind: 'route', namespace: '', family: 6, to: 'fc00:9::/64', table: 254, metric: 1024, type: 'unicast', dev: 'x' } as const;
    const seg6 = { type: 'seg6', mode: 'encap', segments: ['fc00::1'] } as const;
    const local = { type: 'seg6local', action: 'End' } as const;
    const c = byKey(plan([{ ...r, encap: local }], [{ ...r, encap: seg6 }]), resourceKey(r));
    assert.equal(c.action, 'update');
    assert.deepEqual(c.fields, [{ field: 'encap', before: seg6, after: local }]);
  });

  test('a seg6local action change lists the parameters the new action drops (the encap is written whole)', () => {
    // Found by test/kernel/agreement-srv6-tc.property.test.ts: End.DT6 table 100 → End.DX6 nh6
    // showed no `encap.table` change, though the write removes it.
    const r = { kind: 'route', namespace: 'na', family: 6, to: 'fc00:1::e/128', table: 254, metric: 1024, type: 'unicast', dev: 'vb0' } as const;
    const dt6 = { type: 'seg6local', action: 'End.DT6', table: 100 } as const;
    const dx6 = { type: 'seg6local', action: 'End.DX6', nh6: '2001:db8:1::1' } as const;
    const c = byKey(plan([{ ...r, encap: dx6 }], [{ ...r, encap: dt6 }]), resourceKey(r));
    assert.equal(c.action, 'update');
    assert.deepEqual(c.fields, [
      { field: 'encap.action', before: 'End.DT6', after: 'End.DX6' },
      { field: 'encap.nh6', before: undefined, after: '2001:db8:1::1' },
      { field: 'encap.table', before: 100, after: undefined },
    ]);
    // The memkernel, following the listed fields, ends where the kernel does.
    const mem = memState([{ kind: 'namespace', name: 'na' }, live({ kind: 'link', namespace: 'na', name: 'vb0', type: 'veth' }), { ...r, encap: dt6 }]);
    applyChange(mem, c);
    assert.deepEqual((readState(mem).get(resourceKey(r)) as { encap: unknown }).encap, dx6);
  });

  test('only owned objects are deleted; foreign ones are counted', () => {
    const old = live(bridge('old'));
    const foreign = live(bridge('docker0'));
    const p = computePlan({ desired: map(), current: map(old, foreign), inventory: owning(old) });
    assert.deepEqual(p.changes.map((c) => [c.action, c.key, c.reason]), [['delete', 'link:/old', 'no longer declared (owned since a previous apply)']]);
    assert.equal(p.foreignCount, 1);
    assert.deepEqual(byKey(p, 'link:/old').before, old);
    assert.equal(byKey(p, 'link:/old').after, undefined);
    // Not owned any more (no inventory): left alone.
    assert.equal(plan([], [old]).changes.length, 0);
    // A namespace is deleted only when owned.
    assert.equal(plan([], [{ kind: 'namespace', name: 'x' }]).changes.length, 0);
  });

  test('sysctl/tunsrc removal restores the recorded original value, or leaves it', () => {
    const s = (key: string, value: string) => ({ kind: 'sysctl', namespace: '', key, value }) as const;
    const t = { kind: 'tunsrc', namespace: 'r', address: 'fc00::1' } as const;
    const inv: Inventory = {
      version: 1,
      owned: Object.fromEntries([s('a.b', '1'), s('c.d', '1'), s('e.f', '0'), t].map((r) => [resourceKey(r), r])),
      original: { 'sysctl:/a.b': '0', 'sysctl:/e.f': '0', 'tunsrc:r': '::' },
    };
    const p = computePlan({ desired: map(), current: map(s('a.b', '1'), s('c.d', '1'), s('e.f', '0'), t), inventory: inv });
    assert.deepEqual(keys(p).sort(), ['sysctl:/a.b', 'tunsrc:r']);
    const c = byKey(p, 'sysctl:/a.b');
    assert.equal(c.action, 'delete');
    assert.equal(c.reason, 'no longer declared: restore original value 0');
    assert.deepEqual(c.restore, s('a.b', '0'));
    assert.deepEqual(byKey(p, 'tunsrc:r').restore, { ...t, address: '::' });
  });
});

describe('computePlan: cascades', () => {
  const br = live(bridge('br0'));
  const addr = { kind: 'address', namespace: '', dev: 'br0', address: '10.0.0.1/24' } as const;
  const route = { kind: 'route', namespace: '', family: 4, to: '10.1.0.0/16', table: 254, metric: 0, type: 'unicast', via: '10.0.0.254', dev: 'br0' } as const;
  const qd = { kind: 'qdisc', namespace: '', dev: 'br0', parent: 'clsact', qdisc: 'clsact', options: {} } as const;

  test('a replaced link recreates what lives on it and re-enslaves its ports', () => {
    const other = { ...br, type: 'other' } as unknown as LinkRes; // e.g. a device of another type under the same name
    const port: LinkRes = { kind: 'link', namespace: '', name: 'p1', type: 'veth', master: 'br0', vlans: [{ vid: 10 }], veth: { peer: { name: 'p2', namespace: '' }, primary: true } };
    const p = plan([bridge('br0'), addr, route, qd, port], [other, addr, route, qd, live(port)]);
    assert.equal(byKey(p, 'link:/br0').action, 'replace');
    for (const k of [resourceKey(addr), resourceKey(route), resourceKey(qd)]) {
      const c = byKey(p, k);
      assert.equal(c.action, 'create');
      assert.equal(c.reason, 'recreated with link (root)/br0');
      assert.ok(c.dependsOn.includes('link:/br0'));
    }
    const pc = byKey(p, 'link:/p1');
    assert.equal(pc.action, 'update');
    assert.equal(pc.reason, 're-enslave after link (root)/br0 is recreated');
    assert.deepEqual(pc.fields.map((f) => [f.field, f.after]), [
      ['master', 'br0'],
      ['vlans', [{ vid: 10 }]],
    ]);
    assert.ok(keys(p).indexOf('link:/p1') > keys(p).indexOf('link:/br0'));
  });

  test('an object removed by a replace is recreated after it, even when it moves elsewhere', () => {
    const other = { ...br, type: 'other' } as unknown as LinkRes;
    const br1 = live(bridge('br1'));
    const a1 = { ...addr, dev: 'br1', address: '10.1.0.1/24' };
    const moved = { ...route, dev: 'br1', via: '10.1.0.254' };
    const p = plan([bridge('br0'), bridge('br1'), addr, a1, moved], [other, br1, addr, a1, route]);
    const c = byKey(p, resourceKey(route));
    assert.equal(c.action, 'create', 'the kernel removed it with br0: NLM_F_REPLACE would find nothing');
    assert.equal(c.reason, 'recreated with link (root)/br0; dev and via differ');
    assert.ok(c.dependsOn.includes('link:/br0'), c.dependsOn.join());
  });

  test('deleting a link folds the deletes of its addresses and routes into its reason', () => {
    const p = computePlan({ desired: map(), current: map(br, addr, route), inventory: owning(br, addr, route) });
    assert.deepEqual(keys(p), ['link:/br0']);
    assert.equal(p.changes[0]!.reason, 'no longer declared (owned since a previous apply); the kernel removes 1 address and 1 route with it');
  });

  test('deleting a namespace folds everything inside it', () => {
    const ns = { kind: 'namespace', name: 'x' } as const;
    const inside = [live(bridge('b', {}, 'x')), { ...addr, namespace: 'x', dev: 'b' }, { kind: 'sysctl', namespace: 'x', key: 'net.ipv4.ip_forward', value: '1' } as const];
    const inv = { ...owning(ns, ...inside), original: { 'sysctl:x/net.ipv4.ip_forward': '0' } };
    const p = computePlan({ desired: map(), current: map(ns, ...inside), inventory: inv });
    assert.deepEqual(keys(p), ['namespace:x']);
    assert.match(p.changes[0]!.reason, /3 owned objects go with it \(1 sysctl, 1 link and 1 address\)$/);
  });

  test('deletes run before creates, in reverse dependency order', () => {
    const rule = { kind: 'rule', namespace: '', family: 4, priority: 5, action: 'lookup', table: 5 } as const;
    const br1 = live(bridge('br1'));
    const inv = owning(br, addr, route, rule, br1);
    const p = computePlan({ desired: map(bridge('br1'), { ...addr, dev: 'br1' }), current: map(br, addr, route, rule, br1), inventory: inv });
    // br0's address and route are folded into br0's delete; the rule goes first.
    assert.deepEqual(p.changes.map((c) => `${c.action} ${c.key}`), ['delete rule:/ipv4/p5', 'delete link:/br0', 'create address:/br1/10.0.0.1/24']);
    // Without the link delete, address and route deletes are ordered rule → route → address (br0
    // keeps another IPv4 address, so the kernel does not remove the route with the first).
    const kept = { ...addr, address: '10.0.0.2/24' };
    const p2 = computePlan({ desired: map(bridge('br0'), kept), current: map(br, addr, kept, route, rule), inventory: owning(br, addr, kept, route, rule) });
    assert.deepEqual(keys(p2), ['rule:/ipv4/p5', resourceKey(route), resourceKey(addr)]);
    assert.deepEqual(byKey(p2, resourceKey(addr)).dependsOn, [resourceKey(route)]);
  });

  test('deleting a primary IPv4 address takes the secondaries of its subnet, unless the device promotes one', () => {
    const primary = { ...addr, address: '10.0.0.1/24' };
    const second = { ...addr, address: '10.0.0.5/24', secondary: true };
    const other = { ...addr, address: '10.9.0.1/24' }; // another subnet: stays
    const otherSecond = { ...addr, address: '10.9.0.5/24', secondary: true }; // its secondary too
    const cur = map(br, primary, second, other, otherSecond);
    const inv = owning(br, primary, second, other, otherSecond);
    const p = computePlan({ desired: map(bridge('br0'), { ...addr, address: '10.0.0.5/24' }, other, { ...addr, address: '10.9.0.5/24' }), current: cur, inventory: inv });
    assert.deepEqual(p.changes.map((c) => `${c.action} ${c.key}`), ['delete address:/br0/10.0.0.1/24', 'create address:/br0/10.0.0.5/24']);
    assert.match(byKey(p, 'address:/br0/10.0.0.5/24').reason, /^recreated with address \(root\)\/br0 10\.0\.0\.1\/24/);
    const promoting = map(br, { ...primary, promotes: true }, second, other);
    assert.deepEqual(keys(computePlan({ desired: map(bridge('br0'), { ...addr, address: '10.0.0.5/24' }, other), current: promoting, inventory: inv })), ['address:/br0/10.0.0.1/24']);
  });

  test("deleting a link's last IPv4 address takes its IPv4 routes (and those using the address as source): declared ones are recreated", () => {
    const onDev = { kind: 'route', namespace: '', family: 4, to: '10.52.0.0/16', table: 254, metric: 0, type: 'unicast', dev: 'br0' } as const;
    const bySrc = { kind: 'route', namespace: '', family: 4, to: '10.53.0.0/16', table: 100, metric: 0, type: 'unicast', dev: 'br1', src: '10.0.0.1' } as const;
    const br1 = live(bridge('br1'));
    const renumbered = { ...addr, address: '10.0.0.9/24' };
    const cur = map(br, br1, addr, onDev, bySrc);
    const p = computePlan({ desired: map(bridge('br0'), bridge('br1'), renumbered, onDev, { ...bySrc, src: '10.0.0.9' }), current: cur, inventory: owning(br, br1, addr, onDev, bySrc) });
    assert.deepEqual(
      p.changes.map((c) => `${c.action} ${c.key}`),
      ['delete address:/br0/10.0.0.1/24', 'create address:/br0/10.0.0.9/24', `create ${resourceKey(bySrc)}`, `create ${resourceKey(onDev)}`],
    );
    assert.match(byKey(p, resourceKey(onDev)).reason, /^recreated with address \(root\)\/br0 10\.0\.0\.1\/24/);
    assert.equal(byKey(p, resourceKey(bySrc)).action, 'create', 'the kernel removed it: a replace would find nothing');
    // Another IPv4 address left on br0 keeps the device's routes (only the source route goes).
    const other = { ...addr, address: '10.0.0.2/24' };
    const p2 = computePlan({ desired: map(bridge('br0'), bridge('br1'), other, onDev), current: map(br, br1, addr, other, onDev), inventory: owning(br, br1, addr, other, onDev) });
    assert.deepEqual(keys(p2), ['address:/br0/10.0.0.1/24']);
    // A foreign route over the link is named as removed by the kernel, not counted as untouched.
    const foreign = { ...onDev, to: '10.54.0.0/16' };
    const p3 = computePlan({ desired: map(bridge('br0'), bridge('br1')), current: map(br, br1, addr, foreign), inventory: owning(br, br1, addr) });
    assert.deepEqual(p3.foreignRemoved, ['route (root) 10.54.0.0/16 (with address (root)/br0 10.0.0.1/24)']);
  });

  test('a source route stays while another device of the namespace still has the address', () => {
    const br1 = live(bridge('br1'));
    const same = { ...addr, dev: 'br1', address: '10.0.0.1/32' }; // the same ip, on br1
    const bySrc = { kind: 'route', namespace: '', family: 4, to: '10.53.0.0/16', table: 254, metric: 0, type: 'unicast', dev: 'br1', src: '10.0.0.1' } as const;
    const cur = map(br, br1, addr, same, bySrc);
    const p = computePlan({ desired: map(bridge('br0'), bridge('br1'), same, bySrc), current: cur, inventory: owning(br, br1, addr, same, bySrc) });
    assert.deepEqual(p.changes.map((c) => `${c.action} ${c.key}`), ['delete address:/br0/10.0.0.1/24']);
  });

  test('deleting an IPv6 address clears the source of the routes using it (they stay): declared ones get it back after', () => {
    const br1 = live(bridge('br1'));
    const a6 = { kind: 'address', namespace: '', dev: 'br0', address: '2001:db8:9::1/64' } as const;
    const renumbered = { ...a6, address: '2001:db8:9::1/56' }; // the same ip: the kernel refuses both at once (EEXIST)
    const bySrc = { kind: 'route', namespace: '', family: 6, to: '2001:db8:5::/64', table: 100, metric: 1024, type: 'unicast', dev: 'br1', src: '2001:db8:9::1' } as const;
    const cur = map(br, br1, a6, bySrc);
    const desired = map(bridge('br0'), bridge('br1'), renumbered, bySrc);
    const p = computePlan({ desired, current: cur, inventory: owning(br, br1, a6, bySrc) });
    assert.deepEqual(p.changes.map((c) => `${c.action} ${c.key}`), [`delete ${resourceKey(a6)}`, `create ${resourceKey(renumbered)}`, `update ${resourceKey(bySrc)}`]);
    const u = byKey(p, resourceKey(bySrc));
    assert.match(u.reason, /^src written again after address \(root\)\/br0 2001:db8:9::1\/64 is deleted/);
    assert.deepEqual(u.fields.map((f) => [f.field, f.after]), [['src', '2001:db8:9::1']]);
    const k = memState([br, br1, a6, bySrc]);
    applyPlan(k, p.changes);
    assert.equal((k.get(resourceKey(bySrc)) as { src?: string }).src, '2001:db8:9::1');
    assert.deepEqual(computePlan({ desired, current: readState(k), inventory: owning(br, br1, renumbered, bySrc) }).changes, []);
    // Another address of the namespace with the ip keeps the source: nothing to write again.
    const same = { ...a6, dev: 'br1', address: '2001:db8:9::1/128' };
    const p2 = computePlan({ desired: map(bridge('br0'), bridge('br1'), same, bySrc), current: map(br, br1, a6, same, bySrc), inventory: owning(br, br1, a6, same, bySrc) });
    assert.deepEqual(keys(p2), [resourceKey(a6)]);
    // A link deleted with its addresses leaves the source as it is (no address delete request).
    const p3 = computePlan({ desired: map(bridge('br1'), same, bySrc), current: map(br, br1, a6, bySrc), inventory: owning(br, br1, a6, bySrc) });
    assert.deepEqual(keys(p3), ['link:/br0', resourceKey(same)]);
    // A link-local source is kept only by an address with that ip on the route's own device.
    const ll = { ...a6, dev: 'br1', address: 'fe80::9/64' };
    const llRenumbered = { ...ll, address: 'fe80::9/128' };
    const llElsewhere = { ...ll, dev: 'br0' };
    const llRoute = { ...bySrc, src: 'fe80::9' };
    const p4 = computePlan({
      desired: map(bridge('br0'), bridge('br1'), llRenumbered, llElsewhere, llRoute),
      current: map(br, br1, ll, llElsewhere, llRoute),
      inventory: owning(br, br1, ll, llElsewhere, llRoute),
    });
    assert.deepEqual(keys(p4), [resourceKey(ll), resourceKey(llRenumbered), resourceKey(llRoute)]);
    // A route recreated anyway (its device is replaced) stays a create: an update would not bring it back.
    const mv = { kind: 'link', namespace: '', name: 'mv', type: 'macvlan', macvlan: { parent: 'br0', mode: 'bridge' } } as const;
    const onMv = { ...bySrc, dev: 'mv' };
    const mvMoved = { ...mv, macvlan: { ...mv.macvlan, parent: 'br1' } };
    const desired5 = map(bridge('br0'), bridge('br1'), mvMoved, renumbered, onMv);
    const p5 = computePlan({ desired: desired5, current: map(br, br1, live(mv), a6, onMv), inventory: owning(br, br1, mv, a6, onMv) });
    assert.notEqual(byKey(p5, resourceKey(onMv)).action, 'update');
    const k5 = memState([br, br1, live(mv), a6, onMv]);
    applyPlan(k5, p5.changes);
    assert.ok(k5.has(resourceKey(onMv)), 'the route is back after its device is replaced');
  });

  test('removing a clsact qdisc takes the clsact programs on it: declared ones are re-attached', () => {
    const dev = live(bridge('x'));
    const clsact = { kind: 'qdisc', namespace: '', dev: 'x', parent: 'clsact', qdisc: 'clsact', options: {} } as const;
    const prog = { kind: 'bpf', name: 'b', object: 'o', program: 'p', attach: { type: 'clsact', namespace: '', dev: 'x', direction: 'ingress' }, maps: [] } as const;
    const p = computePlan({ desired: map(bridge('x'), prog), current: map(dev, clsact, prog), inventory: owning(dev, clsact, prog) });
    assert.deepEqual(p.changes.map((c) => `${c.action} ${c.key}`), [`delete ${resourceKey(clsact)}`, 'create bpf:b']);
    assert.equal(byKey(p, 'bpf:b').reason, 're-attached: qdisc (root)/x clsact clsact is removed');
  });

  test('a clsact program leaving a device whose clsact the config declares marks its change: the qdisc is kept', () => {
    const dev = live(bridge('x'));
    const y = live(bridge('y'));
    const clsact = { kind: 'qdisc', namespace: '', dev: 'x', parent: 'clsact', qdisc: 'clsact', options: {} } as const;
    const prog = { kind: 'bpf', name: 'b', object: 'o', program: 'p', attach: { type: 'clsact', namespace: '', dev: 'x', direction: 'ingress' }, maps: [] } as const;
    const moved = { ...prog, attach: { ...prog.attach, dev: 'y' } } as const;
    const gone = computePlan({ desired: map(bridge('x'), clsact), current: map(dev, clsact, prog), inventory: owning(dev, prog) });
    assert.equal(byKey(gone, 'bpf:b').action, 'delete');
    assert.equal(byKey(gone, 'bpf:b').clsactDeclared, true);
    const replaced = computePlan({ desired: map(bridge('x'), bridge('y'), clsact, moved), current: map(dev, y, clsact, prog), inventory: owning(dev, y, prog) });
    assert.equal(byKey(replaced, 'bpf:b').action, 'replace');
    assert.equal(byKey(replaced, 'bpf:b').clsactDeclared, true);
    const undeclared = computePlan({ desired: map(bridge('x')), current: map(dev, clsact, prog), inventory: owning(dev, prog) });
    assert.equal(byKey(undeclared, 'bpf:b').clsactDeclared, undefined, 'an undeclared clsact is the program\'s to remove if it made it');
  });

  test('a bpf program on a deleted link is deleted explicitly (the kernel leaves its pin)', () => {
    const dev = live(bridge('x'));
    const prog = { kind: 'bpf', name: 'b', object: 'o', program: 'p', attach: { type: 'tcx', namespace: '', dev: 'x', direction: 'ingress' }, maps: [] } as const;
    const p = computePlan({ desired: map(), current: map(dev, prog), inventory: owning(dev, prog) });
    assert.deepEqual(p.changes.map((c) => `${c.action} ${c.key}`), ['delete bpf:b', 'delete link:/x']);
    assert.equal(byKey(p, 'link:/x').reason, 'no longer declared (owned since a previous apply)');
  });

  test('a veth pair is created by its primary end; the other end only sets attributes', () => {
    const a: LinkRes = { kind: 'link', namespace: '', name: 'va', type: 'veth', veth: { peer: { name: 'vb', namespace: 'n' }, primary: true } };
    const b: LinkRes = { kind: 'link', namespace: 'n', name: 'vb', type: 'veth', mtu: 9000, veth: { peer: { name: 'va', namespace: '' }, primary: false } };
    const p = plan([b, a, { kind: 'namespace', name: 'n' }], []);
    assert.deepEqual(keys(p), ['namespace:n', 'link:/va', 'link:n/vb']);
    assert.deepEqual(byKey(p, 'link:/va').dependsOn, ['namespace:n']);
    const cb = byKey(p, 'link:n/vb');
    assert.equal(cb.createdBy, 'link:/va');
    assert.deepEqual(cb.dependsOn, ['link:/va', 'namespace:n']);
    // Deleting both ends: one delete.
    const cur = [live(a), live(b), { kind: 'namespace', name: 'n' } as const];
    const pd = computePlan({ desired: map({ kind: 'namespace', name: 'n' }), current: map(...cur), inventory: owning(...cur) });
    assert.deepEqual(pd.changes.map((c) => `${c.action} ${c.key}`), ['delete link:/va']);
    assert.match(pd.changes[0]!.reason, /the kernel removes 1 link with it/);
  });

  test('a veth end whose name is held by another device: freed first, recreated with the pair and its attributes', () => {
    const ns = { kind: 'namespace', name: 'n' } as const;
    const a: LinkRes = { kind: 'link', namespace: '', name: 'va', type: 'veth', veth: { peer: { name: 'vb', namespace: 'n' }, primary: true } };
    const b: LinkRes = { kind: 'link', namespace: 'n', name: 'vb', type: 'veth', mtu: 9000, veth: { peer: { name: 'va', namespace: '' }, primary: false } };
    const addr = { kind: 'address', namespace: 'n', dev: 'vb', address: '10.0.0.2/24' } as const;
    const squatter = live(bridge('vb', {}, 'n'));
    const p = plan([ns, a, b, addr], [ns, squatter, addr]);
    assert.deepEqual(p.changes.map((c) => `${c.action} ${c.key}`), ['delete link:n/vb', 'create link:/va', 'create address:n/vb/10.0.0.2/24']);
    assert.ok(byKey(p, 'link:/va').dependsOn.includes('link:n/vb'));
    assert.ok(byKey(p, 'address:n/vb/10.0.0.2/24').dependsOn.includes('link:/va'));
    const k = memState([ns, squatter, addr]);
    applyPlan(k, p.changes);
    // va's create sets vb's own attributes (mtu): one apply converges (apply verifies it; a
    // second apply would never run, the first one's verify would roll it back).
    assert.equal(byKey(p, 'link:/va').pairedPeer, b);
    const again = computePlan({ desired: map(ns, a, b, addr), current: readState(k), inventory: EMPTY });
    assert.deepEqual(again.changes.map((c) => `${c.action} ${c.key} ${c.fields.map((f) => f.field)}`), []);
    // The end the pair brought back is Voltron's: it was once recorded as deleted only, and a
    // later replace of the pair was refused as one of a foreign link.
    const inv = p.changes.reduce(recordChange, owning(ns, squatter, addr));
    assert.deepEqual(Object.keys(inv.owned).sort(), ['address:n/vb/10.0.0.2/24', 'link:/va', 'link:n/vb', 'namespace:n']);
    assert.deepEqual(inv.owned['link:n/vb'], b);
  });

  test('a dependency cycle is reported with its keys', () => {
    const a = bridge('a', { master: 'b' });
    const b = bridge('b', { master: 'a' });
    assert.throws(() => plan([a, b], []), /dependency cycle: link:\/a → link:\/b → link:\/a/);
  });
});

describe('computePlan: scope', () => {
  test('ignored links and everything on them are left out on both sides', () => {
    const docker = live(bridge('docker0'));
    const a = { kind: 'address', namespace: '', dev: 'docker0', address: '172.17.0.1/16' } as const;
    const s = { kind: 'sysctl', namespace: '', key: 'net.ipv6.conf.docker0.disable_ipv6', value: '1' } as const;
    const input: PlanInput = { desired: map(bridge('docker0', { mtu: 9000 }), s), current: map(docker, a), inventory: owning(docker, a), ignore: ['dock?r*'] };
    const p = computePlan(input);
    assert.deepEqual(p, { changes: [], foreignCount: 0 });
    assert.equal(isOwned('link:/docker0', docker, input), false);
    assert.equal(isOwned('link:/docker0', docker, { ...input, ignore: [] }), true);
    assert.equal(isOwned('link:/eth0', live(bridge('eth0')), input), false);
  });

  test('foreign and ignored objects the kernel removes with a delete are listed, not counted as untouched', () => {
    const ns = { kind: 'namespace', name: 'x' } as const;
    const mine = live(bridge('b', {}, 'x'));
    const theirs = live(bridge('docker0', {}, 'x'));
    const r = { kind: 'route', namespace: 'x', family: 4, type: 'unicast', to: '10.9.0.0/24', dev: 'docker0', table: 254, metric: 0 } as const;
    const outside = live(bridge('eth9'));
    const p = computePlan({ desired: map(), current: map(ns, mine, theirs, r, outside), inventory: owning(ns, mine) });
    assert.deepEqual(keys(p), ['namespace:x']);
    assert.deepEqual(p.foreignRemoved, ['link x/docker0 (bridge) (with namespace x)', 'route x 10.9.0.0/24 (with namespace x)']);
    assert.equal(p.foreignCount, 1); // eth9 only
    assert.match(renderText(p, { color: false }), /Warning: 2 live objects not owned by Voltron will be removed by the kernel with the changes above:\n {2}- link x\/docker0/);
    // An ignored veth end goes with its owned peer: said, and marked.
    const va: LinkRes = { ...live(bridge('va')), type: 'veth', veth: { peer: { name: 'vb', namespace: '' }, primary: true } };
    const vb: LinkRes = { ...live(bridge('vb')), type: 'veth', veth: { peer: { name: 'va', namespace: '' }, primary: false } };
    const q = computePlan({ desired: map(), current: map(va, vb), inventory: owning(va), ignore: ['vb'] });
    assert.deepEqual(keys(q), ['link:/va']);
    assert.deepEqual(q.foreignRemoved, ['link (root)/vb (veth) [ignored] (with link (root)/va (veth))']);
    assert.equal(q.foreignCount, 0);
    // Nothing removed beyond what is owned: no list at all.
    assert.equal(computePlan({ desired: map(), current: map(mine, outside), inventory: owning(mine) }).foreignRemoved, undefined);
  });

  test('foreign ports of a bridge the plan deletes are listed as released, not as untouched', () => {
    const br = live(bridge('br0'));
    const port: LinkRes = { ...live(bridge('fv0')), type: 'veth', master: 'br0', veth: { peer: { name: 'fv1', namespace: '' }, primary: true } };
    const peer: LinkRes = { ...live(bridge('fv1')), type: 'veth', veth: { peer: { name: 'fv0', namespace: '' }, primary: false } };
    const p = computePlan({ desired: map(), current: map(br, port, peer), inventory: owning(br) });
    assert.deepEqual(keys(p), ['link:/br0']);
    assert.deepEqual(p.foreignReleased, ['link (root)/fv0 (veth) (from link (root)/br0 (bridge))']);
    assert.equal(p.foreignCount, 1); // fv1 only
    assert.match(renderText(p, { color: false }), /Warning: 1 live link not owned by Voltron will be released from its bridge by the kernel with the changes above:\n {2}- link \(root\)\/fv0/);
    // An update of the bridge releases nothing.
    assert.equal(computePlan({ desired: map({ ...br, mtu: 1400 }), current: map(br, port, peer), inventory: owning(br) }).foreignReleased, undefined);
    // An ignored port is released too, even when an earlier apply owned it (ignoring it ended that).
    const q = computePlan({ desired: map(), current: map(br, port, peer), inventory: owning(br, port), ignore: ['fv0'] });
    assert.deepEqual(q.foreignReleased, ['link (root)/fv0 (veth) [ignored] (from link (root)/br0 (bridge))']);
  });

  test('managedNamespaces leaves other namespaces out, owned objects excepted', () => {
    const cni = live(bridge('eth0', {}, 'cni'));
    const mine = live(bridge('b', {}, 'gone'));
    const p = computePlan({ desired: map(), current: map(cni, mine), inventory: owning(mine), managedNamespaces: [''] });
    assert.deepEqual(keys(p), ['link:gone/b']);
    assert.equal(p.foreignCount, 0);
  });
});

describe('memkernel', () => {
  test('is strict like the kernel and cascades like it', () => {
    const k = memState([]);
    const create = (r: Resource): Change => ({ action: 'create', key: resourceKey(r), kind: r.kind, label: '', reason: '', fields: [], disruptive: false, after: r, dependsOn: [] });
    applyChange(k, create({ kind: 'namespace', name: 'n' }));
    applyChange(k, create(bridge('br0')));
    assert.throws(() => applyChange(k, create(bridge('br0'))), (e: unknown) => e instanceof KernelError && e.code === 'EEXIST');
    assert.throws(() => applyChange(k, create(bridge('p', { master: 'nope' }))), /ENODEV/);
    applyChange(k, create({ kind: 'link', namespace: '', name: 'va', type: 'veth', master: 'br0', veth: { peer: { name: 'vb', namespace: 'n' }, primary: true } }));
    assert.ok(k.has('link:n/vb'), 'the peer end is created with the pair');
    assert.equal((k.get('link:/va') as LinkRes).mtu, 1500);
    assert.equal((k.get('link:/va') as LinkRes).state, 'down');
    applyChange(k, create({ kind: 'address', namespace: 'n', dev: 'vb', address: '10.0.0.2/24' }));
    assert.throws(
      () => applyChange(k, create({ kind: 'route', namespace: 'n', family: 4, to: '0.0.0.0/0', table: 254, metric: 0, type: 'unicast', via: '10.9.0.1', dev: 'vb' })),
      /ENETUNREACH/,
    );
    const del = (key: string): Change => ({ action: 'delete', key, kind: 'link', label: '', reason: '', fields: [], disruptive: true, dependsOn: [] });
    applyChange(k, del('link:/br0'));
    assert.equal((k.get('link:/va') as LinkRes).master, undefined, 'ports are released');
    applyChange(k, del('namespace:n'));
    assert.deepEqual([...readState(k).keys()], [], 'the namespace took the veth end inside, and its peer');
    assert.throws(() => applyPlan(k, [del('link:/va')]), /ENOENT/);
  });
});

describe('computePlan: a port joining a bridge and the macvlans on it', () => {
  const veth = (name: string, peer: string, extra: Partial<LinkRes> = {}): LinkRes => ({ kind: 'link', namespace: '', name, type: 'veth', veth: { peer: { name: peer, namespace: '' }, primary: true }, ...extra });
  const vb0 = (): LinkRes => ({ kind: 'link', namespace: '', name: 'vb0', type: 'veth', veth: { peer: { name: 'va0', namespace: '' }, primary: false } });
  const macvlan = (parent: string): LinkRes => ({ kind: 'link', namespace: '', name: 'm0', type: 'macvlan', macvlan: { parent, mode: 'bridge' } });
  const current = [live(bridge('br0')), live(veth('va0', 'vb0')), live(vb0()), live(macvlan('va0'))];
  const inventory = owning(...current);

  test('waits for the replace of a macvlan moving off it (the kernel refuses a macvlan parent as a port)', () => {
    const p = plan([bridge('br0'), veth('va0', 'vb0', { master: 'br0' }), vb0(), macvlan('br0')], current, { inventory });
    const k = keys(p);
    assert.ok(k.indexOf('link:/m0') < k.indexOf('link:/va0'), k.join(' '));
  });

  test('without a cycle when the new object on that name is stacked on the joining link', () => {
    // m0 becomes a VXLAN on va0: it needs va0's change, so it cannot also go first.
    const vx: LinkRes = { kind: 'link', namespace: '', name: 'm0', type: 'vxlan', vxlan: { vni: 5, dev: 'va0' } };
    const p = plan([bridge('br0'), veth('va0', 'vb0', { master: 'br0' }), vb0(), vx], current, { inventory });
    const k = keys(p);
    assert.ok(k.indexOf('link:/va0') < k.indexOf('link:/m0'), k.join(' '));
    assert.equal(byKey(p, 'link:/m0').action, 'replace');
  });
});
