// Config layer: positions, all-at-once errors, merging, normalisation into the model.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import Ajv from 'ajv';
import { CONFIG_SCHEMA, formatConfigError, loadConfig, loadConfigFromStrings, type ConfigError } from '../../src/config';
import type { DesiredState, LinkRes, Resource, RouteRes } from '../../src/model/types';
import { sourcePos } from '../../src/config/positions';

type Files = { name: string; text: string }[];

function ok(files: Files | string, host = 'h1'): DesiredState {
  const list = typeof files === 'string' ? [{ name: 'a.yaml', text: files }] : files;
  const r = loadConfigFromStrings(list, host);
  if (!r.ok) assert.fail(`unexpected errors:\n${r.errors.map(formatConfigError).join('\n')}`);
  return r.desired;
}

function errs(files: Files | string, host = 'h1'): ConfigError[] {
  const list = typeof files === 'string' ? [{ name: 'a.yaml', text: files }] : files;
  const r = loadConfigFromStrings(list, host);
  assert.equal(r.ok, false, 'expected errors');
  return r.ok ? [] : r.errors;
}

function get<T extends Resource>(d: DesiredState, key: string): T {
  const r = d.resources.get(key);
  assert.ok(r, `missing ${key}; have: ${[...d.resources.keys()].join(', ')}`);
  return r as T;
}

const short = (e: ConfigError): string => `${e.file}:${e.line}:${e.column} ${e.path}`;

function repoRoot(): string {
  let d = __dirname;
  while (!fs.existsSync(path.join(d, 'package.json')) && d !== path.dirname(d)) d = path.dirname(d);
  return d;
}

test('the schema compiles under ajv strict mode', () => {
  const v = new Ajv({ strict: true, allErrors: true }).compile(CONFIG_SCHEMA);
  assert.equal(v({ links: [{ name: 'br0', type: 'bridge' }] }), true);
  assert.equal(v({ links: [{ name: 'br0', type: 'bridge', bogus: 1 }] }), false);
});

test('the example in docs/config.md loads and covers every resource kind', () => {
  const md = fs.readFileSync(path.join(repoRoot(), 'docs', 'config.md'), 'utf8');
  const yaml = /```yaml\n([\s\S]*?)```/.exec(md)![1]!;
  const d = ok(yaml);
  const kinds = new Set([...d.resources.values()].map((r) => r.kind));
  for (const k of ['namespace', 'link', 'address', 'route', 'rule', 'sysctl', 'tunsrc', 'qdisc', 'tclass', 'tfilter', 'bpf'])
    assert.ok(kinds.has(k as Resource['kind']), `no ${k} in the doc example`);
  assert.deepEqual(d.namespaces, ['', 'ovl-a', 'r0']);
  assert.deepEqual(d.ignore, ['docker*', 'cni0']);
});

test('positions: unknown key at the key, type error at the value, missing key at the object', () => {
  const e = errs(`links:
  - name: br0
    type: bridge
    mtuu: 1500
  - name: br1
    type: bridge
    mtu: "big"
  - mtu: 1500
    type: bridge
`);
  assert.deepEqual(e.map(short), ['a.yaml:4:5 /links/0/mtuu', 'a.yaml:7:10 /links/1/mtu', 'a.yaml:8:5 /links/2']);
  assert.match(e[0]!.message, /unknown key 'mtuu' \(did you mean 'mtu'\?\)/);
  assert.match(e[1]!.message, /must be an integer/);
  assert.match(e[2]!.message, /missing required key 'name'/);
});

test('positions: flow mappings and semantic errors point at the field', () => {
  const e = errs(`namespaces: [ { name: a } ]
links:
  - { name: br0, namespace: a, type: bridge }
addresses:
  - { address: 10.0.0.1/24, dev: br0, namespace: a }
  - { address: 10.0.0.300/24, dev: br0, namespace: a }
routes:
  - { to: 10.1.0.0/16, dev: nope,    namespace: a }
`);
  assert.deepEqual(e.map(short), ['a.yaml:6:16 /addresses/1/address', 'a.yaml:8:29 /routes/0/dev']);
  assert.equal(formatConfigError(e[1]!), "a.yaml:8:29: /routes/0/dev: route dev 'nope' is not a link declared in namespace a");
});

