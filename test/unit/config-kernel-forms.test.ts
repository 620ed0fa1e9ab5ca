// Configs the kernel stores in another form: the desired state must be normalised to that form
// (or the comparison must accept it), or a clean apply never converges.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatConfigError, loadConfigFromStrings } from '../../src/config';
import { bridgeTimerInSync, bridgeTimerRoundTrip } from '../../src/model/jiffies';
import { resourceKey } from '../../src/model/keys';
import type { DesiredState, LinkRes, Resource, RouteRes, RuleRes } from '../../src/model/types';
import { diffResource } from '../../src/plan/compare';
import { computePlan, planToJson, renderText } from '../../src/plan';

function ok(text: string): DesiredState {
  const r = loadConfigFromStrings([{ name: 'a.yaml', text }], 'h1');
  if (!r.ok) assert.fail(`unexpected errors:\n${r.errors.map(formatConfigError).join('\n')}`);
  return r.desired;
}

function errors(text: string): string[] {
  const r = loadConfigFromStrings([{ name: 'a.yaml', text }], 'h1');
  assert.equal(r.ok, false, 'expected errors');
  return r.ok ? [] : r.errors.map(formatConfigError);
}

function get<T extends Resource>(d: DesiredState, key: string): T {
  const r = d.resources.get(key);
  assert.ok(r, `missing ${key}; have: ${[...d.resources.keys()].join(', ')}`);
  return r as T;
}

test('bridge timers: the kernel round trip through jiffies (kernel/time/time.c)', () => {
  // HZ=250: an odd number of centiseconds loses one (12345 → 30862 jiffies → 12344).
  assert.equal(bridgeTimerRoundTrip(12345, 250), 12344);
  assert.equal(bridgeTimerRoundTrip(1001, 250), 1000);
  assert.equal(bridgeTimerRoundTrip(1000, 250), 1000);
  // HZ=300: TICK_NSEC is rounded (3333333 ns), so every value reads back lower.
  assert.equal(bridgeTimerRoundTrip(1500, 300), 1499);
  assert.equal(bridgeTimerRoundTrip(4_000_000_000, 300), 3_999_999_600);
  for (const hz of [100, 200, 500, 1000]) assert.equal(bridgeTimerRoundTrip(12345, hz), 12345, `HZ=${hz}`);
  assert.equal(bridgeTimerRoundTrip(4294967295, 1000), 4294967295);
});

test('bridge timers: a live value equal to the round trip is in sync, anything else is not', () => {
  assert.ok(bridgeTimerInSync(12345, 12345));
  assert.ok(bridgeTimerInSync(12345, 12344));
  assert.ok(!bridgeTimerInSync(12345, 12343));
  assert.ok(!bridgeTimerInSync(12345, 12346));
  assert.ok(!bridgeTimerInSync(1000, 998));
  assert.ok(!bridgeTimerInSync(1000, undefined));
  // With one HZ given, only its round trip counts.
  assert.ok(!bridgeTimerInSync(1500, 1499, [250]));
  assert.ok(bridgeTimerInSync(1500, 1499, [300]));
});

test('bridge timers: the plan compares like with like', () => {
  const d = ok(`links:
  - { name: br0, type: bridge, bridge: { ageing_time: 1001, forward_delay: 401 } }
`);
  const want = get<LinkRes>(d, 'link:/br0');
  assert.deepEqual(want.bridge, { vlanFiltering: false, stp: false, ageingTime: 1001, forwardDelay: 401 });
  const live = (ageingTime: number, forwardDelay: number): LinkRes => ({
    kind: 'link', namespace: '', name: 'br0', type: 'bridge', state: 'up', mtu: 1500,
    bridge: { vlanFiltering: false, stp: false, vlanDefaultPvid: 1, ageingTime, forwardDelay, multicastSnooping: true },
  });
  assert.deepEqual(diffResource(want, live(1000, 400)), []);
  assert.deepEqual(diffResource(want, live(1001, 401)), []);
  const changed = diffResource(want, live(900, 400));
  assert.deepEqual(changed.map((f) => [f.field, f.before, f.after]), [['bridge.ageingTime', 900, 1001]]);
  const p = computePlan({ desired: new Map([[resourceKey(want), want]]), current: new Map([['link:/br0', live(1000, 400)]]), inventory: { version: 1, owned: {}, original: {} } });
  assert.deepEqual(p.changes, []);
});

