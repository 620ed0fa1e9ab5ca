// The reason texts of plan changes built from parts (drafts.ts): which parts a reason names, and
// in which order. The golden plans exercise them only where the order or the parts happen to agree.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { RouteRes, RuleRes } from '../../src/model/types';
import { ruleAddsFirst, ruleFinds, sameRule } from '../../src/plan/handover';
import { IMMUTABLE } from '../../src/plan/compare';
import { countText, differReason, immutableReason } from '../../src/plan/drafts';

describe('plan reasons', () => {
  test('countText lists kinds in plan order (namespaces, links, addresses, routes ...), whatever order they come in', () => {
    assert.equal(countText(['route', 'link', 'address', 'link']), '2 links, 1 address and 1 route');
    assert.equal(countText(['rule', 'sysctl']), '1 sysctl and 1 rule');
  });

  test('a type change explains the rest: no other cause is given beside it', () => {
    const r = immutableReason([
      { change: { field: 'type', before: 'bridge', after: 'vxlan' }, cause: IMMUTABLE },
      { change: { field: 'mtu', before: 1500, after: 1450 }, cause: 'the kernel says so' },
    ]);
    assert.equal(r, 'type is immutable (bridge → vxlan)');
    const noType = immutableReason([
      { change: { field: 'vxlan.vni', before: 1, after: 2 }, cause: IMMUTABLE },
      { change: { field: 'vxlan.remote', before: '10.0.0.1', after: '10.0.0.2' }, cause: 'the kernel says so' },
    ]);
    assert.equal(noType, 'vxlan.vni is immutable (1 → 2); vxlan.remote (10.0.0.1 → 10.0.0.2) cannot change in place: the kernel says so');
  });

  test('an SRv6 pool route names its pool and path only when its encap changes', () => {
    const r: RouteRes = { kind: 'route', namespace: '', family: 6, to: '2001:db8::/64', table: 254, metric: 5, type: 'unicast', dev: 'eth0', poolRef: { pool: 'p', path: 'a' } };
    assert.equal(differReason([{ field: 'metric', before: 1, after: 5 }], r), 'metric differs');
    assert.equal(differReason([{ field: 'encap.segments', before: [], after: [] }], r), 'encap.segments differs (SRv6 pool p, path a)');
  });

  test('a rule replaced at its priority is added first only where the kernel tells the two apart', () => {
    const rule = (x: Partial<RuleRes>): RuleRes => ({ kind: 'rule', namespace: '', family: 4, priority: 1100, action: 'lookup', ...x }) as RuleRes;
    const old = rule({ table: 100, from: '10.50.0.0/24' });
    // Another table or action: neither one's spec finds the other.
    assert.ok(ruleAddsFirst(old, rule({ table: 200, from: '10.50.0.0/24' })));
    assert.ok(ruleAddsFirst(old, rule({ action: 'blackhole', from: '10.50.0.0/24' })));
    assert.ok(ruleAddsFirst(rule({ action: 'prohibit' }), rule({ table: 100 })));
    // An adopted rule (proto static) and Voltron's: the protocol in the delete tells them apart.
    assert.ok(ruleAddsFirst({ ...old, protocol: 4 }, old));
    // Narrowed: the old rule's delete (no `from`) would also find the new one.
    assert.ok(!ruleAddsFirst(rule({ table: 100 }), old));
    assert.ok(ruleFinds(rule({ table: 100 }), old));
    // Widened: the kernel refuses the add as existing while the old rule is there.
    assert.ok(!ruleAddsFirst(old, rule({ table: 100 })));
    // A protocol of 0 (`ip rule add` without one) matches any protocol, as the kernel reads it.
    // (adopted at the same table and selectors, its delete would find Voltron's new one).
    assert.ok(!ruleAddsFirst({ ...old, protocol: 0 }, old));
    // A mark without a mask has the full one.
    assert.ok(sameRule(rule({ table: 100, fwmark: 1 }), rule({ table: 100, fwmark: 1, fwmask: 0xffffffff })));
    assert.ok(!sameRule(rule({ table: 100, fwmark: 1 }), rule({ table: 100, fwmark: 1, fwmask: 0xff })));
  });
});