test('YAML syntax errors are positioned and the other files are still checked', () => {
  const e = errs([
    { name: 'a.yaml', text: 'links:\n  - name: x\n   type: bridge\n' },
    { name: 'b.yaml', text: 'links:\n  - { name: br0, type: bridge, mtu: 1 }\n' },
  ]);
  assert.equal(e.length, 2);
  assert.equal(e[0]!.file, 'a.yaml');
  assert.equal(e[0]!.line, 3);
  assert.match(e[0]!.message, /^YAML: /);
  assert.equal(short(e[1]!), 'b.yaml:2:37 /links/0/mtu');
});

test('all errors are reported at once, sorted by file, line and column', () => {
  const e = errs([
    {
      name: 'b.yaml',
      text: `links:
  - { name: averyveryverylongname, type: bridge }
  - { name: vx0, type: vxlan, vxlan: { vni: 0 } }
routes:
  - { to: 10.0.0.0/8, via: "fe80::1", dev: eth0 }
sysctls: { kernel.panic: 1 }
`,
    },
    { name: 'a.yaml', text: 'rules: [ { priority: 10, fwmask: 3, table: 5 } ]\nbogus: 1\n' },
  ]);
  assert.deepEqual(e.map(short), [
    'a.yaml:1:26 /rules/0/fwmask', // key-level conflicts point at the key
    'a.yaml:2:1 /bogus',
    'b.yaml:2:13 /links/0/name',
    'b.yaml:3:45 /links/1/vxlan/vni',
    'b.yaml:5:28 /routes/0/via',
    'b.yaml:6:12 /sysctls/kernel.panic',
  ]);
});

const BASE = `namespaces: [ { name: a } ]
links:
  - { name: br0, namespace: a, type: bridge, mtu: 1500, alias: base }
  - { name: br1, namespace: a, type: bridge }
addresses:
  - { address: 10.0.0.1/24, dev: br0, namespace: a }
sysctls: { net.ipv4.ip_forward: 1, net.ipv6.conf.all.forwarding: 1 }
srv6:
  pools:
    f: { paths: { p1: { segments: [ "fc00::1" ] } } }
`;
const OVERLAY = `links:
  - { name: br0, namespace: a, type: bridge, mtu: 9000 }
  - { name: br1, namespace: a, state: absent }
addresses:
  - { address: 10.0.0.1/24, dev: br0, namespace: a, state: absent }
  - { address: 10.0.0.2/24, dev: br0, namespace: a }
sysctls: { net.ipv4.ip_forward: 0 }
srv6:
  pools:
    f: { paths: { p2: { segments: [ "fc00::2" ] } } }
`;

test('overlay replaces entries wholesale, state: absent removes, maps merge by key', () => {
  const files = [
    { name: 'base.yaml', text: BASE },
    { name: 'hosts/h1.yaml', text: OVERLAY },
    { name: 'hosts/other.yaml', text: 'links: [ { name: zz, type: bridge } ]' },
  ];
  const d = ok(files, 'h1');
  const br0 = get<LinkRes>(d, 'link:a/br0');
  assert.equal(br0.mtu, 9000);
  assert.equal(br0.alias, undefined, 'wholesale replacement drops base-only fields');
  assert.deepEqual(br0.source, { file: 'hosts/h1.yaml', path: '/links/0' });
  assert.deepEqual(sourcePos(br0.source!), { line: 2, column: 5 });
  assert.equal(d.resources.has('link:a/br1'), false);
  assert.equal(d.resources.has('link:/zz'), false, 'other hosts are not merged');
  assert.equal(d.resources.has('address:a/br0/10.0.0.1/24'), false);
  assert.ok(d.resources.has('address:a/br0/10.0.0.2/24'));
  assert.equal(get<Resource & { value: string }>(d, 'sysctl:/net.ipv4.ip_forward').value, '0');
  assert.equal(get<Resource & { value: string }>(d, 'sysctl:/net.ipv6.conf.all.forwarding').value, '1');
  assert.deepEqual(d.pools.get('f')!.paths.map((p) => p.name), ['p1', 'p2']);

  const other = ok(files, 'other');
  assert.equal(get<LinkRes>(other, 'link:a/br0').mtu, 1500);
  assert.ok(other.resources.has('link:a/br1'));
  assert.ok(other.resources.has('link:/zz'));
});

