// Adopting a hand-built host: `show` on state made with `ip`, saved as the config, must validate,
// plan empty and apply with zero kernel writes, leaving every object as it was (`ip -d -j` is the
// oracle). What the config cannot spell (goto/uidrange/suppress rules, onlink or locked-metric
// routes) is listed under `x-unmanaged-*` instead of being printed as a different object.
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import YAML from 'yaml';
import { Sandbox, editableSandbox } from '../support/sandbox';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The sandbox's state as `ip -d -j` sees it, without counters, timers, STP port states and route lifetimes. */
function snapshot(sb: Sandbox, logical: string): string {
  const links = sb.ipj(logical, ['-d', 'link', 'show']).map((l: any) => {
    const { stats64: _s, operstate: _o, flags: _f, ...rest } = l;
    const data = { ...(rest.linkinfo?.info_data ?? {}) };
    for (const k of Object.keys(data)) if (/timer$/.test(k)) delete data[k];
    const slave = { ...(rest.linkinfo?.info_slave_data ?? {}) };
    for (const k of Object.keys(slave)) if (/timer$|^state$/.test(k)) delete slave[k];
    return { ...rest, linkinfo: rest.linkinfo && { ...rest.linkinfo, info_data: data, info_slave_data: slave } };
  });
  const addrs = sb.ipj(logical, ['addr', 'show']).map((l: any) => ({ ifname: l.ifname, addrs: l.addr_info }));
  // An expiring route's remaining lifetime counts down.
  const routes = [...sb.ipj(logical, ['-d', 'route', 'show', 'table', 'all']), ...sb.ipj(logical, ['-6', '-d', 'route', 'show', 'table', 'all'])].map(({ expires: _e, ...r }: any) => r);
  const rules = [...sb.ipj(logical, ['rule', 'show']), ...sb.ipj(logical, ['-6', 'rule', 'show'])];
  return JSON.stringify({ links, addrs, routes, rules }, null, 1);
}

