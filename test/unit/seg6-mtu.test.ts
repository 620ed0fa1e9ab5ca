// The plan's warning for seg6 encap routes that drop forwarded packets silently (seg6-mtu.ts):
// the kernel encapsulates a forwarded packet before any MTU check and sends the Packet Too Big
// to its own tunsrc, so only a forwarding namespace whose links take larger packets is warned.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { resourceKey } from '../../src/model/keys';
import type { LinkRes, Resource, RouteRes } from '../../src/model/types';
import { seg6MtuGaps } from '../../src/plan/seg6-mtu';

const link = (name: string, mtu?: number, extra: Partial<LinkRes> = {}): LinkRes => ({ kind: 'link', namespace: 'g', name, type: 'bridge', state: 'up', ...(mtu === undefined ? {} : { mtu }), ...extra });
const route = (extra: Partial<RouteRes> = {}): RouteRes => ({
  kind: 'route', namespace: 'g', family: 6, to: '2001:db8:2::/64', table: 254, metric: 1024, type: 'unicast', dev: 'up0', mtu: 1436,
  encap: { type: 'seg6', mode: 'encap', segments: ['fc00::1'] }, ...extra,
});
const fwd = (value: string, key = 'net.ipv6.conf.all.forwarding'): Resource => ({ kind: 'sysctl', namespace: 'g', key, value });
const state = (...rs: Resource[]) => new Map(rs.map((r) => [resourceKey(r), r]));

test('a forwarding namespace whose link takes larger packets than fit once encapsulated is warned, naming the route, the limit and what to do', () => {
  const [w, more] = seg6MtuGaps(state(fwd('1'), link('up0', 1500), link('ten0', 1500), route()), new Map());
  assert.equal(more, undefined);
  assert.match(w!, /^route g 2001:db8:2::\/64 \(seg6 encap, mtu 1436\): namespace g forwards \(net\.ipv6\.conf\.all\.forwarding = 1\) and ten0 \(mtu 1500\) can bring it packets larger than 1436 bytes/);
  assert.match(w!, /no longer fit up0 \(mtu 1500\) once encapsulated \(64 bytes\)/);
  assert.match(w!, /mtu \(both ends of a veth\) to 1436 or lower, clamp TCP MSS to 1376, or give up0 mtu 1564$/);
});

test('no warning where nothing is lost: a host-only namespace, links that fit, a device with room, inline mode, no seg6 route', () => {
  const none = (desired: Resource[], current: Resource[] = [], live?: (ns: string, key: string) => string | undefined) => assert.deepEqual(seg6MtuGaps(state(...desired), state(...current), live), []);
  none([link('up0', 1500), link('ten0', 1500), route()]); // forwarding neither declared nor known
  none([fwd('0'), link('up0', 1500), link('ten0', 1500), route()]);
  none([fwd('1'), link('up0', 1500), link('ten0', 1436), route()]);
  none([fwd('1'), link('up0', 9000), link('ten0', 1500), route()]); // the route's own mtu does not matter for forwarded packets
  none([fwd('1'), link('up0', 1500), link('ten0', 1500), route({ encap: { type: 'seg6', mode: 'inline', segments: ['fc00::1'] } })]);
  none([fwd('1'), link('up0', 1500), link('ten0', 1500, { state: 'down' }), link('p0', 1500, { master: 'up0' }), route()]);
  let asked = 0;
  none([fwd('1'), link('up0', 1500), link('ten0', 1500)], [], () => String(++asked));
  assert.equal(asked, 0, 'no seg6 route: no live sysctl read');
});

test('forwarding and mtus that the config does not declare come from the live state', () => {
  // Undeclared forwarding, read live; an undeclared uplink's mtu, and a foreign link, live.
  const desired = state(link('up0'), route());
  const current = state(link('up0', 1500), link('eth0', 9000));
  const live = (ns: string, key: string) => (ns === 'g' && key === 'net.ipv6.conf.all.forwarding' ? '1' : undefined);
  const [w] = seg6MtuGaps(desired, current, live);
  assert.match(w!, /eth0 \(mtu 9000\) can bring it packets larger than 1436 bytes/);
  assert.deepEqual(seg6MtuGaps(desired, current, () => '0'), []);
  // An IPv4 route looks at IPv4 forwarding; a device of unknown mtu falls back to the route's.
  const v4 = route({ family: 4, to: '10.2.0.0/16', mtu: 1400, dev: 'eth9' });
  const [w4] = seg6MtuGaps(state(fwd('1', 'net.ipv4.ip_forward'), link('ten0', 1500), v4), new Map());
  assert.match(w4!, /forwards \(net\.ipv4\.ip_forward = 1\) and ten0 \(mtu 1500\) can bring it packets larger than 1400 bytes, which no longer fit eth9 \(taken as 1500 bytes, as the route's mtu is\)/);
  assert.match(w4!, /clamp TCP MSS to 1360/);
  assert.deepEqual(seg6MtuGaps(state(fwd('1'), link('ten0', 1500), v4), new Map()), [], 'IPv6 forwarding does not forward IPv4');
});