test('base files may not redeclare each other; later base files may remove with state: absent', () => {
  const e = errs([
    { name: '10-a.yaml', text: 'links: [ { name: br0, type: bridge } ]\n' },
    { name: '20-b.yaml', text: 'links:\n  - { name: br0, type: bridge, mtu: 9000 }\n' },
  ]);
  assert.deepEqual(e.map(short), ['20-b.yaml:2:5 /links/0']);
  assert.match(e[0]!.message, /duplicate link '\(root\)\/br0' \(first declared at 10-a.yaml:1:10\)/);
  const d = ok([
    { name: '10-a.yaml', text: 'links: [ { name: br0, type: bridge }, { name: br1, type: bridge } ]\n' },
    { name: '20-b.yaml', text: 'links: [ { name: br0, state: absent } ]\n' },
  ]);
  assert.deepEqual([...d.resources.keys()], ['link:/br1']);
});

test('base files may not both declare an srv6 pool (the overlay may extend it); ignore lists of every file are concatenated', () => {
  const pool = (path: string) => `srv6:\n  pools:\n    fabric:\n      paths:\n        ${path}: { segments: [ "fc00:1::1" ] }\n`;
  const e = errs([
    { name: '10-a.yaml', text: pool('via-r1') },
    { name: '20-b.yaml', text: pool('via-r2') },
  ]);
  assert.deepEqual(e.map(short), ['20-b.yaml:4:7 /srv6/pools/fabric']);
  assert.match(e[0]!.message, /duplicate srv6 pool 'fabric' \(first declared at 10-a.yaml:4:7\)/);
  const d = ok([
    { name: '10-a.yaml', text: 'ignore: [ "docker*" ]\n' },
    { name: '20-b.yaml', text: 'ignore: [ cni0 ]\n' },
    { name: 'hosts/h1.yaml', text: 'ignore: [ "veth*" ]\n' },
  ]);
  assert.deepEqual(d.ignore, ['docker*', 'cni0', 'veth*']);
});

test('a root sysctl set to null removes the key an earlier file declared (the overlay could override it, never remove it)', () => {
  const base = { name: 'base.yaml', text: 'sysctls:\n  net.ipv4.ip_forward: 1\n  net.ipv6.conf.all.forwarding: 1\n' };
  const d = ok([base, { name: 'hosts/h1.yaml', text: 'sysctls:\n  net.ipv4.ip_forward: null\n  net.ipv6.conf.all.forwarding: ~\n  net.ipv4.conf.all.rp_filter:\n' }]);
  assert.deepEqual([...d.resources.keys()].filter((k) => k.startsWith('sysctl:')), []);
  // A later base file may remove it too (as with state: absent); null matching nothing is ignored.
  const later = ok([base, { name: 'z.yaml', text: 'sysctls: { net.ipv4.ip_forward: null }\n' }]);
  assert.deepEqual([...later.resources.keys()].filter((k) => k.startsWith('sysctl:')), ['sysctl:/net.ipv6.conf.all.forwarding']);
  // A namespace's sysctls belong to the namespace object, replaced wholesale: null stays an error.
  assert.deepEqual(errs('namespaces: [ { name: a, sysctls: { net.ipv4.ip_forward: null } } ]\n').map(short), ['a.yaml:1:58 /namespaces/0/sysctls/net.ipv4.ip_forward']);
});

test('a reference to an object removed by the overlay is reported in the base file', () => {
  const e = errs([
    { name: 'base.yaml', text: BASE.replace('dev: br0, namespace: a }', 'dev: br1, namespace: a }') },
    { name: 'hosts/h1.yaml', text: 'links: [ { name: br1, namespace: a, state: absent } ]\n' },
  ]);
  assert.deepEqual(e.map(short), ['base.yaml:6:34 /addresses/0/dev']);
});