describe('adopting hand-made state: show → config → empty plan, zero writes', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'voltron-adopt-'));
  const cfg = path.join(dir, 'net.yaml');
  fs.writeFileSync(cfg, '{}\n');
  const sb = new Sandbox('adopt', dir);
  after(() => {
    sb.cleanup();
    fs.rmSync(dir, { recursive: true, force: true });
  });
  const sh = (ns: string, ...args: string[]) => execFileSync('ip', ['-n', sb.ns(ns), ...args]);

  it('builds the state with ip, and show prints what it cannot represent apart', () => {
    for (const ns of ['', 'a']) execFileSync('ip', ['netns', 'add', sb.ns(ns)]);
    sh('', 'link', 'add', 'up0', 'type', 'veth', 'peer', 'name', 'up0', 'netns', sb.ns('a'));
    sh('', 'link', 'set', 'up0', 'up');
    sh('a', 'link', 'set', 'up0', 'up');
    sh('', 'addr', 'add', '192.0.2.1/24', 'dev', 'up0');
    sh('a', 'addr', 'add', '192.0.2.2/24', 'dev', 'up0');
    sh('a', 'route', 'add', '10.10.0.0/16', 'via', '192.0.2.1', 'proto', 'static', 'metric', '10');
    sh('a', 'route', 'add', '10.14.0.0/16', 'via', '10.99.0.1', 'dev', 'up0', 'onlink');
    sh('a', 'route', 'add', '10.20.0.0/16', 'via', '192.0.2.1', 'mtu', 'lock', '1200');
    sh('a', 'route', 'add', '10.22.0.0/16', 'via', '192.0.2.1', 'advmss', '1000');
    sh('a', 'route', 'add', 'throw', '10.30.0.0/16', 'table', '100');
    // A link the config cannot declare (ifb) in a namespace, with an address, a route and a qdisc on it.
    sh('a', 'link', 'add', 'ifb0', 'up', 'type', 'ifb');
    sh('a', 'addr', 'add', '10.40.0.1/24', 'dev', 'ifb0');
    sh('a', 'route', 'add', '10.41.0.0/16', 'dev', 'ifb0');
    assert.equal(sb.exec('a', ['tc', 'qdisc', 'add', 'dev', 'ifb0', 'root', 'tbf', 'rate', '1mbit', 'burst', '10kb', 'latency', '10ms']).code, 0);
    // What a replace from the config would drop: a nexthop object, a gateway of another family, realms, an expiry.
    sh('a', 'nexthop', 'add', 'id', '10', 'via', '192.0.2.1', 'dev', 'up0');
    sh('a', 'route', 'add', '10.31.0.0/16', 'nhid', '10');
    sh('a', 'route', 'add', '10.32.0.0/16', 'via', 'inet6', 'fe80::1', 'dev', 'up0');
    sh('a', 'route', 'add', '10.33.0.0/16', 'via', '192.0.2.1', 'realm', '5');
    sh('a', '-6', 'route', 'add', '2001:db8:99::/48', 'dev', 'up0', 'expires', '3600');
    // A seg6 route as `ip` makes it, without an MTU: the config derives one for every seg6 route.
    sh('a', '-6', 'route', 'add', '2001:db8:98::/48', 'encap', 'seg6', 'mode', 'encap', 'segs', 'fc00::1,fc00::2', 'dev', 'up0');
    sh('a', '-6', 'route', 'add', '2001:db8:97::/48', 'encap', 'seg6', 'mode', 'encap', 'segs', 'fc00::1', 'dev', 'up0', 'mtu', '1400');
    sh('a', 'rule', 'add', 'priority', '100', 'fwmark', '0x10/0xf0', 'table', '100');
    sh('a', 'rule', 'add', 'priority', '130', 'goto', '150');
    sh('a', 'rule', 'add', 'priority', '140', 'table', 'main', 'suppress_prefixlength', '0');
    sh('a', 'rule', 'add', 'priority', '150', 'uidrange', '1000-2000', 'table', '100');
    sh('a', 'rule', 'add', 'priority', '160', 'not', 'from', '10.0.0.0/8', 'table', '100');
    // Two rules at one priority: the config declares one per priority, the other is listed apart.
    sh('a', 'rule', 'add', 'priority', '200', 'from', '10.50.0.0/16', 'table', '100');
    sh('a', 'rule', 'add', 'priority', '200', 'from', '10.51.0.0/16', 'table', '101');

    const s = sb.run(['show']);
    assert.equal(s.code, 0, s.stderr);
    fs.writeFileSync(cfg, s.stdout); // the next test's config, also when an assertion below fails
    const doc = YAML.parse(s.stdout);
    const rules = (doc.rules ?? []).map((r: any) => r.priority);
    assert.deepEqual(rules, [100, 200], 'only the rules the config can spell are rule entries, one per priority');
    const forms = (doc['x-unmanaged-rules'] ?? []).map((r: any) => `${r.priority} ${r.form}`);
    assert.deepEqual(forms, ['130 goto 150', '140 suppress_prefixlength 0', '150 uidrange 1000-2000', '160 not', '200 another at the same key (the config declares one per key)']);
    const routes = (doc.routes ?? []).map((r: any) => r.to);
    assert.deepEqual(routes, ['10.10.0.0/16', '2001:db8:97::/48']);
    const unmanaged = (doc['x-unmanaged-routes'] ?? []).map((r: any) => `${r.to} ${r.form}`);
    assert.deepEqual(unmanaged, [
      '10.30.0.0/16 throw',
      '10.14.0.0/16 onlink',
      '10.20.0.0/16 lock mtu',
      '10.22.0.0/16 advmss 1000',
      '10.31.0.0/16 nhid 10',
      '10.32.0.0/16 via inet6 fe80::1',
      '10.33.0.0/16 realm 5',
      '10.41.0.0/16 on ifb0, a link the config cannot declare',
      '2001:db8:98::/48 seg6 encap segs fc00::1,fc00::2 without mtu (declared, it gets mtu 1420 unless it declares one)',
      '2001:db8:99::/48 expires',
    ]);
    assert.deepEqual((doc['x-unmanaged-addresses'] ?? []).map((r: any) => `${r.address} ${r.form}`), ['10.40.0.1/24 on ifb0, a link the config cannot declare']);
    assert.deepEqual((doc['x-unmanaged-qdiscs'] ?? []).map((r: any) => `${r.dev} ${r.kind} ${r.form}`), ['ifb0 tbf on ifb0, a link the config cannot declare']);
  });

  it('the shown config validates, plans empty, applies with zero writes and changes nothing', async () => {
    const v = sb.run(['validate']);
    assert.equal(v.code, 0, v.stdout + v.stderr);
    const p = sb.run(['plan', '--detailed-exitcode']);
    assert.equal(p.code, 0, p.stdout + p.stderr);
    const mons = ['', 'a'].map((ns) => sb.monitor(ns));
    await Promise.all(mons.map((m) => m.quiet())); // IPv6 link-local DAD done
    const before = ['', 'a'].map((ns) => snapshot(sb, ns));
    const a = sb.run(['apply', '--auto-approve']);
    assert.equal(a.code, 0, a.stdout + a.stderr);
    const events = (await Promise.all(mons.map((m) => m.stop()))).flat();
    assert.deepEqual(events, [], 'a no-op apply of an adopted host writes nothing');
    assert.deepEqual(['', 'a'].map((ns) => snapshot(sb, ns)), before);
  });

  it('the seg6 route without mtu, declared, is adopted with the derived mtu written in place', () => {
    const shown = fs.readFileSync(cfg, 'utf8');
    const doc = YAML.parse(shown);
    doc.routes.push({ to: '2001:db8:98::/48', dev: 'up0', encap: { type: 'seg6', mode: 'encap', segments: ['fc00::1', 'fc00::2'] }, namespace: 'a' });
    fs.writeFileSync(cfg, YAML.stringify(doc));
    const p = sb.run(['plan', '-o', 'json']);
    assert.equal(p.code, 0, p.stdout + p.stderr);
    const changes = JSON.parse(p.stdout).changes.map((c: any) => `${c.action} ${c.key} ${c.fields.map((f: any) => f.field).join(',')}`);
    assert.deepEqual(changes, ['update route:a/ipv6/t254/2001:db8:98::/48/m1024 mtu']);
    fs.writeFileSync(cfg, shown);
  });

  it('a route declared at the key of a locked-mtu route is refused, not rewritten without the lock', () => {
    const doc = YAML.parse(fs.readFileSync(cfg, 'utf8'));
    doc.routes.push({ to: '10.20.0.0/16', via: '192.0.2.1', dev: 'up0', mtu: 1300, namespace: 'a' });
    fs.writeFileSync(cfg, YAML.stringify(doc));
    const p = sb.run(['plan']);
    assert.equal(p.code, 1, p.stdout + p.stderr);
    assert.match(p.stderr, /10\.20\.0\.0\/16: a foreign route \(lock mtu via 192\.0\.2\.1 dev up0 proto boot\) holds its destination/);
    // iproute2's JSON leaves the lock out: its text names it.
    assert.match(sb.ip('a', ['route', 'show', '10.20.0.0/16']), /mtu lock 1200/, 'untouched');
  });

  it('a route declared at the key of a throw route is refused by plan, not by the kernel in the apply', () => {
    const doc = YAML.parse(fs.readFileSync(cfg, 'utf8'));
    doc.routes = doc.routes.filter((r: any) => r.to !== '10.20.0.0/16');
    doc.routes.push({ to: '10.30.0.0/16', via: '192.0.2.1', dev: 'up0', table: 100, namespace: 'a' });
    fs.writeFileSync(cfg, YAML.stringify(doc));
    const p = sb.run(['plan']);
    assert.equal(p.code, 1, p.stdout + p.stderr);
    assert.match(p.stderr, /10\.30\.0\.0\/16 table 100: a foreign route \(throw proto boot\) holds its destination.*route del 10\.30\.0\.0\/16 table 100 metric 0 proto boot/);
    assert.match(sb.ip('a', ['route', 'show', 'table', '100']), /throw 10\.30\.0\.0\/16/, 'untouched');
  });

  it('an STP bridge in a topology change (ageing time reported as 2 × forward delay) plans empty', async () => {
    fs.writeFileSync(
      cfg,
      [
        'links:',
        '  - { name: br0, type: bridge, bridge: { stp: true, forward_delay: 200, ageing_time: 12000 } }',
        '  - { name: p0, type: veth, master: br0, peer: { name: p0, namespace: a } }',
        'namespaces: [ { name: a } ]',
        '',
      ].join('\n'),
    );
    const a = sb.run(['apply', '--auto-approve']);
    assert.equal(a.code, 0, a.stdout + a.stderr);
    // The port reaches forwarding after 2 × forward_delay; the bridge then flags a topology change.
    let data: any;
    for (let i = 0; i < 40; i++) {
      data = sb.ipj('', ['-d', 'link', 'show', 'br0'])[0].linkinfo.info_data;
      if (data.topology_change === 1) break;
      await sleep(500);
    }
    assert.equal(data.topology_change, 1, 'the bridge never entered a topology change');
    assert.equal(data.ageing_time, 400, 'the kernel reports 2 × forward_delay meanwhile');
    const p = sb.run(['plan', '--detailed-exitcode']);
    assert.equal(p.code, 0, p.stdout + p.stderr);
  });
});

