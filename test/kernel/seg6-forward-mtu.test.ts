// Real kernel: a packet forwarded into a seg6 encap route is encapsulated before any MTU check
// (the route's own mtu is not applied to it) and dropped when it no longer fits the device; the
// Packet Too Big goes to the gateway's own tunsrc, never to the sender. The plan warns about
// such a route in a forwarding namespace, and the warning's remedy (the tenant link's mtu at the
// limit) makes the sender learn the limit locally instead.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { editableSandbox } from '../support/sandbox';

const CONFIG = `namespaces:
  - name: t
  - name: g
    sysctls: { net.ipv6.conf.all.forwarding: 1 }
    seg6: { tunsrc: "2001:db8:f::1" }
  - name: u
links:
  - { name: t-g, namespace: t, type: veth, peer: { name: g-t, namespace: g } }
  - { name: g-u, namespace: g, type: veth, peer: { name: u-g, namespace: u } }
addresses:
  - { address: "2001:db8:1::2/64", dev: t-g, namespace: t }
  - { address: "2001:db8:1::1/64", dev: g-t, namespace: g }
  - { address: "2001:db8:f::1/64", dev: g-u, namespace: g }
  - { address: "2001:db8:f::2/64", dev: u-g, namespace: u }
routes:
  - { to: default6, via: "2001:db8:1::1", dev: t-g, namespace: t }
  - { to: "fc00:1::/64", via: "2001:db8:f::2", dev: g-u, namespace: g }
  - { to: "2001:db8:99::/64", dev: g-u, namespace: g, mtu: 1300, encap: { type: seg6, mode: encap, segments: [ "fc00:1::e" ] } }
`;

describe('seg6 encap: forwarded packets above the device mtu less the encapsulation vanish; the plan warns (real kernel)', () => {
  const { sb, edit } = editableSandbox('s6m', CONFIG);
  /** IPv6 SNMP counters of a namespace (/proc/net/snmp6 is per namespace). */
  const snmp6 = (ns: string): Record<string, number> =>
    Object.fromEntries(
      sb.exec(ns, ['cat', '/proc/net/snmp6']).stdout.trim().split('\n').map((l) => {
        const [k, v] = l.trim().split(/\s+/);
        return [k!, Number(v)];
      }),
    );
  /** One ping from the tenant of an IPv6 packet of `size` bytes, never fragmented. */
  const ping = (size: number) => sb.exec('t', ['ping', '-6', '-c', '1', '-W', '1', '-M', 'do', '-s', String(size - 48), '2001:db8:99::5']);

  it('the plan warns, naming the route, the limit (1500 - 64) and the MSS', () => {
    const a = sb.run(['apply', '--auto-approve']);
    assert.equal(a.code, 0, a.stdout + a.stderr);
    const p = sb.run(['plan']);
    assert.equal(p.code, 0, p.stderr);
    assert.match(p.stdout, /Warning: 1 seg6 encap route silently drops forwarded packets/);
    assert.match(p.stdout, /route g 2001:db8:99::\/64 \(seg6 encap, mtu 1300\): namespace g forwards .* g-t \(mtu 1500\) can bring it packets larger than 1436 bytes.*clamp TCP MSS to 1376/);
  });

  it('packets up to 1436 bytes are forwarded (the route mtu 1300 plays no part); a larger one is dropped and its sender hears nothing', () => {
    assert.equal(sb.pingUntil('t', ['-6', '2001:db8:1::1']).code, 0, 'the gateway answers');
    const g0 = snmp6('g');
    const u0 = snmp6('u');
    ping(1436); // unanswered: u has no route back; only its arrival matters
    const g1 = snmp6('g');
    assert.equal(g1.Ip6InTooBigErrors! - g0.Ip6InTooBigErrors!, 0);
    assert.ok(snmp6('u').Ip6InReceives! > u0.Ip6InReceives!, 'the encapsulated packet reached u');
    const t1 = snmp6('t');
    const r = ping(1437);
    assert.notEqual(r.code, 0);
    assert.doesNotMatch(r.stdout + r.stderr, /too big|too long/i, 'the sender is told nothing');
    const g2 = snmp6('g');
    assert.equal(g2.Ip6InTooBigErrors! - g1.Ip6InTooBigErrors!, 1, 'dropped at the gateway');
    assert.equal(g2.Icmp6OutPktTooBigs! - g1.Icmp6OutPktTooBigs!, 1, 'a Packet Too Big was sent ...');
    assert.equal(snmp6('t').Icmp6InPktTooBigs! - t1.Icmp6InPktTooBigs!, 0, '... but not to the sender');
  });

  it("with the tenant link at the limit (the warning's remedy) the plan is quiet and the sender learns the limit locally", () => {
    edit('{ name: t-g, namespace: t, type: veth, peer: { name: g-t, namespace: g } }', '{ name: t-g, namespace: t, type: veth, mtu: 1436, peer: { name: g-t, namespace: g, mtu: 1436 } }');
    const a = sb.run(['apply', '--auto-approve']);
    assert.equal(a.code, 0, a.stdout + a.stderr);
    const p = sb.run(['plan', '--detailed-exitcode']);
    assert.equal(p.code, 0, p.stdout + p.stderr);
    assert.doesNotMatch(p.stdout, /Warning/);
    const g0 = snmp6('g');
    const r = ping(1437);
    assert.match(r.stdout + r.stderr, /message too long, mtu: 1436/);
    assert.equal(snmp6('g').Ip6InTooBigErrors! - g0.Ip6InTooBigErrors!, 0);
  });
});