test('an overlay may redeclare a veth from its other end (as show -n prints it): the same pair, replaced', () => {
  const base = { name: 'base.yaml', text: `namespaces: [ { name: t1 } ]
links:
  - { name: br0, type: bridge }
  - { name: v-t1, type: veth, master: br0, peer: { name: eth0, namespace: t1 } }
  - { name: br1, type: bridge }
` };
  const flipped = "links:\n  - { name: eth0, namespace: t1, type: veth, mtu: 1400, peer: { name: v-t1, namespace: '', master: br0 } }\n";
  const d = ok([base, { name: 'hosts/h1.yaml', text: flipped }], 'h1');
  const inner = get<LinkRes>(d, 'link:t1/eth0');
  assert.equal(inner.mtu, 1400);
  assert.deepEqual(inner.veth, { peer: { name: 'v-t1', namespace: '' }, primary: true });
  assert.equal(get<LinkRes>(d, 'link:/v-t1').master, 'br0');
  assert.deepEqual(inner.source, { file: 'hosts/h1.yaml', path: '/links/0' });
  assert.deepEqual([...d.resources.keys()].filter((k) => k.startsWith('link:')), ['link:/br0', 'link:t1/eth0', 'link:/v-t1', 'link:/br1'], 'in the base entry\'s place');
  // Base files still partition the config; a veth sharing only one end is another pair.
  assert.match(errs([base, { name: 'z.yaml', text: flipped }]).map((e) => e.message).join('\n'), /already declared/);
  const other = "links:\n  - { name: eth0, namespace: t1, type: veth, peer: { name: v-x, namespace: '' } }\n";
  assert.match(errs([base, { name: 'hosts/h1.yaml', text: other }], 'h1').map((e) => e.message).join('\n'), /link 't1\/eth0' is already declared at base.yaml:4:5 \(veth peer\)/);
});

test('veth normalises to two link resources', () => {
  const d = ok(`namespaces: [ { name: a } ]
links:
  - name: v0
    mtu: 1400
    type: veth
    peer: { name: eth0, namespace: a, mtu: 1300, mac: "02-00-00-00-00-AA", state: down, alias: inside }
  - { name: v1, type: veth, peer: { name: v1p } }
`);
  const v0 = get<LinkRes>(d, 'link:/v0');
  const p = get<LinkRes>(d, 'link:a/eth0');
  assert.deepEqual({ ...v0, source: undefined }, {
    kind: 'link', namespace: '', name: 'v0', type: 'veth', mtu: 1400, state: 'up',
    veth: { peer: { name: 'eth0', namespace: 'a' }, primary: true }, source: undefined,
  });
  assert.deepEqual({ ...p, source: undefined }, {
    kind: 'link', namespace: 'a', name: 'eth0', type: 'veth', mtu: 1300, mac: '02:00:00:00:00:aa', state: 'down', alias: 'inside',
    veth: { peer: { name: 'v0', namespace: '' }, primary: false }, source: undefined,
  });
  assert.equal(p.source!.path, '/links/0/peer');
  assert.equal(sourcePos(p.source!).line, 6);
  const v1p = get<LinkRes>(d, 'link:/v1p');
  assert.deepEqual(v1p.veth, { peer: { name: 'v1', namespace: '' }, primary: false });
  assert.equal('mtu' in v1p || 'mac' in v1p || 'alias' in v1p, false, 'undeclared attributes stay undefined');
});

test('srv6 pools: segments, derived MTU, explicit MTU, bsid routes', () => {
  const d = ok(`namespaces: [ { name: a } ]
links: [ { name: eth0, namespace: a, type: bridge }, { name: lo0, namespace: a, type: bridge } ]
srv6:
  pools:
    f:
      paths:
        one: { segments: [ "FC00:0::1" ] }
        three: { segments: [ "fc00::1", "fc00::2", "fc00::3" ] }
        fixed: { segments: [ "fc00::1" ], mtu: 1300 }
      bsids:
        three: { sid: "fc00:ff::3", namespace: a }
routes:
  - { to: "2001:db8:1::/64", dev: eth0, namespace: a, srv6: { pool: f, path: one } }
  - { to: "2001:db8:3::/64", dev: eth0, namespace: a, srv6: { pool: f, path: three, mode: inline } }
  - { to: "2001:db8:4::/64", dev: eth0, namespace: a, srv6: { pool: f, path: fixed } }
  - { to: "2001:db8:5::/64", dev: eth0, namespace: a, mtu: 1200, srv6: { pool: f, path: three } }
  - { to: 10.5.0.0/16, dev: eth0, namespace: a, encap: { type: seg6, segments: [ "fc00::1", "fc00::2" ] } }
`);
  const r = (to: string, fam = 6): RouteRes => get<RouteRes>(d, `route:a/ipv${fam}/t254/${to}/m${fam === 6 ? 1024 : 0}`);
  assert.deepEqual(r('2001:db8:1::/64').encap, { type: 'seg6', mode: 'encap', segments: ['fc00::1'] });
  assert.deepEqual(r('2001:db8:1::/64').poolRef, { pool: 'f', path: 'one' });
  assert.equal(r('2001:db8:1::/64').mtu, 1500 - 40 - 8 - 16);
  assert.equal(r('2001:db8:3::/64').mtu, 1500 - 40 - 8 - 48);
  assert.equal((r('2001:db8:3::/64').encap as { mode: string }).mode, 'inline');
  assert.equal(r('2001:db8:4::/64').mtu, 1300);
  assert.equal(r('2001:db8:5::/64').mtu, 1200);
  assert.equal(r('10.5.0.0/16', 4).mtu, 1500 - 40 - 8 - 32);
  assert.equal(r('10.5.0.0/16', 4).poolRef, undefined);
  const b = r('fc00:ff::3/128');
  assert.equal(b.dev, 'eth0', 'first link of the namespace');
  assert.deepEqual(b.encap, { type: 'seg6local', action: 'End.B6.Encaps', segments: ['fc00::1', 'fc00::2', 'fc00::3'] });
  assert.deepEqual(d.pools.get('f')!.bsids, { three: { sid: 'fc00:ff::3', namespace: 'a' } });
});