describe('editing an adopted config: one field changes, in place, and the apply converges', () => {
  const { sb, file } = editableSandbox('adoptedit', '{}\n');
  const sh = (ns: string, ...args: string[]) => execFileSync('ip', ['-n', sb.ns(ns), ...args]);
  const mac = (dev: string): string => sb.ipj('', ['link', 'show', 'dev', dev])[0].address;

  it('a port joins a bridge whose MAC the kernel chose: the bridge keeps the MAC show printed', () => {
    execFileSync('ip', ['netns', 'add', sb.ns('')]);
    sh('', 'link', 'add', 'br0', 'type', 'bridge');
    sh('', 'link', 'set', 'br0', 'up');
    const s = sb.run(['show']);
    assert.equal(s.code, 0, s.stderr);
    const doc = YAML.parse(s.stdout);
    const before = mac('br0');
    assert.equal(doc.links.find((l: any) => l.name === 'br0').mac, before);
    // A bridge whose MAC nobody set takes its ports' lowest MAC when one joins.
    doc.links.push({ name: 'p0', type: 'veth', mac: '02:00:00:00:00:01', master: 'br0', peer: { name: 'p1' } });
    fs.writeFileSync(file, YAML.stringify(doc));
    const a = sb.run(['apply', '--auto-approve']);
    assert.equal(a.code, 0, a.stdout + a.stderr);
    assert.equal(mac('br0'), before, 'the declared MAC stays');
    const p = sb.run(['plan', '--detailed-exitcode']);
    assert.equal(p.code, 0, p.stdout + p.stderr);
  });

  it('a rate change keeps what tc set by hand on an adopted htb class: burst, cburst, quantum, prio', () => {
    const tc = (...args: string[]) => assert.equal(sb.exec('', ['tc', ...args]).code, 0, args.join(' '));
    tc('qdisc', 'add', 'dev', 'p1', 'root', 'handle', '1:', 'htb', 'r2q', '5');
    tc('class', 'add', 'dev', 'p1', 'parent', '1:', 'classid', '1:10', 'htb', 'rate', '10mbit', 'burst', '20k', 'cburst', '30k', 'prio', '3', 'quantum', '3000');
    tc('class', 'add', 'dev', 'p1', 'parent', '1:', 'classid', '1:20', 'htb', 'rate', '10mbit');
    const s = sb.run(['show']);
    assert.equal(s.code, 0, s.stderr);
    fs.writeFileSync(file, s.stdout);
    assert.equal(sb.run(['plan', '--detailed-exitcode']).code, 0, 'adopted as is');
    fs.writeFileSync(file, s.stdout.replace(/rate: 10mbit(?=\n\s*ceil)/g, 'rate: 5mbit'));
    const a = sb.run(['apply', '--auto-approve']);
    assert.equal(a.code, 0, a.stdout + a.stderr);
    const classes = sb.exec('', ['tc', '-d', 'class', 'show', 'dev', 'p1']).stdout;
    const line = (id: string) => classes.split('\n').find((l) => l.includes(`htb ${id} `)) ?? '';
    // As set by hand, the buckets in bytes at the new rate.
    assert.match(line('1:10'), /prio 3 quantum 3000 rate 5Mbit ceil 10Mbit .* burst 20Kb\/1 .* cburst 30Kb\/1 /);
    // The kernel's default quantum for the new rate (rate / r2q), not the one it had.
    assert.match(line('1:20'), /prio 0 quantum 125000 rate 5Mbit ceil 10Mbit /);
    assert.equal(sb.run(['plan', '--detailed-exitcode']).code, 0);
  });
});
