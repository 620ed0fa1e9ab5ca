// The plan's warning for one subnet on two links of a namespace (shared-subnet.ts): the kernel
// sends to the subnet through the first connected route only, so hosts on the other link are not
// reached. Exact: host addresses, link-local, lo, links down or enslaved, one segment: no warning.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { resourceKey } from '../../src/model/keys';
import type { AddressRes, LinkRes, Resource } from '../../src/model/types';
import { computePlan } from '../../src/plan';
import { planToJson, renderMarkdown, renderText } from '../../src/plan/render';
import { sharedSubnets } from '../../src/plan/shared-subnet';

const link = (name: string, extra: Partial<LinkRes> = {}, namespace = 'h'): LinkRes => ({ kind: 'link', namespace, name, type: 'bridge', state: 'up', ...extra });
const addr = (dev: string, address: string, namespace = 'h'): AddressRes => ({ kind: 'address', namespace, dev, address });
const state = (...rs: Resource[]) => new Map(rs.map((r) => [resourceKey(r), r]));
const all = () => true;

test('one IPv4 or IPv6 subnet on two links of a namespace is warned, naming both links and addresses', () => {
  const d = state(link('x1'), link('x2'), addr('x1', '10.1.0.1/24'), addr('x2', '10.1.0.2/24'), addr('x1', '2001:db8:1::1/64'), addr('x2', '2001:db8:1::2/64'));
  const w = sharedSubnets(d, new Map(), all);
  assert.equal(w.length, 2);
  assert.match(w[0]!, /^namespace h: subnet 10\.1\.0\.0\/24 is on 'x1' \(10\.1\.0\.1\/24\), 'x2' \(10\.1\.0\.2\/24\): the kernel adds a connected route for each but sends to the subnet through the first one only/);
  assert.match(w[1]!, /^namespace h: subnet 2001:db8:1::\/64 is on 'x1'.*'x2'/);
});

test('a live foreign address counts (a host uplink and a declared bridge in one subnet), unless the plan deletes it', () => {
  const d = state(link('br0', {}, ''), addr('br0', '192.168.1.1/24', ''));
  const live = state(link('eth0', {}, ''), addr('eth0', '192.168.1.20/24', ''));
  assert.match(sharedSubnets(d, live, all)[0]!, /^namespace \(root\): subnet 192\.168\.1\.0\/24 is on 'br0' \(192\.168\.1\.1\/24\), 'eth0' \(192\.168\.1\.20\/24\)/);
  assert.deepEqual(sharedSubnets(d, live, () => false), []);
});

test('no warning: host addresses, link-local, lo, a link down or enslaved, other namespaces, other prefix lengths, one segment', () => {
  const none = (...rs: Resource[]) => assert.deepEqual(sharedSubnets(state(...rs), new Map(), all), []);
  none(link('x1'), link('x2'), addr('x1', '10.1.0.1/32'), addr('x2', '10.1.0.1/32'), addr('x1', '2001:db8::1/128'), addr('x2', '2001:db8::1/128'));
  none(link('x1'), link('x2'), addr('x1', 'fe80::1/64'), addr('x2', 'fe80::2/64'));
  none(link('x1'), addr('x1', '10.1.0.1/24'), addr('lo', '10.1.0.9/24'));
  none(link('x1'), link('x2', { state: 'down' }), addr('x1', '10.1.0.1/24'), addr('x2', '10.1.0.2/24'));
  none(link('x1'), link('x2', { master: 'vrf1' }), addr('x1', '10.1.0.1/24'), addr('x2', '10.1.0.2/24'));
  none(link('x1'), link('x1', {}, 'g'), addr('x1', '10.1.0.1/24'), addr('x1', '10.1.0.2/24', 'g'));
  none(link('x1'), link('x2'), addr('x1', '10.1.0.1/24'), addr('x2', '10.1.0.129/25'));
  none(link('x1'), link('x1', {}, 'g'), addr('x1', '10.1.0.1/24'), addr('x1', '10.1.0.3/24'));
  none(link('e0'), link('m0', { type: 'macvlan', macvlan: { parent: 'e0' } as LinkRes['macvlan'] }), addr('e0', '10.1.0.1/24'), addr('m0', '10.1.0.2/24'));
  none(link('v0', { type: 'veth', veth: { peer: { name: 'v1', namespace: 'h' }, primary: true } }), link('v1', { type: 'veth' }), addr('v0', '10.1.0.1/24'), addr('v1', '10.1.0.2/24'));
});

test('the plan carries it: JSON shared_subnets, a warning in text and markdown, a plan without changes too', () => {
  const d = state(link('x1'), link('x2'), addr('x1', '10.1.0.1/24'), addr('x2', '10.1.0.2/24'));
  const plan = computePlan({ desired: d, current: new Map(d), inventory: { version: 1, owned: Object.fromEntries(d), original: {} } });
  assert.equal(plan.changes.length, 0);
  assert.equal(plan.sharedSubnets?.length, 1);
  assert.match(renderText(plan, { color: false }), /Warning: 1 subnet is on two links of one namespace; hosts of it on the second link are not reached:\n {2}- namespace h: subnet 10\.1\.0\.0\/24/);
  assert.deepEqual((planToJson(plan) as { shared_subnets: string[] }).shared_subnets, plan.sharedSubnets);
  const fresh = computePlan({ desired: d, current: new Map(), inventory: { version: 1, owned: {}, original: {} } });
  assert.match(renderMarkdown(fresh), /\*\*Warning: 1 subnet is on two links of one namespace/);
});