test('an overlay may add only bsids to a pool (pools merge path by path and bsid by bsid)', () => {
  const base = `namespaces: [ { name: a } ]
links: [ { name: eth0, namespace: a, type: bridge } ]
srv6:
  pools:
    f:
      paths:
        one: { segments: [ "fc00::1", "fc00::2" ] }
`;
  const overlay = `srv6:
  pools:
    f:
      bsids:
        one: { sid: "fc00:ff::1", namespace: a }
`;
  const d = ok([
    { name: 'base.yaml', text: base },
    { name: 'hosts/h1.yaml', text: overlay },
  ]);
  assert.deepEqual(d.pools.get('f')!.paths.map((p) => p.name), ['one']);
  assert.deepEqual(d.pools.get('f')!.bsids, { one: { sid: 'fc00:ff::1', namespace: 'a' } });
  assert.ok(d.resources.has('route:a/ipv6/t254/fc00:ff::1/128/m1024'));
});

test('IPv6 is canonicalised, so differently written duplicates are caught', () => {
  const d = ok(`namespaces: [ { name: a } ]
links: [ { name: br0, namespace: a, type: bridge } ]
addresses: [ { address: "2001:DB8:0:0::1/64", dev: br0, namespace: a } ]
routes:
  - { to: "2001:DB8:0:1:0:0:0:5/64", via: "FE80:0::1", dev: br0, namespace: a }
  - { to: 10.9.8.7/16, dev: br0, namespace: a }
`);
  assert.ok(d.resources.has('address:a/br0/2001:db8::1/64'));
  const r = get<RouteRes>(d, 'route:a/ipv6/t254/2001:db8:0:1::/64/m1024');
  assert.equal(r.via, 'fe80::1');
  assert.ok(d.resources.has('route:a/ipv4/t254/10.9.0.0/16/m0'));
  const e = errs(`namespaces: [ { name: a } ]
links: [ { name: br0, namespace: a, type: bridge } ]
routes:
  - { to: "2001:db8::/64", dev: br0, namespace: a }
  - { to: "2001:DB8:0::/64", dev: br0, namespace: a, metric: 1024 }
`);
  assert.deepEqual(e.map(short), ['a.yaml:5:5 /routes/1']);
});

test('vlan and vni ranges expand and sort', () => {
  const d = ok(`links:
  - name: br0
    type: bridge
    bridge: { vlan_filtering: true }
    vlans: [ { vid: "20-22", untagged: true }, { vid: 5, pvid: true } ]
  - { name: vx0, type: vxlan, vxlan: { external: true, vnifilter: true }, vnis: [ 300, "100-102", 7 ] }
`);
  assert.deepEqual(get<LinkRes>(d, 'link:/br0').vlans, [
    { vid: 5, pvid: true, untagged: false },
    { vid: 20, pvid: false, untagged: true },
    { vid: 21, pvid: false, untagged: true },
    { vid: 22, pvid: false, untagged: true },
  ]);
  assert.deepEqual(get<LinkRes>(d, 'link:/vx0').vnis, [[7, 7], [100, 102], [300, 300]]);
});

test('an external vxlan learns nothing unless declared, as iproute2 makes it (`ip link add ... external`)', () => {
  const d = ok(`links:
  - { name: vx0, type: vxlan, vxlan: { external: true } }
  - { name: vx1, type: vxlan, vxlan: { external: true, dstport: 4790, learning: true } }
`);
  assert.equal(get<LinkRes>(d, 'link:/vx0').vxlan?.learning, false);
  assert.equal(get<LinkRes>(d, 'link:/vx1').vxlan?.learning, true);
});