// The limit of an inline route (8 + 16·(n + 1) bytes: the SRH with its reserved slot), and of
// encap routes whose packets leave by another device than their own: the one of the route to the
// first segment, whatever the seg6 route's dev (a jumbo one here) or when it names none.
const LIMITS = `namespaces:
  - name: t
  - name: g
    sysctls: { net.ipv6.conf.all.forwarding: 1 }
    seg6: { tunsrc: "2001:db8:f::1" }
  - name: u
links:
  - { name: t-g, namespace: t, type: veth, peer: { name: g-t, namespace: g } }
  - { name: g-u, namespace: g, type: veth, peer: { name: u-g, namespace: u } }
  - { name: g-j, namespace: g, type: veth, mtu: 9000, peer: { name: j-g, namespace: u, mtu: 9000 } }
addresses:
  - { address: "2001:db8:1::2/64", dev: t-g, namespace: t }
  - { address: "2001:db8:1::1/64", dev: g-t, namespace: g }
  - { address: "2001:db8:f::1/64", dev: g-u, namespace: g }
  - { address: "2001:db8:f::2/64", dev: u-g, namespace: u }
  - { address: "2001:db8:e::1/64", dev: g-j, namespace: g }
  - { address: "2001:db8:e::2/64", dev: j-g, namespace: u }
routes:
  - { to: default6, via: "2001:db8:1::1", dev: t-g, namespace: t }
  - { to: "fc00:1::/64", via: "2001:db8:f::2", dev: g-u, namespace: g }
  - { to: "2001:db8:98::/64", dev: g-u, namespace: g, encap: { type: seg6, mode: inline, segments: [ "fc00:1::e" ] } }
  - { to: "2001:db8:97::/64", dev: g-j, namespace: g, encap: { type: seg6, mode: encap, segments: [ "fc00:1::e" ] } }
  - { to: "2001:db8:96::/64", via: "2001:db8:e::2", namespace: g, encap: { type: seg6, mode: encap, segments: [ "fc00:1::e" ] } }
`;

describe('seg6 inline routes and routes leaving by their first segment\'s device: the warning is exact to the byte (real kernel)', () => {
  const { sb } = editableSandbox('s6l', LIMITS);
  const counters = (ns: string): Record<string, number> =>
    Object.fromEntries(sb.exec(ns, ['cat', '/proc/net/snmp6']).stdout.trim().split('\n').map((l) => l.trim().split(/\s+/)).map(([k, v]) => [k!, Number(v)]));
  const ping = (size: number, to: string) => sb.exec('t', ['ping', '-6', '-c', '1', '-W', '1', '-M', 'do', '-s', String(size - 48), to]);
  /** Whether a packet of `size` bytes to `to` left the gateway (dropped there: it did not). */
  const passes = (size: number, to: string): boolean => {
    const g0 = counters('g');
    ping(size, to);
    return counters('g').Ip6InTooBigErrors! === g0.Ip6InTooBigErrors!;
  };

  it('the plan warns about each route at its limit, naming the device the packets leave by', () => {
    const a = sb.run(['apply', '--auto-approve']);
    assert.equal(a.code, 0, a.stdout + a.stderr);
    const p = sb.run(['plan']);
    assert.equal(p.code, 0, p.stderr);
    assert.match(p.stdout, /Warning: 3 seg6 encap routes silently drop forwarded packets/);
    assert.match(p.stdout, /route g 2001:db8:98::\/64 \(seg6 inline, mtu 1436\): .* g-t \(mtu 1500\) can bring it packets larger than 1460 bytes, which no longer fit g-u \(mtu 1500\) once the SRH is inserted \(40 bytes\).*Packet Too Big quoting 1500/);
    assert.match(p.stdout, /route g 2001:db8:97::\/64 \(seg6 encap, mtu 1436\): .* g-j \(mtu 9000\), g-t \(mtu 1500\) can bring it packets larger than 1436 bytes, which no longer fit g-u \(the device of the route to its first segment fc00:1::e\) \(mtu 1500\)/);
    assert.match(p.stdout, /route g 2001:db8:96::\/64 \(seg6 encap, mtu 1436\): .* larger than 1436 bytes, which no longer fit g-u \(the device of the route to its first segment fc00:1::e\)/);
  });

  it('inline: 1460 bytes pass, 1461 are dropped, and the sender gets a Packet Too Big quoting 1500, which changes nothing', () => {
    assert.equal(sb.pingUntil('t', ['-6', '2001:db8:1::1']).code, 0, 'the gateway answers');
    assert.ok(passes(1460, '2001:db8:98::5'));
    const t0 = counters('t');
    assert.ok(!passes(1461, '2001:db8:98::5'));
    assert.equal(counters('t').Icmp6InPktTooBigs! - t0.Icmp6InPktTooBigs!, 1);
    assert.ok(!passes(1461, '2001:db8:98::5'), 'the sender did not learn a smaller mtu');
  });

  it("encap on a 9000-byte dev and encap without dev: 1436 bytes pass, 1437 are dropped (the first segment's device is 1500)", () => {
    for (const to of ['2001:db8:97::5', '2001:db8:96::5']) {
      assert.ok(passes(1436, to), to);
      assert.ok(!passes(1437, to), to);
    }
  });
});
