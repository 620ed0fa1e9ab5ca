// The plan's warning for seg6 encap routes that drop forwarded packets silently (seg6-mtu.ts):
// the kernel encapsulates a forwarded packet before any MTU check and sends the Packet Too Big
// to its own tunsrc, so only a forwarding namespace whose links take larger packets is warned.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { resourceKey } from '../../src/model/keys';
import type { LinkRes, Resource, RouteRes } from '../../src/model/types';
import { seg6MtuGaps, seg6Overhead } from '../../src/plan/seg6-mtu';

const link = (name: string, mtu?: number, extra: Partial<LinkRes> = {}): LinkRes => ({ kind: 'link', namespace: 'g', name, type: 'bridge', state: 'up', ...(mtu === undefined ? {} : { mtu }), ...extra });
const route = (extra: Partial<RouteRes> = {}): RouteRes => ({
  kind: 'route', namespace: 'g', family: 6, to: '2001:db8:2::/64', table: 254, metric: 1024, type: 'unicast', dev: 'up0', mtu: 1436,
  encap: { type: 'seg6', mode: 'encap', segments: ['fc00::1'] }, ...extra,
});
const plain = (to: string, extra: Partial<RouteRes> = {}): RouteRes => ({ kind: 'route', namespace: 'g', family: 6, to, table: 254, metric: 1024, type: 'unicast', ...extra });
const addr = (address: string, dev: string): Resource => ({ kind: 'address', namespace: 'g', dev, address });
const fwd = (value: string, key = 'net.ipv6.conf.all.forwarding'): Resource => ({ kind: 'sysctl', namespace: 'g', key, value });
const state = (...rs: Resource[]) => new Map(rs.map((r) => [resourceKey(r), r]));

test('a forwarding namespace whose link takes larger packets than fit once encapsulated is warned, naming the route, the limit and what to do', () => {
  const [w, more] = seg6MtuGaps(state(fwd('1'), link('up0', 1500), link('ten0', 1500), route()), new Map());
  assert.equal(more, undefined);
  assert.match(w!, /^route g 2001:db8:2::\/64 \(seg6 encap, mtu 1436\): namespace g forwards \(net\.ipv6\.conf\.all\.forwarding = 1\) and ten0 \(mtu 1500\) can bring it packets larger than 1436 bytes/);
  assert.match(w!, /no longer fit up0 \(mtu 1500\) once encapsulated \(64 bytes\)/);
  assert.match(w!, /mtu \(both ends of a veth\) to 1436 or lower, clamp TCP MSS to 1376, or give up0 mtu 1564$/);
});