test('defaults: routes, rules, links', () => {
  const d = ok(`links:
  - { name: br0, type: bridge }
  - { name: vx0, type: vxlan, vxlan: { vni: 5 } }
  - { name: mv0, type: macvlan, macvlan: { parent: eth1 } }
routes:
  - { to: default, via: 192.0.2.1 }
  - { to: default, via: "fe80::1", dev: br0 }
  - { to: default6, dev: br0, table: default }
  - { to: 192.0.2.7, dev: br0, table: default, metric: 5 }
rules:
  - { priority: 10, table: main }
  - { priority: 11, table: 7, from: "2001:db8::/32" }
`);
  assert.deepEqual(get<LinkRes>(d, 'link:/br0').bridge, { vlanFiltering: false, stp: false });
  assert.equal(get<LinkRes>(d, 'link:/br0').state, 'up');
  assert.deepEqual(get<LinkRes>(d, 'link:/vx0').vxlan, { vni: 5, dstport: 4789, learning: true, external: false, vnifilter: false });
  assert.deepEqual(get<LinkRes>(d, 'link:/mv0').macvlan, { parent: 'eth1', mode: 'vepa' });
  const r4 = get<RouteRes>(d, 'route:/ipv4/t254/0.0.0.0/0/m0');
  assert.equal(r4.type, 'unicast');
  assert.equal(r4.family, 4);
  assert.ok(d.resources.has('route:/ipv6/t254/::/0/m1024'));
  assert.ok(d.resources.has('route:/ipv6/t253/::/0/m1024'));
  assert.ok(d.resources.has('route:/ipv4/t253/192.0.2.7/32/m5'));
  assert.deepEqual({ ...d.resources.get('rule:/ipv4/p10'), source: undefined }, {
    kind: 'rule', namespace: '', family: 4, priority: 10, action: 'lookup', table: 254, source: undefined,
  });
  assert.ok(d.resources.has('rule:/ipv6/p11'));
});

test('sysctls, tunsrc and namespaces', () => {
  const d = ok(`namespaces:
  - name: a
    sysctls: { net.ipv4.ip_forward: true, net.ipv4.tcp_rmem: "4096 87380 6291456" }
    seg6: { tunsrc: "FC00:0:0::9" }
sysctls: { net.core.somaxconn: 1024 }
seg6: { tunsrc: "fc00::1" }
`);
  const v = (k: string): string => (get(d, k) as Resource & { value: string }).value;
  assert.equal(v('sysctl:a/net.ipv4.ip_forward'), '1');
  assert.equal(v('sysctl:a/net.ipv4.tcp_rmem'), '4096 87380 6291456');
  assert.equal(v('sysctl:/net.core.somaxconn'), '1024');
  assert.deepEqual({ ...d.resources.get('tunsrc:a'), source: undefined }, { kind: 'tunsrc', namespace: 'a', address: 'fc00::9', source: undefined });
  assert.deepEqual({ ...d.resources.get('tunsrc:'), source: undefined }, { kind: 'tunsrc', namespace: '', address: 'fc00::1', source: undefined });
  assert.deepEqual(d.namespaces, ['', 'a']);
});

test('tc: qdiscs, classes and filters with parsed units', () => {
  const d = ok(`namespaces: [ { name: a } ]
links: [ { name: eth0, namespace: a, type: bridge } ]
qdiscs:
  - { namespace: a, dev: eth0, handle: "0001:", kind: htb, default: 1a }
  - { namespace: a, dev: eth0, parent: "1:1A", kind: tbf, rate: 1.5mbit, burst: 2kb, limit: 3000 }
  - { namespace: a, dev: eth0, kind: clsact }
classes:
  - { namespace: a, dev: eth0, classid: "1:1a", rate: 500kbit, ceil: 1gbit }
filters:
  - { namespace: a, dev: eth0, direction: ingress, priority: 3, program: "x.o:tc" }
`);
  const root = get<Resource & { handle: string; options: object }>(d, 'qdisc:a/eth0/root');
  assert.equal(root.handle, '1:');
  assert.deepEqual(root.options, { default: 0x1a });
  assert.deepEqual(get<Resource & { options: object }>(d, 'qdisc:a/eth0/1:1a').options, { rate: 187500, burst: 2048, limit: 3000 });
  assert.ok(d.resources.has('qdisc:a/eth0/clsact'));
  const c = get<Resource & { rate: number; ceil: number; parent: string }>(d, 'tclass:a/eth0/1:1a');
  assert.deepEqual([c.rate, c.ceil, c.parent], [62500, 125000000, '1:']);
  assert.ok(d.resources.has('tfilter:a/eth0/ingress/3'));
});

