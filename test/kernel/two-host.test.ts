// Real kernel, real packets: one config repository for two hosts (a base and hosts/<host>.yaml),
// applied to two sandboxes joined by an underlay veth made by hand, as a datacenter host's NIC
// would be (the config only declares its addresses). Tenants on host A reach tenants on host B
// over a VXLAN bridge and over SRv6 (seg6 encap to End.DX4 / End.DT6, steered by policy rules);
// then a PR-style change per host (a tenant moves to the other host, the VNI changes, a route is
// added) is planned as markdown and applied without touching the SRv6 traffic; destroy leaves
// only what was there before.
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Sandbox } from '../support/sandbox';

const BASE = `# Every host: forwarding, SRv6 acceptance, the tenant bridge, its VTEP and an EVPN-style VTEP.
sysctls:
  net.ipv4.ip_forward: 1
  net.ipv6.conf.all.forwarding: 1
  net.ipv6.conf.all.seg6_enabled: 1
  net.ipv6.conf.default.seg6_enabled: 1
links:
  - { name: br100, type: bridge, mtu: 1450, bridge: { stp: false } }
  - { name: vx100, type: vxlan, master: br100, mtu: 1450, vxlan: { vni: 100, dev: ul0 } }
  - { name: vx-ext, type: vxlan, vxlan: { external: true, vnifilter: true, dstport: 4790 }, vnis: [ 200, "300-302" ] }
`;

/** A host's overlay: its VTEP endpoints, underlay addresses, bridged tenants and its SRv6 tenant. */
function overlay(h: { me: number; peer: number; bridged: [string, number][]; srv6: string; net: number; extraRoute?: string }): string {
  const peerSids = h.peer === 1 ? 'a' : 'b';
  const mySids = h.me === 1 ? 'a' : 'b';
  const t = h.srv6;
  return `namespaces:
${[...h.bridged.map(([n]) => n), t].map((n) => `  - name: ${n}`).join('\n')}
seg6: { tunsrc: "fd00:1::${h.me}" }
links:
  - { name: vx100, type: vxlan, master: br100, mtu: 1450, vxlan: { vni: 100, local: 192.0.2.${h.me}, remote: 192.0.2.${h.peer}, dev: ul0 } }
${h.bridged.map(([n]) => `  - { name: v-${n}, type: veth, master: br100, mtu: 1450, peer: { name: eth0, namespace: ${n}, mtu: 1450 } }`).join('\n')}
  # The SRv6 route's MTU (1436) on both ends: the kernel never checks forwarded packets against it.
  - { name: v-${t}, type: veth, mtu: 1436, peer: { name: eth0, namespace: ${t}, mtu: 1436 } }
addresses:
  - { address: 192.0.2.${h.me}/24, dev: ul0 }
  - { address: "fd00:1::${h.me}/64", dev: ul0 }
${h.bridged.map(([n, a]) => `  - { address: 10.100.0.${a}/24, dev: eth0, namespace: ${n} }`).join('\n')}
  - { address: 10.20.${h.net}.1/24, dev: v-${t} }
  - { address: 10.20.${h.net}.2/24, dev: eth0, namespace: ${t} }
  - { address: "2001:db8:${h.net}::1/64", dev: v-${t} }
  - { address: "2001:db8:${h.net}::2/64", dev: eth0, namespace: ${t} }
routes:
  - { to: default, via: 10.20.${h.net}.1, namespace: ${t} }
  - { to: default6, via: "2001:db8:${h.net}::1", namespace: ${t} }
  - { to: "fc00:${peerSids}::/48", via: "fd00:1::${h.peer}", dev: ul0 }
  # To the other host's SRv6 tenant, in table 100 (chosen by the rules below)
  - { to: 10.20.${3 - h.net}.0/24, table: 100, dev: ul0, encap: { type: seg6, mode: encap, segments: [ "fc00:${peerSids}::d4" ] } }
  - { to: "2001:db8:${3 - h.net}::/64", table: 100, dev: ul0, encap: { type: seg6, mode: encap, segments: [ "fc00:${peerSids}::d6" ] } }
  # The SIDs this host terminates
  - { to: "fc00:${mySids}::d4/128", dev: v-${t}, encap: { type: seg6local, action: End.DX4, nh4: 10.20.${h.net}.2 } }
  - { to: "fc00:${mySids}::d6/128", dev: v-${t}, encap: { type: seg6local, action: End.DT6, table: 254 } }
${h.extraRoute ?? ''}rules:
  - { priority: 100, iif: v-${t}, table: 100, family: 4 }
  - { priority: 100, iif: v-${t}, table: 100, family: 6 }
`;
}