test('route metric: IPv6 metric 0 is the kernel default 1024; IPv4 keeps 0', () => {
  const d = ok(`links: [ { name: br0, type: bridge } ]
routes:
  - { to: "2001:db8:1::/64", dev: br0, metric: 0 }
  - { to: 10.1.0.0/16, dev: br0, metric: 0 }
  - { to: "2001:db8:2::/64", dev: br0, metric: 7 }
`);
  assert.equal(get<RouteRes>(d, 'route:/ipv6/t254/2001:db8:1::/64/m1024').metric, 1024);
  assert.equal(get<RouteRes>(d, 'route:/ipv4/t254/10.1.0.0/16/m0').metric, 0);
  assert.equal(get<RouteRes>(d, 'route:/ipv6/t254/2001:db8:2::/64/m7').metric, 7);
  assert.ok(![...d.resources.keys()].some((k) => k.includes('/m0') && k.includes('ipv6')));
});

test('route metric: IPv6 metric 0 and 1024 are one route (a duplicate)', () => {
  const e = errors(`links: [ { name: br0, type: bridge } ]
routes:
  - { to: "2001:db8:1::/64", dev: br0, metric: 0 }
  - { to: "2001:db8:1::/64", dev: br0 }
`);
  assert.equal(e.length, 1, e.join('\n'));
  assert.match(e[0]!, /^a\.yaml:4:5: \/routes\/1: duplicate route .*metric 1024' \(first declared at a\.yaml:3:5\)/);
});

test('rules: a bare address selector is a host prefix, like a route destination', () => {
  const d = ok(`rules:
  - { priority: 10, to: 10.0.0.5, table: 100 }
  - { priority: 11, from: 10.0.0.6, to: 10.9.0.0/16, table: 100 }
  - { priority: 12, from: "2001:db8::5", table: 100 }
  - { priority: 13, to: "2001:DB8::0:6", table: 100 }
  - { priority: 14, from: 10.0.0.7/24, to: "10.9.1.1/16", table: 100 }
`);
  assert.equal(get<RuleRes>(d, 'rule:/ipv4/p10').to, '10.0.0.5/32');
  assert.equal(get<RuleRes>(d, 'rule:/ipv4/p11').from, '10.0.0.6/32');
  assert.equal(get<RuleRes>(d, 'rule:/ipv4/p11').to, '10.9.0.0/16');
  // The family comes from a bare address too.
  assert.equal(get<RuleRes>(d, 'rule:/ipv6/p12').from, '2001:db8::5/128');
  assert.equal(get<RuleRes>(d, 'rule:/ipv6/p13').to, '2001:db8::6/128');
  // Host bits of a prefix are dropped: the selector is the network (what the rule matches).
  assert.equal(get<RuleRes>(d, 'rule:/ipv4/p14').from, '10.0.0.0/24');
  assert.equal(get<RuleRes>(d, 'rule:/ipv4/p14').to, '10.9.0.0/16');
});

test('rules: a /0 selector is no selector (the kernel keeps none), and keeps its family', () => {
  // from: 0.0.0.0/0 was sent as such, read back as none: the apply never converged.
  const d = ok(`rules:
  - { priority: 10, table: 100, from: 0.0.0.0/0 }
  - { priority: 11, table: 100, from: "::/0", to: "2001:db8::/32" }
`);
  assert.equal(get<RuleRes>(d, 'rule:/ipv4/p10').from, undefined);
  assert.equal(get<RuleRes>(d, 'rule:/ipv6/p11').from, undefined);
  assert.equal(get<RuleRes>(d, 'rule:/ipv6/p11').to, '2001:db8::/32');
});

test('rules: a bare address of the other family is still refused', () => {
  const e = errors(`rules:
  - { priority: 10, family: 4, to: "2001:db8::5", table: 100 }
  - { priority: 11, from: not-an-ip, table: 100 }
`);
  assert.deepEqual(e, [
    `a.yaml:2:36: /rules/0/to: to '2001:db8::5' is IPv6 but the rule is IPv4`,
    `a.yaml:3:27: /rules/1/from: bad CIDR 'not-an-ip' (expected a CIDR or an address)`,
  ]);
});

test('rules: fwmark is stored as the kernel keeps it (mask 0xffffffff by default; mark 0 alone is no selector)', () => {
  const d = ok(`rules:
  - { priority: 10, fwmark: 1, table: 100 }
  - { priority: 11, fwmark: 1, fwmask: 255, table: 100 }
  - { priority: 12, fwmark: 0, fwmask: 255, table: 100 }
  - { priority: 13, fwmark: 0, table: 100 }
`);
  const sel = (p: number) => {
    const r = get<RuleRes>(d, `rule:/ipv4/p${p}`);
    return [r.fwmark, r.fwmask];
  };
  assert.deepEqual(sel(10), [1, 0xffffffff]);
  assert.deepEqual(sel(11), [1, 255]);
  assert.deepEqual(sel(12), [0, 255]);
  assert.deepEqual(sel(13), [undefined, undefined]);
  // Dropping `fwmask: 255` from a live fwmark 1/0xff rule now replaces it (it used to be kept).
  const live: RuleRes = { kind: 'rule', namespace: '', family: 4, priority: 10, action: 'lookup', table: 100, fwmark: 1, fwmask: 255 };
  assert.deepEqual(diffResource(get<RuleRes>(d, 'rule:/ipv4/p10'), live).map((f) => f.field), ['fwmask']);
});

test('route scope: canonical by name, absent where it is the default ip route gives (a plain route carries none)', () => {
  const d = ok(`links: [ { name: b0, type: bridge } ]
addresses: [ { address: 10.0.0.1/24, dev: b0 } ]
routes:
  - { to: 10.1.0.0/16, dev: b0, scope: 253 }
  - { to: 10.2.0.0/16, dev: b0, scope: 0 }
  - { to: 10.3.0.0/16, via: 10.0.0.2, scope: global }
  - { to: 10.4.0.0/16, via: 10.0.0.2, scope: 200 }
  - { to: 10.5.0.0/16, type: blackhole, scope: link }
  - { to: 10.6.0.0/16, type: unreachable, scope: 0 }
  - { to: 10.7.0.0/16, dev: b0, scope: 17 }
  - { to: "2001:db8:1::/64", type: blackhole, scope: global }
`);
  const scope = (to: string, fam = 4) => get<RouteRes>(d, `route:/ipv${fam}/t254/${to}/m${fam === 6 ? 1024 : 0}`).scope;
  assert.equal(scope('10.1.0.0/16'), undefined, "253 is link, a device route's default");
  assert.equal(scope('10.2.0.0/16'), 'global');
  assert.equal(scope('10.3.0.0/16'), undefined, "global, a gateway route's default");
  assert.equal(scope('10.4.0.0/16'), 'site');
  assert.equal(scope('10.5.0.0/16'), 'link');
  assert.equal(scope('10.6.0.0/16'), undefined);
  assert.equal(scope('10.7.0.0/16'), 17);
  assert.equal(scope('2001:db8:1::/64', 6), undefined, 'IPv6: no scope');
});

test('route scope: a change shows both scopes by name (the default one too), in text and JSON', () => {
  const want = get<RouteRes>(ok(`routes: [ { to: 10.1.0.0/16, dev: eth1 } ]`), 'route:/ipv4/t254/10.1.0.0/16/m0');
  const live: RouteRes = { ...want, scope: 'host', protocol: 194 };
  assert.deepEqual(diffResource(want, live), [{ field: 'scope', before: 'host', after: undefined }]);
  const p = computePlan({ desired: new Map([[resourceKey(want), want]]), current: new Map([[resourceKey(live), live]]), inventory: { version: 1, owned: {}, original: {} } });
  assert.equal(p.changes.length, 1);
  assert.equal(p.changes[0]!.action, 'update');
  assert.match(renderText(p, { color: false }), /~ scope: host → link\n/);
  const j = planToJson(p) as { changes: { fields: { field: string; before: unknown; after: unknown }[] }[] };
  assert.deepEqual(j.changes[0]!.fields, [{ field: 'scope', before: 'host', after: 'link' }]);
});