test('no warning where nothing is lost: a host-only namespace, links that fit, a device with room, inline links that fit, no seg6 route', () => {
  const none = (desired: Resource[], current: Resource[] = [], live?: (ns: string, key: string) => string | undefined) => assert.deepEqual(seg6MtuGaps(state(...desired), state(...current), live), []);
  none([link('up0', 1500), link('ten0', 1500), route()]); // forwarding neither declared nor known
  none([fwd('0'), link('up0', 1500), link('ten0', 1500), route()]);
  none([fwd('1'), link('up0', 1500), link('ten0', 1436), route()]);
  none([fwd('1'), link('up0', 9000), link('ten0', 1500), route()]); // the route's own mtu does not matter for forwarded packets
  none([fwd('1'), link('up0', 1500), link('ten0', 1460), route({ encap: { type: 'seg6', mode: 'inline', segments: ['fc00::1'] } })]);
  none([fwd('1'), link('up0', 1500), link('ten0', 1500), route({ encap: { type: 'seg6', mode: 'l2encap', segments: ['fc00::1'] } })]);
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
  assert.match(w4!, /forwards \(net\.ipv4\.ip_forward = 1\) and ten0 \(mtu 1500\) can bring it packets larger than 1400 bytes, which no longer fit eth9 \(taken as 1464 bytes, as the route's mtu is\)/);
  assert.match(w4!, /clamp TCP MSS to 1360/);
  assert.deepEqual(seg6MtuGaps(state(fwd('1'), link('ten0', 1500), v4), new Map()), [], 'IPv6 forwarding does not forward IPv4');
});

test('the overhead, measured on 6.18 with DF pings: encap adds 40 + 8 + 16·n, inline 8 + 16·(n + 1) (the SRH with its reserved slot)', () => {
  assert.equal(seg6Overhead('encap', 1), 64); // 1436 forwarded over 1500, 1437 dropped
  assert.equal(seg6Overhead('inline', 1), 40); // 1460 forwarded, 1461 dropped
  assert.equal(seg6Overhead('inline', 3), 72); // 1428 forwarded, 1429 dropped
  assert.equal(seg6Overhead('encap', 16), 304);
});

test('an inline route is warned at its own limit, and its sender gets a Packet Too Big it cannot act on', () => {
  const inline = (n: number) => route({ mtu: undefined, encap: { type: 'seg6', mode: 'inline', segments: ['fc00::1', 'fc00::2', 'fc00::3'].slice(0, n) } });
  const [w1] = seg6MtuGaps(state(fwd('1'), link('up0', 1500), link('ten0', 1500), inline(1)), new Map());
  assert.match(w1!, /^route g 2001:db8:2::\/64 \(seg6 inline, mtu unset\): .* ten0 \(mtu 1500\) can bring it packets larger than 1460 bytes, which no longer fit up0 \(mtu 1500\) once the SRH is inserted \(40 bytes\)/);
  assert.match(w1!, /sends the sender a Packet Too Big quoting 1500, which its packet already fits\. .* to 1460 or lower, clamp TCP MSS to 1400, or give up0 mtu 1540$/);
  const [w3] = seg6MtuGaps(state(fwd('1'), link('up0', 1500), link('ten0', 1429), inline(3)), new Map());
  assert.match(w3!, /ten0 \(mtu 1429\) can bring it packets larger than 1428 bytes/);
  assert.deepEqual(seg6MtuGaps(state(fwd('1'), link('up0', 1500), link('ten0', 1428), inline(3)), new Map()), []);
});

test('the device judged is the one of the route to the first segment, not the seg6 route\'s own', () => {
  // The seg6 route on a jumbo device, its first segment reached over a 1500-byte one: 1436.
  const jumbo = [fwd('1'), link('up0', 9000), link('up1', 1500), link('ten0', 1500), plain('fc00::/64', { via: 'fe80::1', dev: 'up1' })];
  const [w] = seg6MtuGaps(state(...jumbo, route()), new Map());
  // The route's own device is a link like any other here: what comes in on it is forwarded too.
  assert.match(w!, /ten0 \(mtu 1500\), up0 \(mtu 9000\) can bring it packets larger than 1436 bytes, which no longer fit up1 \(the device of the route to its first segment fc00::1\) \(mtu 1500\) once encapsulated/);
  // The reverse: the first segment over the jumbo device, the route on the small one: no loss.
  assert.deepEqual(seg6MtuGaps(state(fwd('1'), link('up0', 1500), link('up1', 9000), link('ten0', 1500), plain('fc00::/64', { dev: 'up1' }), route()), new Map()), []);
  // The longest prefix wins, then the lowest metric; a connected prefix counts at metric 256.
  const lpm = (...rs: Resource[]) => seg6MtuGaps(state(fwd('1'), link('up0', 9000), link('small', 1400), link('ten0', 1400), ...rs, route()), new Map());
  assert.equal(lpm(plain('fc00::/16', { dev: 'small' }), plain('fc00::/64', { dev: 'up0' })).length, 0);
  assert.equal(lpm(plain('fc00::/64', { dev: 'small' }), plain('fc00::/16', { dev: 'up0' })).length, 1);
  assert.equal(lpm(plain('fc00::/64', { dev: 'small', metric: 2000 }), plain('fc00::/64', { dev: 'up0', metric: 10 })).length, 0);
  assert.equal(lpm(plain('fc00::/64', { dev: 'up0', metric: 1024 }), addr('fc00::9/64', 'small')).length, 1);
  // A live route counts when none is declared.
  assert.equal(seg6MtuGaps(state(fwd('1'), link('up0', 9000), link('ten0', 1500), route()), state(plain('::/0', { via: 'fe80::1', dev: 'small' }), link('small', 1500))).length, 1);
});

test('a seg6 route without dev: the device of its first segment, else its gateway\'s', () => {
  const viaOnly = route({ dev: undefined, via: '2001:db8:f::2' });
  const base = [fwd('1'), link('up0', 1500), link('ten0', 1500), addr('2001:db8:f::1/64', 'up0')];
  const [w] = seg6MtuGaps(state(...base, viaOnly), new Map());
  assert.match(w!, /larger than 1436 bytes, which no longer fit up0 \(the device of the route to its first segment fc00::1\) \(mtu 1500\)/);
  const [w2] = seg6MtuGaps(state(...base, link('up9', 9000), plain('fc00::/64', { via: '2001:db8:9::2' }), addr('2001:db8:9::1/64', 'up9'), viaOnly), new Map());
  assert.equal(w2, undefined, 'the first segment goes by up9 (9000) through its gateway');
  const [w3] = seg6MtuGaps(state(...base, link('up9', 1400), plain('fc00::/64', { via: '2001:db8:9::2' }), addr('2001:db8:9::1/64', 'up9'), viaOnly), new Map());
  assert.match(w3!, /larger than 1336 bytes, which no longer fit up9/);
});