test('tc: a boolean option set to false is 0 (the kernel default may be on)', () => {
  const d = ok(`links: [ { name: eth9, type: bridge } ]
qdiscs:
  - { dev: eth9, kind: fq_codel, ecn: false }
`);
  assert.deepEqual(get<Resource & { options: object }>(d, 'qdisc:/eth9/root').options, { ecn: 0 });
});

test('IPv6 on a device with mtu 1280 (the IPv6 minimum) is accepted', () => {
  const d = ok(`links: [ { name: br0, type: bridge, mtu: 1280 } ]
addresses: [ { dev: br0, address: "2001:db8::1/64" } ]
`);
  assert.ok(d.resources.has('address:/br0/2001:db8::1/64'));
});

test('loadConfig reads a directory, applies the host overlay and resolves bpf objects', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vt-config-'));
  try {
    fs.mkdirSync(path.join(dir, 'hosts'));
    fs.writeFileSync(path.join(dir, '20-b.yml'), 'links: [ { name: br2, namespace: a, type: bridge } ]\n');
    fs.writeFileSync(path.join(dir, '10-a.yaml'), BASE);
    fs.writeFileSync(path.join(dir, 'notes.txt'), 'not yaml');
    fs.writeFileSync(path.join(dir, 'hosts', 'h1.yaml'), OVERLAY);
    fs.writeFileSync(
      path.join(dir, 'bpf.yaml'),
      'bpf: { programs: [ { name: p, object: obj/x.o, program: f, attach: { type: cgroup, cgroup: /vt, hook: egress } } ] }\n',
    );
    const r = loadConfig({ dir, host: 'h1' });
    if (!r.ok) assert.fail(r.errors.map(formatConfigError).join('\n'));
    assert.deepEqual(r.files, ['10-a.yaml', '20-b.yml', 'bpf.yaml', 'hosts/h1.yaml'].map((n) => path.join(dir, n)));
    assert.equal(get<LinkRes>(r.desired, 'link:a/br0').source!.file, path.join(dir, 'hosts/h1.yaml'));
    const p = get<Resource & { object: string; attach: object }>(r.desired, 'bpf:p');
    assert.equal(p.object, path.join(dir, 'obj/x.o'));
    assert.deepEqual(p.attach, { type: 'cgroup', cgroup: 'vt', hook: 'egress' });
    assert.ok(r.desired.resources.has('link:a/br2'));
    // Another host: no overlay.
    const r2 = loadConfig({ dir, host: 'nohost' });
    if (!r2.ok) assert.fail(r2.errors.map(formatConfigError).join('\n'));
    assert.equal(r2.files.length, 3);
    assert.equal(get<LinkRes>(r2.desired, 'link:a/br0').mtu, 1500);
    // A second base file redeclaring an object is an error, whatever the host.
    fs.writeFileSync(path.join(dir, '30-c.yaml'), 'links:\n  - { name: br2, namespace: a, type: bridge }\n');
    const r3 = loadConfig({ dir, host: 'h1' });
    assert.equal(r3.ok, false);
    if (!r3.ok) assert.deepEqual(r3.errors.map((e) => `${path.basename(e.file)}:${e.line}:${e.column} ${e.path}`), ['30-c.yaml:2:5 /links/0']);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('loadConfig refuses a missing or empty directory', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vt-config-'));
  try {
    const empty = loadConfig({ dir, host: 'h1' });
    assert.equal(empty.ok, false);
    if (!empty.ok) assert.match(empty.errors[0]!.message, /no \*\.yaml or \*\.yml files/);
    const missing = loadConfig({ dir: path.join(dir, 'nope'), host: 'h1' });
    assert.equal(missing.ok, false);
    if (!missing.ok) assert.match(missing.errors[0]!.message, /cannot read config directory/);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('a file that cannot be read is an error of that file, reported with the other files\' errors', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vt-config-'));
  try {
    fs.writeFileSync(path.join(dir, 'a.yaml'), 'links:\n  - { name: br0, type: bridge, mtu: 1 }\n');
    fs.mkdirSync(path.join(dir, 'hosts', 'h1.yaml'), { recursive: true }); // EISDIR (as root, no EACCES)
    const r = loadConfig({ dir, host: 'h1' });
    assert.equal(r.ok, false);
    if (r.ok) return;
    const shown = r.errors.map((e) => formatConfigError({ ...e, file: path.relative(dir, e.file) }));
    assert.deepEqual(shown, ['a.yaml:2:37: /links/0/mtu: must be >= 68 (got 1)', 'hosts/h1.yaml:1:1: /: cannot read this file: EISDIR: illegal operation on a directory, read']);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('an empty file is an empty config', () => {
  const d = ok('');
  assert.equal(d.resources.size, 0);
  assert.deepEqual(d.namespaces, ['']);
});

test('top-level x- keys are ignored and can hold YAML anchors', () => {
  // Two namespaces: one namespace cannot hold two vxlans with the same VNI and port.
  const d = ok(`x-vxlan: &vx { vni: 10, dstport: 4790 }
namespaces: [ { name: b } ]
links:
  - { name: vx0, type: vxlan, vxlan: *vx }
  - { name: vx1, type: vxlan, namespace: b, vxlan: *vx }
`);
  assert.equal(get<LinkRes>(d, 'link:b/vx1').vxlan!.dstport, 4790);
  assert.equal(d.resources.size, 3);
});

test('YAML that fails only when building the value (alias bomb, deep nesting) is a positioned error', () => {
  // 10^7 values: aliases may repeat 10^6 (MAX_ALIASED_VALUES).
  const bomb = ['x-a: &a [1,1,1,1,1,1,1,1,1,1]', ...'bcdefg'.split('').map((c, i) => `x-${c}: &${c} [${Array(10).fill(`*${'abcdefg'[i]}`).join(',')}]`), 'links: *g'].join('\n');
  const deep = `links: ${'['.repeat(5000)}${']'.repeat(5000)}\n`;
  for (const text of [bomb, deep]) {
    const e = errs(text);
    assert.equal(e.length, 1, e.map(formatConfigError).join('\n'));
    assert.match(formatConfigError(e[0]!), /^a\.yaml:[0-9]+:[0-9]+: \/: YAML: /);
  }
});

test('formatted errors show control characters escaped (a raw CR would overwrite the line)', () => {
  const e = errs('links:\n  - { name: "a\\rb\\u0001", type: bridge, "mt\\ru": 1 }\n');
  const lines = e.map(formatConfigError);
  assert.ok(lines.every((l) => !/[\x00-\x1f]/.test(l)), lines.join('\n'));
  assert.ok(lines.some((l) => l.includes("interface name 'a\\rb\\x01'")), lines.join('\n'));
});

test('route resolution is left to the kernel where the config may not see the way: an ignore list; a loopback src is local', () => {
  const base = `namespaces:
  - name: n1
links:
  - { name: b0, namespace: n1, type: bridge }
addresses:
  - { namespace: n1, dev: b0, address: 10.5.0.1/24 }
routes:
  - { namespace: n1, to: 10.9.0.0/16, via: 192.168.1.1 }
  - { namespace: n1, to: 10.8.0.0/16, dev: b0, src: 127.0.0.1 }
`;
  // Without an ignore list the gateway is judged (and only it: 127.0.0.1 is on lo).
  assert.deepEqual(errs(base).map((e) => e.path), ['/routes/0/via']);
  // An ignored uplink (say, DHCP-run) may be what reaches it.
  ok(`${base}ignore:\n  - "eth*"\n`);
});

test('base files are taken in byte order of their UTF-8 names (not UTF-16 order)', () => {
  // U+FF5E is EF BD 9E in UTF-8, before F0 9F 98 80 (U+1F600); in UTF-16 it comes after (FF5E > D83D).
  const e = errs([
    { name: '\u{1F600}.yaml', text: 'links:\n  - { name: b0, type: bridge, mtu: 1 }\n' },
    { name: '\uFF5E.yaml', text: 'links:\n  - { name: b1, type: bridge, mtu: 1 }\n' },
  ]);
  assert.deepEqual(e.map((x) => x.file), ['\uFF5E.yaml', '\u{1F600}.yaml']);
});