describe('two hosts from one config repository: overlay and SRv6 traffic (real kernel)', () => {
  const cfg = fs.mkdtempSync(path.join(os.tmpdir(), 'voltron-twohost-'));
  fs.mkdirSync(path.join(cfg, 'hosts'));
  const write = (f: string, text: string) => fs.writeFileSync(path.join(cfg, f), text);
  write('base.yaml', BASE);
  write('hosts/hosta.yaml', overlay({ me: 1, peer: 2, bridged: [['t1', 11], ['t5', 15]], srv6: 't2', net: 1 }));
  write('hosts/hostb.yaml', overlay({ me: 2, peer: 1, bridged: [['t3', 13]], srv6: 't4', net: 2 }));
  const A = new Sandbox('tha', cfg);
  const B = new Sandbox('thb', cfg);
  after(() => {
    A.cleanup();
    B.cleanup();
    fs.rmSync(cfg, { recursive: true, force: true });
  });
  const hosts = [
    { sb: A, host: 'hosta' },
    { sb: B, host: 'hostb' },
  ];
  const ok = (r: { code: number; stdout: string; stderr: string }, what: string) => assert.equal(r.code, 0, `${what}\n${r.stdout}\n${r.stderr}`);
  const ping = (sb: Sandbox, ns: string, to: string, extra: string[] = []) => {
    const r = spawnSync('timeout', ['5', 'ip', 'netns', 'exec', sb.ns(ns), 'ping', '-c', '3', '-i', '0.2', '-W', '1', ...extra, to], { encoding: 'utf8' });
    assert.equal(r.status, 0, `ping ${sb.ns(ns)} -> ${to} ${extra.join(' ')}\n${r.stdout}${r.stderr}`);
  };
  const rxPackets = (sb: Sandbox, dev: string): number => sb.ipj('', ['-s', 'link', 'show', dev])[0].stats64.rx.packets;
  const converged = () => {
    for (const { sb, host } of hosts) {
      const r = sb.run(['plan', '--detailed-exitcode', '--host', host]);
      assert.equal(r.code, 0, `${host} replans empty\n${r.stdout}${r.stderr}`);
    }
  };
  /** Tenants reach each other: bridged ones over the VXLAN, the SRv6 ones both ways, full size. */
  const traffic = (bridged: [Sandbox, string, string][]) => {
    for (const [sb, ns, to] of bridged) {
      const before = rxPackets(B, 'vx100') + rxPackets(A, 'vx100');
      ping(sb, ns, to, ['-M', 'do', '-s', '1422']);
      assert.ok(rxPackets(B, 'vx100') + rxPackets(A, 'vx100') >= before + 6, `${ns} -> ${to} crossed the VTEPs`);
    }
    // 1436-byte packets: the largest the SRv6 path carries (1500 - 40 - 8 - 16).
    ping(A, 't2', '10.20.2.2', ['-M', 'do', '-s', '1408']);
    ping(A, 't2', '2001:db8:2::2', ['-M', 'do', '-s', '1388']);
    ping(B, 't4', '10.20.1.2', ['-M', 'do', '-s', '1408']);
    ping(B, 't4', '2001:db8:1::2', ['-M', 'do', '-s', '1388']);
  };

  it('applies both hosts from one directory over a hand-made underlay; tenants reach each other', () => {
    // The underlay NIC exists before Voltron, as on a real host; the roots are adopted.
    execIp(['netns', 'add', A.ns('')]);
    execIp(['netns', 'add', B.ns('')]);
    execIp(['-n', A.ns(''), 'link', 'add', 'ul0', 'type', 'veth', 'peer', 'name', 'ul0', 'netns', B.ns('')]);
    for (const sb of [A, B]) execIp(['-n', sb.ns(''), 'link', 'set', 'ul0', 'up']);
    for (const { sb, host } of hosts) ok(sb.run(['apply', '--auto-approve', '--host', host]), `apply ${host}`);
    converged();
    // Where the other host's SRv6 tenant is reachable at all: only table 100, through seg6.
    const via = A.ipj('', ['route', 'show', 'table', 'all', 'match', '10.20.2.2']) as { table?: string; encap?: string }[];
    assert.deepEqual(via.map((r) => [r.table, r.encap]), [['100', 'seg6']]);
    assert.match(A.ip('', ['-d', 'link', 'show', 'vx100']), /vxlan id 100 remote 192\.0\.2\.2 local 192\.0\.2\.1 dev ul0/);
    assert.match(spawnSync('bridge', ['-n', B.ns(''), 'vni', 'show', 'dev', 'vx-ext'], { encoding: 'utf8' }).stdout, /200[\s\S]*300-302/);
    ping(A, '', '192.0.2.2');
    traffic([[A, 't1', '10.100.0.13'], [B, 't3', '10.100.0.15']]);
  });

  it('a PR per host (a tenant moves to the other host, the VNI changes, a route is added): markdown plans, the SRv6 path never drops', async () => {
    write('base.yaml', BASE.replace('vni: 100,', 'vni: 150,'));
    write('hosts/hosta.yaml', overlay({ me: 1, peer: 2, bridged: [['t5', 15]], srv6: 't2', net: 1 }).replace('vni: 100,', 'vni: 150,'));
    write(
      'hosts/hostb.yaml',
      overlay({ me: 2, peer: 1, bridged: [['t3', 13], ['t1', 11]], srv6: 't4', net: 2, extraRoute: '  - { to: 10.99.0.0/16, type: blackhole, table: 100 }\n' }).replace('vni: 100,', 'vni: 150,'),
    );
    const pa = A.run(['plan', '-o', 'markdown', '--host', 'hosta']);
    ok(pa, 'plan hosta');
    assert.match(pa.stdout, /^### Voltron plan for host `hosta`\n/);
    assert.match(pa.stdout, /^- namespace t1 {2}\[disruptive\]/m);
    assert.match(pa.stdout, /^-\/\+ link \(root\)\/vx100 \(vxlan\) {2}\[disruptive\] {2}# vxlan\.vni is immutable \(100 → 150\)/m);
    const pb = B.run(['plan', '-o', 'markdown', '--host', 'hostb']);
    ok(pb, 'plan hostb');
    assert.match(pb.stdout, /^### Voltron plan for host `hostb`\n/);
    for (const line of [/^\+ namespace t1 /m, /^\+ link \(root\)\/v-t1 \(veth\)/m, /^\+ route \(root\) 10\.99\.0\.0\/16 table 100 /m, /^-\/\+ link \(root\)\/vx100 /m]) assert.match(pb.stdout, line);
    // Neither plan touches the SRv6 tenants, their routes or rules.
    for (const p of [pa.stdout, pb.stdout]) assert.doesNotMatch(p, /v-t2|v-t4|fc00:|rule /);

    // Pings on the SRv6 path while both hosts apply (bounded: 9 s at most).
    const bg = spawn('timeout', ['9', 'ip', 'netns', 'exec', A.ns('t2'), 'ping', '-c', '100', '-i', '0.05', '-W', '1', '10.20.2.2'], { stdio: ['ignore', 'pipe', 'ignore'] });
    let out = '';
    bg.stdout!.on('data', (d) => (out += d));
    const done = new Promise<void>((r) => bg.once('exit', () => r()));
    try {
      for (const { sb, host } of hosts) ok(sb.run(['apply', '--auto-approve', '--host', host]), `apply ${host}`);
    } finally {
      await done;
    }
    assert.match(out, /100 packets transmitted, 100 received/, out);
    converged();
    assert.deepEqual(A.namespaces(), [A.ns(''), A.ns('t2'), A.ns('t5')].sort());
    assert.match(B.ip('', ['-d', 'link', 'show', 'vx100']), /vxlan id 150 /);
    traffic([[A, 't5', '10.100.0.11'], [A, 't5', '10.100.0.13']]);
  });

  it('destroy removes both hosts, leaves the hand-made underlay, and writes the sysctls back', () => {
    for (const { sb } of hosts) ok(sb.run(['destroy', '--auto-approve']), 'destroy');
    for (const sb of [A, B]) {
      assert.deepEqual(sb.namespaces(), [sb.ns('')], 'only the adopted root is left');
      assert.deepEqual((sb.ipj('', ['link', 'show']) as { ifname: string }[]).map((l) => l.ifname).sort(), ['lo', 'ul0']);
      assert.deepEqual((sb.ipj('', ['addr', 'show', 'dev', 'ul0', 'scope', 'global']) as { addr_info?: unknown[] }[]).flatMap((l) => l.addr_info ?? []), []);
      assert.equal(sb.exec('', ['sysctl', '-n', 'net.ipv4.ip_forward']).stdout.trim(), '0');
      assert.equal(sb.ip('', ['sr', 'tunsrc', 'show']).trim(), 'tunsrc addr ::');
      assert.equal(sb.ipj('', ['rule', 'show', 'priority', '100']).length, 0);
    }
  });
});

function execIp(args: string[]): void {
  const r = spawnSync('ip', args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`ip ${args.join(' ')}: ${r.stderr}`);
}
