// Real kernel: routes in the root namespace whose gateway or source the kernel refuses. The config
// cannot judge them (the root has host links and addresses it does not declare), so the plan does,
// against the live root: a refusal names the file, line and field, and nothing is written; the
// same route passes once a foreign ("host") address or route makes it valid, and the kernel takes it.
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Sandbox } from '../support/sandbox';

const BASE = [
  'links:',
  '  - { name: br0, type: bridge }',
  'addresses:',
  '  - { address: 10.70.0.1/24, dev: br0 }',
  'routes:',
];

describe('root routes the kernel would refuse are refused at plan time', () => {
  const dirs: string[] = [];
  const sandboxes: Sandbox[] = [];
  const make = (tag: string, routes: readonly string[]): Sandbox => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'voltron-rr-'));
    fs.writeFileSync(path.join(dir, 'network.yaml'), [...BASE, ...routes, ''].join('\n'));
    dirs.push(dir);
    const sb = new Sandbox(tag, dir);
    sandboxes.push(sb);
    // The sandbox's root plays the host: it exists, with an uplink Voltron does not declare.
    execFileSync('ip', ['netns', 'add', sb.ns('')]);
    sb.ip('', ['link', 'set', 'lo', 'up']);
    sb.ip('', ['link', 'add', 'eth0', 'type', 'veth', 'peer', 'name', 'eth0p']);
    sb.exec('', ['sysctl', '-qw', 'net.ipv6.conf.eth0.accept_dad=0']);
    for (const l of ['eth0', 'eth0p']) sb.ip('', ['link', 'set', l, 'up']);
    return sb;
  };
  after(() => {
    for (const sb of sandboxes) sb.cleanup();
    for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
  });
  const ours = (sb: Sandbox, family: '-4' | '-6') => sb.ipj('', [family, 'route', 'show', 'table', 'all']).filter((r: { protocol?: string }) => r.protocol === '194');
  const refused = (sb: Sandbox, expect: readonly RegExp[]) => {
    for (const cmd of [['plan'], ['apply', '--auto-approve']]) {
      const r = sb.run(cmd);
      assert.equal(r.code, 1, r.stdout + r.stderr);
      assert.match(r.stderr, /refusing to plan/);
      for (const e of expect) assert.match(r.stderr, e);
    }
    assert.equal(sb.exec('', ['ip', 'link', 'show', 'br0']).code, 1, 'nothing was created');
    assert.deepEqual([...ours(sb, '-4'), ...ours(sb, '-6')], [], 'no route was written');
  };
  const accepted = (sb: Sandbox, routes: number) => {
    const a = sb.run(['apply', '--auto-approve']);
    assert.equal(a.code, 0, a.stdout + a.stderr);
    assert.equal(ours(sb, '-4').length + ours(sb, '-6').length, routes, JSON.stringify(sb.ipj('', ['route', 'show', 'table', 'all'])));
  };

  it('a source that is no address and a gateway no prefix reaches are refused with file:line and field; a host address makes them valid', () => {
    const sb = make('src', [
      '  - { to: 203.0.113.0/24, dev: br0, src: 192.0.2.10 }',
      '  - { to: 198.51.100.0/24, via: 192.0.2.1 }',
      '  - { to: "2001:db8:99::/64", via: "2001:db8:1::1" }',
      '  - { to: "2001:db8:98::/64", dev: br0, src: "2001:db8:1::10" }',
    ]);
    refused(sb, [
      /network\.yaml:6:\d+: \/routes\/0\/src: route \(root\) 203\.0\.113\.0\/24: source '192\.0\.2\.10' is no address of the root namespace.*"Invalid prefsrc address"/,
      /network\.yaml:7:\d+: \/routes\/1\/via: route \(root\) 198\.51\.100\.0\/24: gateway '192\.0\.2\.1' is in the subnet of no address nor device route \(table main\).*"Nexthop has invalid gateway"/,
      /network\.yaml:8:\d+: \/routes\/2\/via: .*gateway '2001:db8:1::1'.*"No route to host"/,
      /network\.yaml:9:\d+: \/routes\/3\/src: .*source '2001:db8:1::10'.*"Invalid source address"/,
    ]);
    sb.ip('', ['addr', 'add', '192.0.2.10/24', 'dev', 'eth0']);
    sb.ip('', ['addr', 'add', '2001:db8:1::10/64', 'dev', 'eth0', 'nodad']);
    accepted(sb, 4);
  });

  it('a gateway is looked up in the route\'s table, then main and the tables rules look up: as the kernel does', () => {
    const sb = make('tbl', [
      // Reachable only in main, through the host's address: the kernel takes it.
      '  - { to: 198.51.100.0/24, via: 192.0.2.1, table: 100 }',
      // Reachable only through a host device route in table 200, which no rule looks up yet.
      '  - { to: 203.0.113.0/24, via: 10.20.0.1 }',
    ]);
    sb.ip('', ['addr', 'add', '192.0.2.10/24', 'dev', 'eth0']);
    sb.ip('', ['route', 'add', '10.20.0.0/24', 'dev', 'eth0', 'table', '200']);
    refused(sb, [/\/routes\/1\/via: route \(root\) 203\.0\.113\.0\/24: gateway '10\.20\.0\.1'/]);
    const p = sb.run(['plan']);
    assert.doesNotMatch(p.stderr, /198\.51\.100\.0\/24/, 'the table-100 route is not refused');
    sb.ip('', ['rule', 'add', 'pref', '100', 'lookup', '200']);
    accepted(sb, 2);
  });

  it('a source on a host link that is down is local (the kernel takes it); a gateway on a link the plan sets down is not reachable', () => {
    const sb = make('dwn', ['  - { to: 203.0.113.0/24, dev: eth0p, src: 192.0.2.10 }', '  - { to: 198.51.100.0/24, via: 10.70.0.2 }']);
    sb.ip('', ['link', 'set', 'eth0', 'down']);
    sb.ip('', ['addr', 'add', '192.0.2.10/24', 'dev', 'eth0']);
    accepted(sb, 2);
    // br0 going down takes its prefix: the gateway of a route the plan writes is no longer reachable.
    const file = path.join(sb.configDir, 'network.yaml');
    fs.writeFileSync(file, fs.readFileSync(file, 'utf8').replace('type: bridge }', 'type: bridge, state: down }').replace('via: 10.70.0.2 }', 'via: 10.70.0.2, metric: 7 }'));
    const r = sb.run(['apply', '--auto-approve']);
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.match(r.stderr, /\/routes\/1\/via: .*gateway '10\.70\.0\.2'/);
    assert.equal(sb.ipj('', ['link', 'show', 'br0'])[0].flags.includes('UP'), true, 'nothing was written');
  });

  it('a host point-to-point address reaches its peer (the kernel\'s route for it counts, not only the address\'s prefix)', () => {
    const sb = make('ptp', ['  - { to: 198.51.100.0/24, via: 10.0.0.2 }', '  - { to: "2001:db8:77::/64", via: "2001:db8:5::2" }']);
    sb.ip('', ['addr', 'add', '10.0.0.1', 'peer', '10.0.0.2/32', 'dev', 'eth0']);
    sb.ip('', ['addr', 'add', '2001:db8:5::1', 'peer', '2001:db8:5::2/128', 'dev', 'eth0', 'nodad']);
    accepted(sb, 2);
  });

  it('a gateway reachable only through a device route the plan drops (folded into its address delete) is refused', () => {
    const sb = make('fld', ['  - { to: 10.80.0.0/24, dev: br0 }', '  - { to: 198.51.101.0/24, via: 10.80.0.2 }']);
    accepted(sb, 2);
    // Without br0's last address the kernel flushes its routes: the plan folds the device route's delete into the address's.
    fs.writeFileSync(path.join(sb.configDir, 'network.yaml'), 'links:\n  - { name: br0, type: bridge }\nroutes:\n  - { to: 198.51.101.0/24, via: 10.80.0.2, metric: 5 }\n');
    const r = sb.run(['apply', '--auto-approve']);
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.match(r.stderr, /network\.yaml:4:\d+: \/routes\/0\/via: route \(root\) 198\.51\.101\.0\/24 metric 5: gateway '10\.80\.0\.2'/);
    assert.equal(ours(sb, '-4').length, 2, 'nothing was written');
    assert.equal(sb.ipj('', ['-4', 'addr', 'show', 'br0'])[0].addr_info.length, 1);
  });
  it('a gateway on a host link that is down is refused, a host address as gateway too (the kernel: "Network is down"); once the link is up the first is taken', () => {
    const sb = make('hdn', ['  - { to: 198.51.100.0/24, via: 192.0.2.1 }', '  - { to: 198.51.101.0/24, via: 192.0.2.10 }']);
    sb.ip('', ['addr', 'add', '192.0.2.10/24', 'dev', 'eth0']);
    sb.ip('', ['link', 'set', 'eth0', 'down']);
    refused(sb, [/\/routes\/0\/via: .*gateway '192\.0\.2\.1'/, /\/routes\/1\/via: .*gateway '192\.0\.2\.10'/]);
    sb.ip('', ['link', 'set', 'eth0', 'up']);
    // The kernel would take the second, but ignores a local gateway (a nexthop of scope host): refused still.
    refused(sb, [/\/routes\/1\/via: .*gateway '192\.0\.2\.10' is an address of the root namespace, live or declared.*ignore a local gateway/]);
    assert.doesNotMatch(sb.run(['plan']).stderr, /\/routes\/0\//);
    fs.writeFileSync(path.join(sb.configDir, 'network.yaml'), [...BASE, '  - { to: 198.51.100.0/24, via: 192.0.2.1 }', ''].join('\n'));
    accepted(sb, 1);
  });

  it('a host address as gateway of a route on another device is refused (the kernel looks it up on the route\'s dev)', () => {
    const sb = make('hgd', ['  - { to: 198.51.100.0/24, via: 192.0.2.10, dev: br0 }']);
    sb.ip('', ['addr', 'add', '192.0.2.10/24', 'dev', 'eth0']);
    refused(sb, [/\/routes\/0\/via: .*gateway '192\.0\.2\.10' .* on 'br0'/]);
  });

  it('a gateway on a link the plan creates without a state is reachable (a new link comes up)', () => {
    const sb = make('new', ['  - { to: 198.51.100.0/24, via: 10.70.0.2 }']);
    accepted(sb, 1);
  });

  it('a loopback source other than lo\'s own address is local (the kernel: 127/8 is a local route)', () => {
    const sb = make('lo5', ['  - { to: 203.0.113.0/24, dev: br0, src: 127.0.0.5 }']);
    accepted(sb, 1);
  });

  it('a gateway reachable only through the prefix route of an address the plan deletes is refused (the kernel drops it with the address)', () => {
    const sb = make('kad', ['  - { to: 198.51.100.0/24, via: 10.70.0.2 }']);
    accepted(sb, 1);
    fs.writeFileSync(path.join(sb.configDir, 'network.yaml'), 'links:\n  - { name: br0, type: bridge }\nroutes:\n  - { to: 198.51.100.0/24, via: 10.70.0.2, metric: 5 }\n');
    const r = sb.run(['apply', '--auto-approve']);
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.match(r.stderr, /network\.yaml:4:\d+: \/routes\/0\/via: route \(root\) 198\.51\.100\.0\/24 metric 5: gateway '10\.70\.0\.2'/);
    assert.equal(ours(sb, '-4').length, 1, 'nothing was written');
    assert.equal(sb.ipj('', ['-4', 'addr', 'show', 'br0'])[0].addr_info.length, 1);
  });

  it('a source that is a host address the kernel removes with the plan\'s changes (an IPv6 address on a link it sets down) is refused', () => {
    const sb = make('fgn', ['  - { to: 10.71.0.0/24, dev: br0 }']);
    accepted(sb, 1);
    sb.ip('', ['addr', 'add', '2001:db8:1::10/64', 'dev', 'br0', 'nodad']);
    const file = path.join(sb.configDir, 'network.yaml');
    fs.writeFileSync(file, [...BASE, '  - { to: "2001:db8:98::/64", dev: eth0, src: "2001:db8:1::10" }', ''].join('\n').replace('type: bridge }', 'type: bridge, state: down }'));
    const r = sb.run(['plan']);
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.match(r.stderr, /\/routes\/0\/src: .*source '2001:db8:1::10'/);
  });
  it('a gateway reachable only through a host address on a link the plan replaces is refused (the kernel drops it with the link)', () => {
    const sb = make('rpl', ['  - { to: 10.71.0.0/24, dev: vx0 }']);
    const file = path.join(sb.configDir, 'network.yaml');
    const text = fs.readFileSync(file, 'utf8').replace('type: bridge }', 'type: bridge }\n  - { name: vx0, type: vxlan, vxlan: { vni: 7 } }').replace('dev: br0 }', 'dev: br0 }\n  - { address: "2001:db8:2::1/64", dev: vx0 }');
    fs.writeFileSync(file, text);
    accepted(sb, 1);
    // Someone's address on Voltron's VXLAN: its prefix (and the kernel's route for it) goes with the VXLAN.
    sb.ip('', ['addr', 'add', '2001:db8:1::10/64', 'dev', 'vx0', 'nodad']);
    fs.writeFileSync(file, text.replace('vni: 7', 'vni: 8') + '  - { to: "2001:db8:99::/64", via: "2001:db8:1::1" }\n');
    const r = sb.run(['plan']);
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.match(r.stderr, /\/routes\/1\/via: .*gateway '2001:db8:1::1'/);
  });

  it('with an ignore list the routes are not judged: an ignored link may be what reaches the gateway', () => {
    const sb = make('ign', ['  - { to: 198.51.100.0/24, via: 192.0.2.1 }']);
    const file = path.join(sb.configDir, 'network.yaml');
    fs.writeFileSync(file, `ignore: [ "dhcp*" ]\n${fs.readFileSync(file, 'utf8')}`);
    const r = sb.run(['plan']);
    assert.equal(r.code, 0, r.stdout + r.stderr);
  });
  it('an IPv6 gateway that is a host address is refused (the kernel: "Gateway can not be a local address")', () => {
    const sb = make('l6g', ['  - { to: "2001:db8:99::/64", via: "2001:db8:1::10" }']);
    sb.ip('', ['addr', 'add', '2001:db8:1::10/64', 'dev', 'eth0', 'nodad']);
    refused(sb, [/network\.yaml:6:\d+: \/routes\/0\/via: .*gateway '2001:db8:1::10' is an address of the root namespace.*"Gateway can not be a local address"/]);
  });
});
