// Real kernel: ownership in a sandbox. Objects someone else put into a sandbox namespace are as
// foreign as on a host: never replaced; a destroy that deletes their namespace says they go too.
// A declared namespace named `root` cannot be sandboxed, nor the root namespace's neigh.default
// sysctls (the host's initial namespace alone has them); a bad --sandbox value is a usage error.
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { REPO, Sandbox } from '../support/sandbox';

function configDir(yaml: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'voltron-own-'));
  fs.writeFileSync(path.join(dir, 'network.yaml'), yaml);
  return dir;
}

describe('ownership in a sandbox', () => {
  const dirs: string[] = [];
  const sandboxes: Sandbox[] = [];
  const make = (tag: string, yaml: string): Sandbox => {
    const dir = configDir(yaml);
    dirs.push(dir);
    const sb = new Sandbox(tag, dir);
    sandboxes.push(sb);
    return sb;
  };
  after(() => {
    for (const sb of sandboxes) sb.cleanup();
    for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
  });

  it('never replaces a foreign object, sandbox or not (its veth peer would go with it)', () => {
    const sb = make('frp', 'links:\n  - { name: fa, type: bridge }\n');
    execFileSync('ip', ['netns', 'add', sb.ns('')]);
    sb.ip('', ['link', 'add', 'fa', 'type', 'veth', 'peer', 'name', 'fb']);
    const p = sb.run(['plan']);
    assert.equal(p.code, 1, p.stdout + p.stderr);
    assert.match(p.stderr, /link \(root\)\/fa \(bridge\): exists in the kernel but was not created by Voltron.*would destroy a foreign object/);
    const a = sb.run(['apply', '--auto-approve']);
    assert.equal(a.code, 1, a.stdout + a.stderr);
    assert.equal(sb.ipj('', ['-d', 'link', 'show', 'fa'])[0].linkinfo.info_kind, 'veth');
    assert.equal(sb.ipj('', ['link', 'show', 'fb']).length, 1);
  });

  it('a foreign link holding a declared veth peer end\'s name is refused, not deleted to free the name', () => {
    const sb = make('fvp', 'namespaces: [ { name: n1 } ]\nlinks:\n  - { name: va, type: veth, peer: { name: vb, namespace: n1 } }\n');
    execFileSync('ip', ['netns', 'add', sb.ns('')]);
    execFileSync('ip', ['netns', 'add', sb.ns('n1')]);
    sb.ip('n1', ['link', 'add', 'vb', 'type', 'bridge']);
    for (const cmd of [['plan'], ['apply', '--auto-approve']]) {
      const r = sb.run(cmd);
      assert.equal(r.code, 1, r.stdout + r.stderr);
      assert.match(r.stderr, /link n1\/vb \(bridge\): exists in the kernel but was not created by Voltron, and its name is taken.*deleting it would destroy a foreign object/);
    }
    assert.equal(sb.ipj('n1', ['-d', 'link', 'show', 'vb'])[0].linkinfo.info_kind, 'bridge', 'the foreign bridge is still there');
    assert.equal(sb.exec('', ['ip', 'link', 'show', 'va']).code, 1, 'nothing was created');
  });

  it('destroy lists the foreign objects the kernel removes with the namespaces it deletes', () => {
    const sb = make('frd', 'links:\n  - { name: br0, type: bridge }\naddresses:\n  - { address: 10.61.0.1/24, dev: br0 }\n');
    const a = sb.run(['apply', '--auto-approve']);
    assert.equal(a.code, 0, a.stdout + a.stderr);
    sb.ip('', ['link', 'add', 'fx', 'type', 'veth', 'peer', 'name', 'fy']);
    sb.ip('', ['route', 'add', 'blackhole', '10.62.0.0/16', 'proto', 'static']);
    const p = sb.run(['plan', '--detailed-exitcode']);
    assert.equal(p.code, 0, p.stdout + p.stderr);
    assert.match(p.stdout, /4 live objects not owned by Voltron left untouched/); // with the namespace's lo
    const d = sb.run(['destroy', '--auto-approve']);
    assert.equal(d.code, 0, d.stdout + d.stderr);
    assert.match(d.stdout, /Warning: 3 live objects not owned by Voltron will be removed by the kernel with the changes above:/);
    for (const what of ['link (root)/fx (veth)', 'link (root)/fy (veth)', '10.62.0.0/16']) assert.ok(d.stdout.includes(what), `${what} listed:\n${d.stdout}`);
    assert.doesNotMatch(d.stdout, /left untouched/);
    assert.deepEqual(sb.namespaces(), []);
  });

  it('a foreign veth end in a namespace the plan deletes names its peer in a namespace Voltron does not read, which goes too', () => {
    const sb = make('fvo', 'namespaces: [ { name: n1 } ]\n');
    const a = sb.run(['apply', '--auto-approve']);
    assert.equal(a.code, 0, a.stdout + a.stderr);
    execFileSync('ip', ['netns', 'add', sb.ns('other')]); // not declared: never read
    sb.ip('n1', ['link', 'add', 'xa', 'type', 'veth', 'peer', 'name', 'xo', 'netns', sb.ns('other')]);
    const d = sb.run(['destroy', '--auto-approve']);
    assert.equal(d.code, 0, d.stdout + d.stderr);
    assert.ok(d.stdout.includes('link n1/xa (veth) (with namespace n1; its veth peer, in a namespace Voltron does not read, goes too)'), d.stdout);
    assert.equal(sb.exec('other', ['ip', 'link', 'show', 'xo']).code, 1, 'the kernel deleted the peer');
  });

  it('a link the plan removes lists the foreign objects on it, also of kinds and families the config does not use', () => {
    const yaml = (peer: string) =>
      `namespaces: [ { name: n1 } ]\nlinks:\n  - { name: d0, type: veth, peer: { name: ${peer}, namespace: n1 } }\n  - { name: vx0, type: vxlan, vxlan: { vni: 5, local: 192.0.2.1 } }\n`;
    const sb = make('frl', yaml('e0'));
    const a = sb.run(['apply', '--auto-approve']);
    assert.equal(a.code, 0, a.stdout + a.stderr);
    // No address, route or IPv6 object is declared anywhere: the plan's read skips those kinds.
    sb.ip('n1', ['addr', 'add', '10.63.0.1/24', 'dev', 'e0']);
    sb.ip('n1', ['-6', 'route', 'add', '2001:db8:63::/48', 'dev', 'e0']);
    sb.ip('', ['route', 'add', '10.64.0.0/16', 'dev', 'vx0', 'table', '7']);
    fs.writeFileSync(path.join(sb.configDir, 'network.yaml'), yaml('e1').replace('vni: 5', 'vni: 6'));
    const p = sb.run(['plan', '-o', 'json']);
    assert.equal(p.code, 0, p.stdout + p.stderr);
    const removed: string[] = JSON.parse(p.stdout).foreign_removed;
    for (const what of ['address n1/e0 10.63.0.1/24', 'route n1 2001:db8:63::/48', 'route (root) 10.64.0.0/16 table 7']) {
      assert.ok(removed.some((x) => x.startsWith(what)), `${what} listed: ${JSON.stringify(removed)}`);
    }
  });

  it('a link the plan removes lists a foreign IPv4 multipath route with a nexthop over it (the kernel removes it whole), not an IPv6 one (it loses that nexthop)', () => {
    const link = (n: number) => `  - { name: b${n}, type: bridge }\n`;
    const addrs = (n: number) => `  - { address: 10.8${n}.0.1/24, dev: b${n} }\n  - { address: "2001:db8:8${n}::1/64", dev: b${n} }\n`;
    const yaml = (ns: number[]) => `links:\n${ns.map(link).join('')}addresses:\n${ns.map(addrs).join('')}`;
    const sb = make('fmp', yaml([0, 1]));
    const a = sb.run(['apply', '--auto-approve']);
    assert.equal(a.code, 0, a.stdout + a.stderr);
    sb.ip('', ['route', 'add', '10.89.0.0/16', 'proto', 'static', 'nexthop', 'via', '10.80.0.2', 'dev', 'b0', 'nexthop', 'via', '10.81.0.2', 'dev', 'b1']);
    sb.ip('', ['-6', 'route', 'add', '2001:db8:89::/48', 'proto', 'static', 'nexthop', 'via', '2001:db8:80::2', 'dev', 'b0', 'nexthop', 'via', '2001:db8:81::2', 'dev', 'b1']);
    fs.writeFileSync(path.join(sb.configDir, 'network.yaml'), yaml([0]));
    const p = sb.run(['plan', '-o', 'json']);
    assert.equal(p.code, 0, p.stdout + p.stderr);
    const removed: string[] = JSON.parse(p.stdout).foreign_removed;
    assert.ok(removed.some((x) => x.startsWith('route (root) 10.89.0.0/16 multipath') && x.endsWith('(with link (root)/b1 (bridge))')), JSON.stringify(removed));
    assert.ok(!removed.some((x) => x.includes('2001:db8:89::')), JSON.stringify(removed));
    const d = sb.run(['apply', '--auto-approve']);
    assert.equal(d.code, 0, d.stdout + d.stderr);
    // The oracle: what the plan named is what the kernel removed.
    assert.equal(sb.ipj('', ['route', 'show', '10.89.0.0/16']).length, 0);
    const v6 = sb.ipj('', ['-6', 'route', 'show', '2001:db8:89::/48']);
    assert.equal(v6.length, 1, JSON.stringify(v6));
  });

  it('a link the plan removes lists the foreign devices the kernel deletes with it: a macvtap on it, a macvlan and a VXLAN made on it and moved to another namespace', () => {
    const yaml = (up: boolean, mv: string) =>
      `namespaces: [ { name: n1 } ]\nlinks:\n${up ? '  - { name: up0, type: veth, peer: { name: up1 } }\n' : ''}  - { name: br0, type: bridge, namespace: n1 }\n${mv}`;
    const sb = make('fst', yaml(true, ''));
    const a = sb.run(['apply', '--auto-approve']);
    assert.equal(a.code, 0, a.stdout + a.stderr);
    // Someone else's devices on up1 (Voltron's): a macvtap, and a macvlan handed to n1 as a
    // container runtime does. The kernel reads the macvlan's parent as an index in the root.
    sb.ip('', ['link', 'add', 'mvt0', 'link', 'up1', 'type', 'macvtap']);
    sb.ip('', ['link', 'add', 'mvx', 'link', 'up1', 'type', 'macvlan', 'mode', 'bridge']);
    sb.ip('', ['link', 'set', 'mvx', 'netns', sb.ns('n1')]);
    sb.ip('', ['link', 'add', 'vxm', 'type', 'vxlan', 'id', '77', 'dev', 'up1', 'local', '10.0.0.1', 'dstport', '4789']);
    sb.ip('', ['link', 'set', 'vxm', 'netns', sb.ns('n1')]);
    // Not a macvlan the config can declare in n1 (its parent is no link there): show lists it apart...
    const s = sb.run(['show', '-n', 'n1', '-o', 'json']);
    assert.equal(s.code, 0, s.stdout + s.stderr);
    const doc = JSON.parse(s.stdout);
    assert.ok(!(doc.links ?? []).some((l: { name: string }) => l.name === 'mvx'), s.stdout);
    assert.deepEqual(doc['x-unmanaged-links'], [
      { name: 'mvx', kind: 'macvlan', form: 'parent up1 in namespace (root)', namespace: 'n1' },
      { name: 'vxm', kind: 'vxlan', form: 'made in namespace (root)', namespace: 'n1' },
    ]);
    // ... and a declared link of its name is not taken for it (the VXLAN's VNI lives in the root).
    const mv = '  - { name: mvx, type: macvlan, namespace: n1, state: down, macvlan: { parent: br0, mode: bridge } }\n';
    const vx = '  - { name: vxm, type: vxlan, namespace: n1, state: down, vxlan: { vni: 77, local: 10.0.0.1 } }\n';
    // A VXLAN's local must be an address of its namespace (validation refuses it otherwise).
    const local = 'addresses:\n  - { address: 10.0.0.1/32, dev: br0, namespace: n1 }\n';
    fs.writeFileSync(path.join(sb.configDir, 'network.yaml'), yaml(true, mv + vx + local));
    const d = sb.run(['plan']);
    assert.equal(d.code, 1, d.stdout + d.stderr);
    assert.match(d.stderr, /link n1\/mvx \(macvlan\): the macvlan there has what Voltron never writes \(parent up1 in namespace \(root\)\).*ip -n \S+ link del mvx/);
    assert.match(d.stderr, /link n1\/vxm \(vxlan\): the vxlan there has what Voltron never writes \(made in namespace \(root\)\).*ip -n \S+ link del vxm/);
    // Its VNI is taken where it was made, not where it is now.
    const vni77 = (name: string, ns: string) => `  - { name: ${name}, type: vxlan${ns}, vxlan: { vni: 77, local: 10.0.0.1 } }\n`;
    fs.writeFileSync(path.join(sb.configDir, 'network.yaml'), yaml(true, vni77('vxr', '') + vni77('vxn', ', namespace: n1') + local));
    const v = sb.run(['plan']);
    assert.equal(v.code, 1, v.stdout + v.stderr);
    assert.match(v.stderr, /link \(root\)\/vxr \(vxlan\): VNI 77 on dstport 4789 is taken in namespace \(root\) by link n1\/vxm \(vxlan\) \(made there, moved since\)/);
    assert.doesNotMatch(v.stderr, /vxn/);
    fs.writeFileSync(path.join(sb.configDir, 'network.yaml'), yaml(false, ''));
    const p = sb.run(['plan', '-o', 'json']);
    assert.equal(p.code, 0, p.stdout + p.stderr);
    const removed: string[] = JSON.parse(p.stdout).foreign_removed ?? [];
    assert.deepEqual(removed.sort(), [
      'link (root)/mvt0 (macvtap) (with link (root)/up0 (veth))',
      'link n1/mvx (macvlan) (with link (root)/up0 (veth))',
      'link n1/vxm (vxlan) (with link (root)/up0 (veth))',
    ]);
    const r = sb.run(['apply', '--auto-approve']);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    // The oracle: what the plan named is what the kernel removed.
    assert.equal(sb.exec('', ['ip', 'link', 'show', 'mvt0']).code, 1);
    assert.equal(sb.exec('n1', ['ip', 'link', 'show', 'mvx']).code, 1);
    assert.equal(sb.exec('n1', ['ip', 'link', 'show', 'vxm']).code, 1);
  });

  it('a VXLAN moved by hand to another namespace keeps its VNI where it was made: the failed create says so, and rolls back', () => {
    const sb = make('fmv', 'links:\n  - { name: vx0, type: vxlan, vxlan: { vni: 5, local: 192.0.2.1 } }\n  - { name: b0, type: bridge }\n');
    assert.equal(sb.run(['apply', '--auto-approve']).code, 0);
    execFileSync('ip', ['netns', 'add', sb.ns('elsewhere')]);
    sb.ip('', ['link', 'set', 'vx0', 'netns', sb.ns('elsewhere')]);
    const a = sb.run(['apply', '--auto-approve']);
    assert.equal(a.code, 1, a.stdout + a.stderr);
    assert.match(a.stderr, /create link vx0: EEXIST: A VXLAN device with the specified VNI already exists\nhint: .*moved to another .*ip -all netns exec ip -d link show type vxlan/);
    assert.match(a.stderr, /rolled back; nothing changed/);
    assert.equal(sb.ipj('elsewhere', ['link', 'show', 'vx0']).length, 1, 'the moved VXLAN is untouched');
  });

  it('a link the plan sets down, or below mtu 1280, lists the foreign routes and IPv6 addresses the kernel removes with it', () => {
    const yaml = (b0: string, b1: string) => `links:\n  - { name: b0, type: bridge${b0} }\n  - { name: b1, type: bridge${b1} }\n`;
    const sb = make('fdm', yaml('', ''));
    const a = sb.run(['apply', '--auto-approve']);
    assert.equal(a.code, 0, a.stdout + a.stderr);
    // Someone else's addresses and routes on the two bridges (the config declares none).
    sb.ip('', ['addr', 'add', '10.65.0.1/24', 'dev', 'b0']);
    sb.ip('', ['-6', 'addr', 'add', '2001:db8:65::1/64', 'dev', 'b0', 'nodad']);
    sb.ip('', ['route', 'add', '10.66.0.0/16', 'dev', 'b0', 'table', '9', 'proto', 'static']);
    sb.ip('', ['-6', 'route', 'add', '2001:db8:66::/48', 'dev', 'b0', 'proto', 'static']);
    sb.ip('', ['addr', 'add', '10.67.0.1/24', 'dev', 'b1']);
    sb.ip('', ['-6', 'addr', 'add', '2001:db8:67::1/64', 'dev', 'b1', 'nodad']);
    sb.ip('', ['route', 'add', '10.68.0.0/16', 'dev', 'b1', 'proto', 'static']);
    fs.writeFileSync(path.join(sb.configDir, 'network.yaml'), yaml(', state: down', ', mtu: 1200'));
    const p = sb.run(['plan', '-o', 'json']);
    assert.equal(p.code, 0, p.stdout + p.stderr);
    const removed: string[] = JSON.parse(p.stdout).foreign_removed ?? [];
    const expected = ['address (root)/b0 2001:db8:65::1/64', 'route (root) 10.66.0.0/16 table 9', 'route (root) 2001:db8:66::/48', 'address (root)/b1 2001:db8:67::1/64'];
    assert.deepEqual(removed.map((x) => x.replace(/ \(with .*/, '')).sort(), [...expected].sort());
    const r = sb.run(['apply', '--auto-approve']);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    // The oracle: exactly what the plan named is gone; the IPv4 addresses and b1's IPv4 route stay.
    const v6 = (dev: string) => sb.ipj('', ['-6', 'addr', 'show', 'dev', dev]).flatMap((l: { addr_info: { local: string; scope: string }[] }) => l.addr_info.filter((x) => x.scope === 'global').map((x) => x.local));
    assert.deepEqual([v6('b0'), v6('b1')], [[], []]);
    assert.deepEqual(sb.ipj('', ['route', 'show', 'table', '9']), []);
    assert.deepEqual(sb.ipj('', ['-6', 'route', 'show', '2001:db8:66::/48']), []);
    assert.equal(sb.ipj('', ['route', 'show', '10.68.0.0/16']).length, 1);
    const v4 = (dev: string) => sb.ipj('', ['-4', 'addr', 'show', 'dev', dev])[0].addr_info.map((x: { local: string }) => x.local);
    assert.deepEqual([v4('b0'), v4('b1')], [['10.65.0.1'], ['10.67.0.1']]);
  });

  it('verify fails when a rule or route Voltron deleted is still there (the kernel removed another that matched)', () => {
    const sb = make('fvd', 'links:\n  - { name: b0, type: bridge }\nrules:\n  - { priority: 100, fwmark: 1, table: 100 }\nroutes:\n  - { to: 10.69.0.0/16, type: blackhole }\n');
    const a = sb.run(['apply', '--auto-approve']);
    assert.equal(a.code, 0, a.stdout + a.stderr);
    fs.writeFileSync(path.join(sb.configDir, 'network.yaml'), 'links:\n  - { name: b0, type: bridge }\n');
    const p = sb.run(['plan', '-o', 'json']);
    assert.deepEqual(JSON.parse(p.stdout).changes.map((c: { action: string; kind: string }) => `${c.action} ${c.kind}`), ['delete rule', 'delete route']);
    // The seam: both deletes count as done but write nothing, as if they had matched other objects.
    for (const step of [1, 2]) {
      const f = sb.run(['apply', '--auto-approve'], { env: { VOLTRON_FAULT: `step=${step},skip=1` } });
      assert.equal(f.code, 1, f.stdout + f.stderr);
      assert.match(f.stderr, /deleted, but still in the kernel/);
      assert.match(f.stderr, step === 1 ? /rule \(root\) ipv4 priority 100/ : /route \(root\) 10\.69\.0\.0\/16/);
      assert.match(f.stderr, /rolled back/);
    }
    // Rolled back: both are still Voltron's, and a plain apply removes them.
    assert.equal(sb.run(['plan', '--detailed-exitcode']).code, 2);
    const r = sb.run(['apply', '--auto-approve']);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.deepEqual(sb.ipj('', ['rule', 'show', 'priority', '100']), []);
    assert.deepEqual(sb.ipj('', ['route', 'show', '10.69.0.0/16']), []);
  });

  it('a link the plan sets down lists the foreign routes over it and its IPv6 addresses, which the kernel removes', () => {
    const yaml = (state: string) => `links:\n  - { name: b0, type: bridge, state: ${state} }\naddresses:\n  - { address: 10.60.0.1/24, dev: b0 }\n`;
    const sb = make('fdn', yaml('up'));
    const a = sb.run(['apply', '--auto-approve']);
    assert.equal(a.code, 0, a.stdout + a.stderr);
    // No route or IPv6 object is declared: the plan's read skips them unless it reads in full.
    sb.ip('', ['-6', 'addr', 'add', '2001:db8:60::1/64', 'dev', 'b0', 'nodad']);
    sb.ip('', ['-6', 'route', 'add', '2001:db8:61::/64', 'via', '2001:db8:60::2', 'proto', 'static']);
    sb.ip('', ['route', 'add', '10.61.0.0/16', 'via', '10.60.0.2', 'table', '7', 'proto', 'static']);
    fs.writeFileSync(path.join(sb.configDir, 'network.yaml'), yaml('down'));
    const p = sb.run(['plan', '-o', 'json']);
    assert.equal(p.code, 0, p.stdout + p.stderr);
    const removed: string[] = JSON.parse(p.stdout).foreign_removed ?? [];
    const expected = ['address (root)/b0 2001:db8:60::1/64', 'route (root) 10.61.0.0/16 table 7', 'route (root) 2001:db8:61::/64'];
    assert.deepEqual(removed, expected.map((x) => `${x} (with link (root)/b0 (bridge) set down)`));
    const d = sb.run(['apply', '--auto-approve']);
    assert.equal(d.code, 0, d.stdout + d.stderr);
    assert.match(d.stdout, /Warning: 3 live objects not owned by Voltron will be removed by the kernel/);
    // The oracle: what the plan named is gone, the IPv4 address stays.
    assert.deepEqual(sb.ipj('', ['-6', 'addr', 'show', 'dev', 'b0', 'scope', 'global']).flatMap((l: { addr_info: unknown[] }) => l.addr_info), []);
    assert.deepEqual(sb.ipj('', ['-6', 'route', 'show', '2001:db8:61::/64']), []);
    assert.deepEqual(sb.ipj('', ['route', 'show', 'table', '7']), []);
    assert.equal(sb.ipj('', ['-4', 'addr', 'show', 'dev', 'b0'])[0].addr_info.length, 1);
  });

  it('a foreign rule at an owned rule\'s priority is neither replaced nor taken for it', () => {
    const sb = make('fru', 'rules:\n  - { priority: 100, fwmark: 1, table: 100 }\n');
    const a = sb.run(['apply', '--auto-approve']);
    assert.equal(a.code, 0, a.stdout + a.stderr);
    const rules = () => sb.ipj('', ['rule', 'show', 'priority', '100']).map((r: { table: string; src?: string }) => `${r.src ?? 'all'}:${r.table}`).sort();
    sb.ip('', ['rule', 'add', 'priority', '100', 'from', '10.0.0.0/8', 'table', '200']);
    const p = sb.run(['plan', '--detailed-exitcode']);
    assert.equal(p.code, 0, p.stdout + p.stderr); // the kernel allows both: nothing to do
    // Ours gone behind Voltron's back: the foreign one in its place is not ours to replace.
    sb.ip('', ['rule', 'del', 'priority', '100', 'fwmark', '1', 'table', '100']);
    const q = sb.run(['plan', '-o', 'json']);
    assert.equal(q.code, 0, q.stdout + q.stderr);
    assert.deepEqual(JSON.parse(q.stdout).changes.map((c: { action: string; key: string }) => `${c.action} ${c.key}`), ['create rule:/ipv4/p100']);
    const r = sb.run(['apply', '--auto-approve']);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.deepEqual(rules(), ['10.0.0.0:200', 'all:100']);
    fs.writeFileSync(path.join(sb.configDir, 'network.yaml'), 'links:\n  - { name: b0, type: bridge }\n');
    const d = sb.run(['apply', '--auto-approve']);
    assert.equal(d.code, 0, d.stdout + d.stderr);
    assert.deepEqual(rules(), ['10.0.0.0:200']);
  });

  it('a foreign rule ahead of ours at its priority and table, with more selectors, is not the one its removal deletes', () => {
    // The kernel deletes the first rule a request matches, and selectors left out match any:
    // without the protocol, removing ours took the foreign `from` rule (found by DRIFT_SEED=102).
    const sb = make('frv', 'rules:\n  - { priority: 100, table: 100 }\n');
    const rules = () => sb.ipj('', ['rule', 'show', 'priority', '100']).map((r: { protocol?: string; src?: string }) => `${r.src ?? 'all'}:${r.protocol ?? '-'}`).sort();
    assert.equal(sb.run(['apply', '--auto-approve']).code, 0);
    // Ours re-created behind the foreign one (the kernel appends at a priority).
    sb.ip('', ['rule', 'del', 'priority', '100', 'protocol', '194']);
    sb.ip('', ['rule', 'add', 'priority', '100', 'from', '10.88.2.0/24', 'table', '100', 'protocol', 'static']);
    const a = sb.run(['apply', '--auto-approve']);
    assert.equal(a.code, 0, a.stdout + a.stderr);
    assert.deepEqual(rules(), ['10.88.2.0:static', 'all:194']);
    fs.writeFileSync(path.join(sb.configDir, 'network.yaml'), 'links:\n  - { name: b0, type: bridge }\n');
    const d = sb.run(['apply', '--auto-approve']);
    assert.equal(d.code, 0, d.stdout + d.stderr);
    assert.deepEqual(rules(), ['10.88.2.0:static']);
  });

  it('a foreign route appended under an owned route\'s key is neither taken for it nor deleted with it', () => {
    const sb = make('frt', 'links:\n  - { name: b0, type: bridge }\naddresses:\n  - { address: 10.60.0.1/24, dev: b0 }\nroutes:\n  - { to: 10.61.0.0/16, via: 10.60.0.2 }\n');
    const a = sb.run(['apply', '--auto-approve']);
    assert.equal(a.code, 0, a.stdout + a.stderr);
    const routes = () => sb.ipj('', ['route', 'show', '10.61.0.0/16']).map((r: { gateway: string; protocol: string }) => `${r.gateway}:${r.protocol}`).sort();
    sb.ip('', ['route', 'append', '10.61.0.0/16', 'via', '10.60.0.3', 'proto', 'static']);
    assert.deepEqual(routes(), ['10.60.0.2:194', '10.60.0.3:static']);
    const p = sb.run(['plan', '--detailed-exitcode']);
    assert.equal(p.code, 0, p.stdout + p.stderr); // ours is in sync; the other one is foreign
    fs.writeFileSync(path.join(sb.configDir, 'network.yaml'), 'links:\n  - { name: b0, type: bridge }\naddresses:\n  - { address: 10.60.0.1/24, dev: b0 }\n');
    const d = sb.run(['apply', '--auto-approve']);
    assert.equal(d.code, 0, d.stdout + d.stderr);
    assert.deepEqual(routes(), ['10.60.0.3:static'], 'only ours was deleted');
  });

  it('a foreign route put at an owned route\'s key after ours went is neither overwritten nor pruned; the plan names it', () => {
    const base = 'links:\n  - { name: b0, type: bridge }\naddresses:\n  - { address: 10.60.0.1/24, dev: b0 }\n  - { address: "2001:db8:60::1/64", dev: b0 }\n';
    const withRoutes = `${base}routes:\n  - { to: 10.61.0.0/16, via: 10.60.0.2 }\n  - { to: "2001:db8:61::/64", via: "2001:db8:60::2" }\n`;
    const sb = make('frk', withRoutes);
    const a = sb.run(['apply', '--auto-approve']);
    assert.equal(a.code, 0, a.stdout + a.stderr);
    const routes = () =>
      [...sb.ipj('', ['route', 'show', '10.61.0.0/16']), ...sb.ipj('', ['-6', 'route', 'show', '2001:db8:61::/64'])].map((r: { gateway: string; protocol: string }) => `${r.gateway}:${r.protocol}`);
    // Someone deletes Voltron's routes and puts theirs in place (the kernel key has no protocol).
    sb.ip('', ['route', 'del', '10.61.0.0/16', 'proto', '194']);
    sb.ip('', ['route', 'add', '10.61.0.0/16', 'via', '10.60.0.3', 'proto', 'static']);
    sb.ip('', ['-6', 'route', 'del', '2001:db8:61::/64', 'proto', '194']);
    sb.ip('', ['-6', 'route', 'add', '2001:db8:61::/64', 'via', '2001:db8:60::3', 'proto', 'static']);
    const foreign = ['10.60.0.3:static', '2001:db8:60::3:static'];
    assert.deepEqual(routes(), foreign);
    for (const cmd of [['plan'], ['apply', '--auto-approve']]) {
      const r = sb.run(cmd);
      assert.equal(r.code, 1, r.stdout + r.stderr);
      assert.match(r.stderr, /route \(root\) 10\.61\.0\.0\/16: a foreign route \(via 10\.60\.0\.3 dev b0 proto static\) holds its destination, table and metric/);
      assert.match(r.stderr, /route \(root\) 2001:db8:61::\/64: a foreign route \(via 2001:db8:60::3 dev b0 proto static\)/);
      assert.match(r.stderr, /delete it yourself: ip -n \S+ route del 10\.61\.0\.0\/16 table 254 metric 0 proto static/);
      assert.deepEqual(routes(), foreign, 'the foreign routes are not overwritten');
    }
    // Ours leaves the config: nothing of ours is live at the key, and the foreign one stays.
    fs.writeFileSync(path.join(sb.configDir, 'network.yaml'), base);
    const d = sb.run(['apply', '--auto-approve']);
    assert.equal(d.code, 0, d.stdout + d.stderr);
    assert.deepEqual(routes(), foreign, 'the foreign routes are not pruned');
  });

  it('a foreign TOS or source-prefix route at a declared route\'s destination and metric is another kernel key: ours is created beside it, and pruned alone', () => {
    const base = 'links:\n  - { name: b0, type: bridge }\naddresses:\n  - { address: 10.60.0.1/24, dev: b0 }\n  - { address: "2001:db8:60::1/64", dev: b0 }\n';
    const withRoutes = `${base}routes:\n  - { to: 10.61.0.0/16, via: 10.60.0.2, metric: 5 }\n  - { to: "2001:db8:61::/64", via: "2001:db8:60::2" }\n`;
    const sb = make('fts', base);
    const a = sb.run(['apply', '--auto-approve']);
    assert.equal(a.code, 0, a.stdout + a.stderr);
    sb.ip('', ['route', 'add', '10.61.0.0/16', 'tos', '0x04', 'via', '10.60.0.3', 'metric', '5', 'proto', 'static']);
    sb.ip('', ['-6', 'route', 'add', '2001:db8:61::/64', 'from', '2001:db8:99::/64', 'via', '2001:db8:60::3', 'proto', 'static']);
    const routes = () =>
      [...sb.ipj('', ['route', 'show', '10.61.0.0/16']), ...sb.ipj('', ['-6', 'route', 'show', '2001:db8:61::/64'])].map((r: { gateway: string; protocol: string }) => `${r.gateway}:${r.protocol}`).sort();
    const foreign = ['10.60.0.3:static', '2001:db8:60::3:static'];
    fs.writeFileSync(path.join(sb.configDir, 'network.yaml'), withRoutes);
    const p = sb.run(['plan', '-o', 'json']);
    assert.equal(p.code, 0, p.stdout + p.stderr);
    assert.deepEqual(JSON.parse(p.stdout).summary, { create: 2, update: 0, replace: 0, delete: 0 });
    const c = sb.run(['apply', '--auto-approve']);
    assert.equal(c.code, 0, c.stdout + c.stderr);
    assert.deepEqual(routes(), [...foreign, '10.60.0.2:194', '2001:db8:60::2:194'].sort());
    const again = sb.run(['plan', '--detailed-exitcode']);
    assert.equal(again.code, 0, again.stdout + again.stderr);
    const show = sb.run(['show', '-o', 'json']);
    assert.equal(show.code, 0, show.stdout + show.stderr);
    assert.deepEqual(JSON.parse(show.stdout)['x-unmanaged-routes'].map((r: { form: string }) => r.form).sort(), ['from 2001:db8:99::/64', 'tos 0x04']);
    fs.writeFileSync(path.join(sb.configDir, 'network.yaml'), base);
    const d = sb.run(['apply', '--auto-approve']);
    assert.equal(d.code, 0, d.stdout + d.stderr);
    assert.deepEqual(routes(), foreign, 'only ours were pruned');
  });

  it('a foreign multipath route at a declared route\'s key is refused by plan and apply before any write, not met mid-apply (EEXIST)', () => {
    const base = 'links:\n  - { name: b0, type: bridge }\naddresses:\n  - { address: 10.60.0.1/24, dev: b0 }\n';
    const sb = make('fmp', base);
    const a = sb.run(['apply', '--auto-approve']);
    assert.equal(a.code, 0, a.stdout + a.stderr);
    sb.ip('', ['route', 'add', '10.61.0.0/16', 'proto', 'static', 'nexthop', 'via', '10.60.0.2', 'nexthop', 'via', '10.60.0.3']);
    fs.writeFileSync(path.join(sb.configDir, 'network.yaml'), `${base}routes:\n  - { to: 10.61.0.0/16, via: 10.60.0.4 }\n  - { to: 10.62.0.0/16, via: 10.60.0.4 }\n`);
    for (const cmd of [['plan'], ['apply', '--auto-approve']]) {
      const r = sb.run(cmd);
      assert.equal(r.code, 1, r.stdout + r.stderr);
      assert.match(r.stderr, /route \(root\) 10\.61\.0\.0\/16: a foreign route \(multipath \(via 10\.60\.0\.2 dev b0, via 10\.60\.0\.3 dev b0\) proto static\) holds its destination, table and metric;/);
      assert.match(r.stderr, /delete it yourself: ip -n \S+ route del 10\.61\.0\.0\/16 table 254 metric 0 proto static/);
      assert.doesNotMatch(r.stdout + r.stderr, /EEXIST|Rolling back/);
    }
    assert.equal(sb.ipj('', ['route', 'show', '10.61.0.0/16'])[0].nexthops.length, 2, 'the multipath route is untouched');
    assert.deepEqual(sb.ipj('', ['route', 'show', '10.62.0.0/16']), [], 'nothing was written');
  });

  it('an IPv6 route appended to Voltron\'s (the kernel merges them into a multipath route) is named as such, not taken for a foreign route in its place', () => {
    const yaml = 'links:\n  - { name: b0, type: bridge }\naddresses:\n  - { address: "2001:db8:60::1/64", dev: b0 }\nroutes:\n  - { to: "2001:db8:61::/64", via: "2001:db8:60::2" }\n';
    const sb = make('fma', yaml);
    const a = sb.run(['apply', '--auto-approve']);
    assert.equal(a.code, 0, a.stdout + a.stderr);
    sb.ip('', ['-6', 'route', 'append', '2001:db8:61::/64', 'via', '2001:db8:60::3', 'proto', 'static']);
    const p = sb.run(['plan']);
    assert.equal(p.code, 1, p.stdout + p.stderr);
    assert.match(p.stderr, /route \(root\) 2001:db8:61::\/64: another route was merged into Voltron's, which is now a multipath route \(multipath \(via 2001:db8:60::2 dev b0, via 2001:db8:60::3 dev b0\) proto 194: an `ip -6 route append`\)/);
    assert.match(p.stderr, /delete the other nexthop yourself: ip -n \S+ route del 2001:db8:61::\/64 via <its gateway> metric 1024/);
    sb.ip('', ['-6', 'route', 'del', '2001:db8:61::/64', 'via', '2001:db8:60::3']);
    const again = sb.run(['plan', '--detailed-exitcode']);
    assert.equal(again.code, 0, again.stdout + again.stderr);
  });

  it('a declared sysctl found at its value is taken over with it: a repaired drift is not restored on removal, then it is released', () => {
    const sb = make('fsy', 'namespaces:\n  - name: s\n    sysctls:\n      net.ipv4.ip_forward: 1\n');
    execFileSync('ip', ['netns', 'add', sb.ns('s')]);
    const fwd = () => sb.exec('s', ['cat', '/proc/sys/net/ipv4/ip_forward']).stdout.trim();
    const set = (v: number) => assert.equal(sb.exec('s', ['sysctl', '-qw', `net.ipv4.ip_forward=${v}`]).code, 0);
    const original = () => JSON.parse(fs.readFileSync(path.join(sb.stateDir, 'sandbox', sb.prefix, 'inventory.json'), 'utf8')).original;
    const apply = () => {
      const r = sb.run(['apply', '--auto-approve']);
      assert.equal(r.code, 0, r.stdout + r.stderr);
      return r.stdout;
    };
    set(1);
    apply(); // nothing to write for the sysctl
    assert.deepEqual(original(), { 'sysctl:s/net.ipv4.ip_forward': '1' }, 'the value found is the original');
    set(0); // drift, repaired by the next apply: not the value the host had before Voltron
    apply();
    assert.equal(fwd(), '1');
    assert.deepEqual(original(), { 'sysctl:s/net.ipv4.ip_forward': '1' });
    fs.writeFileSync(path.join(sb.configDir, 'network.yaml'), 'namespaces:\n  - name: s\n');
    assert.doesNotMatch(apply(), /restore original value/);
    assert.equal(fwd(), '1', 'left at its original');
    assert.deepEqual(original(), {}, 'released');
    set(0); // someone else's change to a sysctl Voltron no longer manages
    const p = sb.run(['plan', '--detailed-exitcode']);
    assert.equal(p.code, 0, p.stdout + p.stderr);
  });

  it('a lost inventory is named when Voltron-made routes are live, instead of a silent "No changes"', () => {
    const yaml = 'links:\n  - { name: b0, type: bridge }\naddresses:\n  - { address: 10.67.0.1/24, dev: b0 }\nroutes:\n  - { to: 10.68.0.0/16, via: 10.67.0.2 }\n';
    const sb = make('fli', yaml);
    const a = sb.run(['apply', '--auto-approve']);
    assert.equal(a.code, 0, a.stdout + a.stderr);
    assert.doesNotMatch(a.stderr, /has no inventory/, 'a first apply with nothing of ours live does not warn');
    assert.doesNotMatch(sb.run(['plan']).stderr, /has no inventory/);
    fs.rmSync(path.join(sb.stateDir, 'sandbox', sb.prefix, 'inventory.json'));
    const p = sb.run(['plan']);
    assert.equal(p.code, 0, p.stdout + p.stderr);
    assert.match(p.stderr, /has no inventory, but 1 route\(s\)\/rule\(s\) with Voltron's protocol \(194\) are live/);
    const d = sb.run(['destroy', '--auto-approve']);
    assert.equal(d.code, 0, d.stdout + d.stderr);
    assert.match(d.stderr, /has no inventory: destroy removes only what an inventory records, so it removes nothing/);
  });

  it('a rollback keeps a declared route Voltron adopted with its own protocol (it is not a namesake)', () => {
    const base = 'links:\n  - { name: b0, type: bridge }\naddresses:\n  - { address: 10.69.0.1/24, dev: b0 }\n';
    const sb = make('fad', base);
    assert.equal(sb.run(['apply', '--auto-approve']).code, 0);
    sb.ip('', ['route', 'add', '10.70.0.0/16', 'via', '10.69.0.2', 'proto', 'static']);
    // Declared exactly as it is: adopted, nothing to write for it. The new bridge's step fails.
    fs.writeFileSync(path.join(sb.configDir, 'network.yaml'), `${base}  - { address: 10.69.1.1/24, dev: b0 }\nroutes:\n  - { to: 10.70.0.0/16, via: 10.69.0.2 }\n`);
    const f = sb.run(['apply', '--auto-approve'], { env: { VOLTRON_FAULT: 'step=1,errno=22' } });
    assert.equal(f.code, 1, f.stdout + f.stderr);
    assert.match(f.stderr, /rolled back; nothing changed/, f.stderr);
    assert.deepEqual(sb.ipj('', ['route', 'show', '10.70.0.0/16']).map((r: { gateway: string; protocol: string }) => `${r.gateway}:${r.protocol}`), ['10.69.0.2:static']);
    const p = sb.run(['plan', '--detailed-exitcode']);
    assert.equal(p.code, 2, p.stdout + p.stderr); // the address is still to add; no journal blocks it
  });

  it('a declared route Voltron adopted keeps its protocol when Voltron changes it, and after it leaves the config; a rollback puts its attributes back', () => {
    const base = 'links:\n  - { name: b0, type: bridge }\naddresses:\n  - { address: 10.71.0.1/24, dev: b0 }\n';
    const sb = make('fap', base);
    assert.equal(sb.run(['apply', '--auto-approve']).code, 0);
    sb.ip('', ['route', 'add', '10.72.0.0/16', 'via', '10.71.0.2', 'proto', 'static']);
    const route = () => sb.ipj('', ['-d', 'route', 'show', '10.72.0.0/16']).map((r: { gateway: string; protocol: string; metrics?: { mtu?: number }[] }) => `${r.gateway}:${r.protocol}:mtu=${r.metrics?.find((m) => m.mtu !== undefined)?.mtu ?? '-'}`);
    const declared = (via: string, mtu: number) => `${base}routes:\n  - { to: 10.72.0.0/16, via: ${via}, mtu: ${mtu} }\n`;
    // A failed apply that had changed it: the rollback restores its attributes and protocol.
    fs.writeFileSync(path.join(sb.configDir, 'network.yaml'), `${declared('10.71.0.3', 1400)}  - { to: 10.73.0.0/16, via: 10.71.0.2 }\n`);
    const f = sb.run(['apply', '--auto-approve'], { env: { VOLTRON_FAULT: 'step=1,errno=22' } });
    assert.equal(f.code, 1, f.stdout + f.stderr);
    assert.match(f.stderr, /rolled back; nothing changed/, f.stderr);
    assert.deepEqual(route(), ['10.71.0.2:static:mtu=-']);
    fs.writeFileSync(path.join(sb.configDir, 'network.yaml'), declared('10.71.0.3', 1400));
    const u = sb.run(['apply', '--auto-approve']);
    assert.equal(u.code, 0, u.stdout + u.stderr);
    assert.match(u.stdout, /~ route \(root\) 10\.72\.0\.0\/16/);
    assert.deepEqual(route(), ['10.71.0.3:static:mtu=1400'], 'changed in place, still the other tool\'s route');
    assert.equal(sb.run(['plan', '--detailed-exitcode']).code, 0);
    fs.writeFileSync(path.join(sb.configDir, 'network.yaml'), base);
    const r = sb.run(['apply', '--auto-approve']);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.deepEqual(route(), ['10.71.0.3:static:mtu=1400'], 'released as it was: neither deleted nor marked as Voltron\'s');
    assert.equal(sb.run(['plan', '--detailed-exitcode']).code, 0);
  });

  it('an address put at an owned address\'s key after ours went is neither taken for ours nor pruned: Voltron tags its addresses (IFA_PROTO)', () => {
    const base = 'links:\n  - { name: b0, type: bridge }\n';
    const sb = make('fak', `${base}addresses:\n  - { address: 10.62.0.1/24, dev: b0 }\n  - { address: "2001:db8:62::1/64", dev: b0 }\n`);
    const a = sb.run(['apply', '--auto-approve']);
    assert.equal(a.code, 0, a.stdout + a.stderr);
    const live = () => sb.ipj('', ['addr', 'show', 'dev', 'b0', 'scope', 'global']).flatMap((l: { addr_info: { local: string }[] }) => l.addr_info.map((x) => x.local)).filter((x: string | undefined) => x !== undefined);
    // Someone deletes Voltron's addresses and adds their own, the same, with `ip addr add`.
    for (const [fam, addr] of [['-4', '10.62.0.1/24'], ['-6', '2001:db8:62::1/64']]) {
      sb.ip('', [fam!, 'addr', 'del', addr!, 'dev', 'b0']);
      sb.ip('', [fam!, 'addr', 'add', addr!, 'dev', 'b0', ...(fam === '-6' ? ['nodad'] : [])]);
    }
    for (const cmd of [['plan'], ['apply', '--auto-approve']]) {
      const r = sb.run(cmd);
      assert.equal(r.code, 1, r.stdout + r.stderr);
      assert.match(r.stderr, /address \(root\)\/b0 10\.62\.0\.1\/24: the address Voltron created is gone, and one it did not create now holds its key \(address protocol 0, Voltron's was 194\)/);
      assert.match(r.stderr, /address \(root\)\/b0 2001:db8:62::1\/64: the address Voltron created is gone/);
    }
    // Ours leave the config: theirs stay.
    fs.writeFileSync(path.join(sb.configDir, 'network.yaml'), base);
    const d = sb.run(['apply', '--auto-approve']);
    assert.equal(d.code, 0, d.stdout + d.stderr);
    assert.match(d.stderr, /Voltron created are gone.*address \(root\)\/b0 10\.62\.0\.1\/24 \(address protocol 0, Voltron's was 194\)/s);
    assert.deepEqual(live().sort(), ['10.62.0.1', '2001:db8:62::1'], 'the addresses someone else made are not pruned');
  });

  it('an address recorded without its tag (an older Voltron, a kernel before 6.3) is not taken for a namesake; the no-op apply records what it has', () => {
    const sb = make('fal', 'links:\n  - { name: b0, type: bridge }\naddresses:\n  - { address: 10.63.0.1/24, dev: b0 }\n');
    assert.equal(sb.run(['apply', '--auto-approve']).code, 0);
    const file = path.join(sb.stateDir, 'sandbox', sb.prefix, 'inventory.json');
    const key = 'address:/b0/10.63.0.1/24';
    const inv = JSON.parse(fs.readFileSync(file, 'utf8'));
    assert.equal(inv.owned[key].protocol, 194, JSON.stringify(inv.owned[key]));
    // As an older Voltron left it: the address untagged, the inventory without a protocol.
    sb.ip('', ['addr', 'del', '10.63.0.1/24', 'dev', 'b0']);
    sb.ip('', ['addr', 'add', '10.63.0.1/24', 'dev', 'b0']);
    const { protocol: _p, ...untagged } = inv.owned[key];
    fs.writeFileSync(file, JSON.stringify({ ...inv, owned: { ...inv.owned, [key]: untagged } }));
    const a = sb.run(['apply', '--auto-approve']);
    assert.equal(a.code, 0, a.stdout + a.stderr);
    assert.match(a.stdout, /No changes/);
    assert.equal(JSON.parse(fs.readFileSync(file, 'utf8')).owned[key].protocol, 0);
  });

  it('a no-op apply records the identities an inventory lacks (older version, abandoned apply)', () => {
    const sb = make('fid', 'namespaces:\n  - name: s\nlinks:\n  - { name: b0, type: bridge }\n');
    assert.equal(sb.run(['apply', '--auto-approve']).code, 0);
    const file = path.join(sb.stateDir, 'sandbox', sb.prefix, 'inventory.json');
    const inv = JSON.parse(fs.readFileSync(file, 'utf8'));
    assert.ok(inv.ifindex['link:/b0'] > 0 && /^\d+$/.test(inv.netnsCookie['namespace:s']), JSON.stringify(inv));
    fs.writeFileSync(file, JSON.stringify({ ...inv, ifindex: undefined, netnsCookie: undefined }));
    const a = sb.run(['apply', '--auto-approve']);
    assert.equal(a.code, 0, a.stdout + a.stderr);
    assert.match(a.stdout, /No changes/);
    const again = JSON.parse(fs.readFileSync(file, 'utf8'));
    assert.deepEqual([again.ifindex, again.netnsCookie], [inv.ifindex, inv.netnsCookie]);
  });

  it('a foreign link made under the name of an owned link that went is neither replaced nor pruned, nor what is on it', () => {
    const base = 'links:\n  - { name: b0, type: bridge }\n';
    const sb = make('frn', `${base}  - { name: m0, type: macvlan, macvlan: { parent: b0, mode: bridge } }\naddresses:\n  - { address: 10.65.0.1/24, dev: m0 }\n`);
    const a = sb.run(['apply', '--auto-approve']);
    assert.equal(a.code, 0, a.stdout + a.stderr);
    // The kernel hands a freed ifindex out again while its cursor is below it (Voltron chose the
    // indexes in the namespace it created): a link made and removed first moves the cursor on.
    sb.ip('', ['link', 'add', 'tmp0', 'type', 'bridge']);
    sb.ip('', ['link', 'del', 'tmp0']);
    sb.ip('', ['link', 'del', 'm0']);
    sb.ip('', ['link', 'add', 'm0', 'type', 'bridge']);
    sb.ip('', ['addr', 'add', '10.65.0.1/24', 'dev', 'm0']);
    const p = sb.run(['plan']);
    assert.equal(p.code, 1, p.stdout + p.stderr);
    assert.match(p.stderr, /link \(root\)\/m0 \(macvlan\): the link Voltron created is gone, and one it did not create now holds its name \(ifindex \d+, Voltron's was \d+\)/);
    assert.match(p.stderr, /address \(root\)\/m0 10\.65\.0\.1\/24: .*on link m0, which Voltron did not create/);
    assert.equal(sb.run(['apply', '--auto-approve']).code, 1);
    assert.equal(sb.ipj('', ['-d', 'link', 'show', 'm0'])[0].linkinfo.info_kind, 'bridge');
    fs.writeFileSync(path.join(sb.configDir, 'network.yaml'), base);
    const q = sb.run(['plan', '--detailed-exitcode']);
    assert.equal(q.code, 0, q.stdout + q.stderr);
    // Not a bare "No changes": the plan says what it leaves alone and why.
    assert.match(q.stderr, /Note: 2 object\(s\) Voltron created are gone, .*left alone and not counted as Voltron's: .*link \(root\)\/m0 \(macvlan\) \(ifindex \d+, Voltron's was \d+\)/);
    assert.equal(sb.run(['apply', '--auto-approve']).code, 0);
    // That apply dropped them from the inventory: nothing more to say.
    assert.doesNotMatch(sb.run(['plan']).stderr, /Note:/);
    assert.equal(sb.ipj('', ['-d', 'link', 'show', 'm0'])[0].linkinfo.info_kind, 'bridge');
    assert.equal(sb.ipj('', ['addr', 'show', 'm0'])[0].addr_info.filter((x: { local: string }) => x.local === '10.65.0.1').length, 1);
  });

  it('links Voltron recreates, by apply or by rollback, stay its own', () => {
    const yaml = (vni: number) => `links:\n  - { name: b0, type: bridge }\n  - { name: vx0, type: vxlan, vxlan: { vni: ${vni}, local: 192.0.2.1 } }\naddresses:\n  - { address: 10.66.0.1/24, dev: vx0 }\n`;
    const sb = make('frs', yaml(5));
    assert.equal(sb.run(['apply', '--auto-approve']).code, 0);
    sb.ip('', ['link', 'add', 'tmp0', 'type', 'bridge']); // kernel-chosen indexes from now on are new ones
    sb.ip('', ['link', 'del', 'tmp0']);
    sb.ip('', ['link', 'del', 'vx0']);
    const a = sb.run(['apply', '--auto-approve']);
    assert.equal(a.code, 0, a.stdout + a.stderr);
    assert.equal(sb.run(['plan', '--detailed-exitcode']).code, 0);
    // A failing apply replaces vx0 (new VNI), then fails re-adding its address: the rollback
    // recreates vx0 (another ifindex).
    const before = sb.ipj('', ['link', 'show', 'vx0'])[0].ifindex;
    fs.writeFileSync(path.join(sb.configDir, 'network.yaml'), yaml(6));
    const f = sb.run(['apply', '--auto-approve'], { env: { VOLTRON_FAULT: 'step=2,errno=22' } });
    assert.equal(f.code, 1, f.stdout + f.stderr);
    assert.match(f.stderr, /rolled back; nothing changed/);
    // The replace made the plan read everything (default rules included); nothing foreign went.
    assert.doesNotMatch(f.stderr, /foreign object\(s\) inside containers/);
    assert.notEqual(sb.ipj('', ['link', 'show', 'vx0'])[0].ifindex, before);
    fs.writeFileSync(path.join(sb.configDir, 'network.yaml'), yaml(5));
    const p = sb.run(['plan', '--detailed-exitcode']);
    assert.equal(p.code, 0, p.stdout + p.stderr);
    // And a prune still removes it: it is Voltron's.
    fs.writeFileSync(path.join(sb.configDir, 'network.yaml'), 'links:\n  - { name: b0, type: bridge }\n');
    assert.equal(sb.run(['apply', '--auto-approve']).code, 0);
    assert.deepEqual(sb.ipj('', ['link', 'show']).map((l: { ifname: string }) => l.ifname).sort(), ['b0', 'lo']);
  });

  it('a rollback recreates an adopted route with the protocol it had', () => {
    // vx0's new VNI replaces it, which takes the adopted `proto static` route along; the apply
    // then fails re-adding the route. The rollback recreated it as Voltron's (proto 194), and
    // reported "Rollback incomplete: protocol differs" with the journal kept.
    const yaml = (vni: number, routes: string) => `links:\n  - { name: vx0, type: vxlan, vxlan: { vni: ${vni}, local: 192.0.2.1 } }\n${routes}`;
    const sb = make('frp', yaml(5, ''));
    assert.equal(sb.run(['apply', '--auto-approve']).code, 0);
    sb.ip('', ['route', 'add', '10.67.0.0/24', 'dev', 'vx0', 'proto', 'static']);
    fs.writeFileSync(path.join(sb.configDir, 'network.yaml'), yaml(6, 'routes:\n  - { to: 10.67.0.0/24, dev: vx0 }\n'));
    const f = sb.run(['apply', '--auto-approve'], { env: { VOLTRON_FAULT: 'step=2,errno=22' } });
    assert.equal(f.code, 1, f.stdout + f.stderr);
    assert.match(f.stderr, /rollback: create route \(root\) 10\.67\.0\.0\/24/);
    assert.match(f.stderr, /rolled back; nothing changed/);
    const r = sb.ipj('', ['route', 'show', '10.67.0.0/24']);
    assert.equal(r.length, 1);
    assert.equal(r[0].protocol, 'static');
  });

  it('destroy leaves alone an owned link the last apply\'s ignore patterns match, as apply does', () => {
    // destroy reads no config: it deleted the ignored link (the sandbox's own namespaces go whole,
    // so the link lives in a namespace that existed before Voltron: adopted, never deleted).
    const links = (names: string[]) => names.map((n) => `  - { name: ${n}, namespace: a, type: bridge }\n`).join('');
    const sb = make('fig', `namespaces: [ { name: a } ]\nlinks:\n${links(['br0', 'br1'])}`);
    execFileSync('ip', ['netns', 'add', sb.ns('a')]);
    assert.equal(sb.run(['apply', '--auto-approve']).code, 0);
    fs.writeFileSync(path.join(sb.configDir, 'network.yaml'), `ignore: [ "br0" ]\nnamespaces: [ { name: a } ]\nlinks:\n${links(['br1'])}`);
    const a = sb.run(['apply', '--auto-approve']);
    assert.equal(a.code, 0, a.stdout + a.stderr);
    assert.match(a.stdout, /No changes/);
    const d = sb.run(['destroy', '--auto-approve']);
    assert.equal(d.code, 0, d.stdout + d.stderr);
    assert.doesNotMatch(d.stdout, /br0/);
    assert.deepEqual(sb.ipj('a', ['link', 'show']).map((l: { ifname: string }) => l.ifname).sort(), ['br0', 'lo']);
    execFileSync('ip', ['netns', 'del', sb.ns('a')]);
  });

  it('a rollback does not delete a foreign link made under the name of an owned link that went', () => {
    const sb = make('frb', 'links:\n  - { name: b0, type: bridge }\n  - { name: m0, type: bridge }\n');
    assert.equal(sb.run(['apply', '--auto-approve']).code, 0);
    sb.ip('', ['link', 'add', 'tmp0', 'type', 'bridge']); // kernel-chosen indexes from now on are new ones
    sb.ip('', ['link', 'del', 'tmp0']);
    sb.ip('', ['link', 'del', 'm0']);
    sb.ip('', ['link', 'add', 'm0', 'type', 'bridge']);
    // m0 leaves the config (the foreign one is not pruned), and the apply fails: the rollback
    // must not take the foreign m0 for the owned one, which the pre-apply inventory still lists.
    fs.writeFileSync(path.join(sb.configDir, 'network.yaml'), 'links:\n  - { name: b0, type: bridge }\n  - { name: b2, type: bridge }\n');
    const f = sb.run(['apply', '--auto-approve'], { env: { VOLTRON_FAULT: 'step=1,errno=22' } });
    assert.equal(f.code, 1, f.stdout + f.stderr);
    assert.match(f.stderr, /rolled back; nothing changed/);
    assert.doesNotMatch(f.stderr, /rollback: delete link \(root\)\/m0/);
    assert.doesNotMatch(f.stderr, /foreign object\(s\) inside containers/);
    assert.equal(sb.ipj('', ['link', 'show', 'm0']).length, 1, 'the foreign m0 is still there');
    // And it stays foreign: the restored inventory did not take it for Voltron's.
    fs.writeFileSync(path.join(sb.configDir, 'network.yaml'), 'links:\n  - { name: b0, type: bridge }\n  - { name: m0, type: bridge }\n');
    const p = sb.run(['plan']);
    assert.equal(p.code, 1, p.stdout + p.stderr);
    assert.match(p.stderr, /link \(root\)\/m0 \(bridge\): the link Voltron created is gone/);
  });

  /** A namespace recreated behind Voltron's back (as `ip netns add` does), with links of its own. */
  const squat = (sb: Sandbox, logical: string): void => {
    execFileSync('ip', ['netns', 'del', sb.ns(logical)]);
    execFileSync('ip', ['netns', 'add', sb.ns(logical)]);
    // The same name as Voltron's link, and the same ifindex (the first link of a new namespace).
    sb.ip(logical, ['link', 'add', 'b1', 'type', 'bridge']);
    sb.ip(logical, ['link', 'add', 'f1', 'type', 'bridge']);
  };
  const linksIn = (sb: Sandbox, logical: string): string[] => sb.ipj(logical, ['link', 'show']).map((l: { ifname: string }) => l.ifname).sort();
  const inventoryOf = (sb: Sandbox): { owned: Record<string, unknown>; netnsCookie?: Record<string, string> } =>
    JSON.parse(fs.readFileSync(path.join(sb.stateDir, 'sandbox', sb.prefix, 'inventory.json'), 'utf8'));
  const withN1 = 'namespaces:\n  - name: n1\nlinks:\n  - { name: b0, type: bridge }\n  - { name: b1, type: bridge, namespace: n1 }\n';

  it('a namespace someone else recreated under an owned name is not destroyed, nor its links; a plan declaring it is refused', () => {
    const sb = make('fnd', withN1);
    assert.equal(sb.run(['apply', '--auto-approve']).code, 0);
    assert.match(inventoryOf(sb).netnsCookie?.['namespace:n1'] ?? '', /^\d+$/);
    squat(sb, 'n1');
    for (const cmd of [['plan'], ['apply', '--auto-approve']]) {
      const r = sb.run(cmd);
      assert.equal(r.code, 1, r.stdout + r.stderr);
      assert.match(r.stderr, /namespace n1: the namespace Voltron created is gone, and one it did not create now holds its name \(netns cookie \d+, Voltron's was \d+\)/);
      assert.ok(r.stderr.includes(`ip netns del ${sb.ns('n1')}`), r.stderr);
      assert.doesNotMatch(r.stderr, /link n1\/b1/, 'said once, for the namespace');
    }
    assert.equal(sb.ipj('n1', ['link', 'show', 'b1'])[0].operstate, 'DOWN', 'the foreign b1 is not taken over');
    const s = sb.run(['show', '-n', 'n1', '-o', 'json']);
    assert.equal(s.code, 0, s.stdout + s.stderr);
    assert.doesNotMatch(s.stdout, /"owned": true/, 'show does not mark them owned');
    assert.match(s.stdout, /"name": "b1"/);
    const d = sb.run(['destroy', '--auto-approve']);
    assert.equal(d.code, 0, d.stdout + d.stderr);
    assert.doesNotMatch(d.stdout, /namespace n1|link n1/);
    assert.deepEqual(sb.namespaces(), [sb.ns('n1')], 'only the sandbox root namespace, which is Voltron\'s, went');
    assert.deepEqual(linksIn(sb, 'n1'), ['b1', 'f1', 'lo']);
    assert.deepEqual(inventoryOf(sb).owned, {});
  });

  it('a namespace someone else recreated under an owned name is not pruned, nor its links', () => {
    const sb = make('fnp', withN1);
    assert.equal(sb.run(['apply', '--auto-approve']).code, 0);
    squat(sb, 'n1');
    fs.writeFileSync(path.join(sb.configDir, 'network.yaml'), 'links:\n  - { name: b0, type: bridge }\n');
    const p = sb.run(['plan', '--detailed-exitcode']);
    assert.equal(p.code, 0, p.stdout + p.stderr); // nothing of Voltron's is left in n1
    const a = sb.run(['apply', '--auto-approve']);
    assert.equal(a.code, 0, a.stdout + a.stderr);
    assert.deepEqual(linksIn(sb, 'n1'), ['b1', 'f1', 'lo']);
    assert.deepEqual(Object.keys(inventoryOf(sb).owned).sort(), ['link:/b0', 'namespace:'], 'n1 and b1 are no longer owned');
  });

  it('the sandbox root namespace recreated by someone else is not Voltron\'s either', () => {
    const sb = make('fnr', 'links:\n  - { name: b1, type: bridge }\n');
    assert.equal(sb.run(['apply', '--auto-approve']).code, 0);
    squat(sb, '');
    const p = sb.run(['plan']);
    assert.equal(p.code, 1, p.stdout + p.stderr);
    assert.match(p.stderr, /namespace \(root\): the namespace Voltron created is gone, and one it did not create now holds its name/);
    assert.equal(sb.run(['destroy', '--auto-approve']).code, 0);
    assert.deepEqual(linksIn(sb, ''), ['b1', 'f1', 'lo']);
  });

  it('namespaces Voltron recreates, by apply or by rollback, stay its own', () => {
    const sb = make('fns', withN1);
    assert.equal(sb.run(['apply', '--auto-approve']).code, 0);
    const first = inventoryOf(sb).netnsCookie?.['namespace:n1'];
    execFileSync('ip', ['netns', 'del', sb.ns('n1')]); // gone behind Voltron's back: the next apply recreates it
    const a = sb.run(['apply', '--auto-approve']);
    assert.equal(a.code, 0, a.stdout + a.stderr);
    assert.match(a.stdout, /created: namespace n1/);
    const second = inventoryOf(sb).netnsCookie?.['namespace:n1'];
    assert.ok(second !== undefined && second !== first, `a new cookie recorded: ${first} then ${second}`);
    assert.equal(sb.run(['plan', '--detailed-exitcode']).code, 0);
    // A failing apply deletes n1 (no longer declared), then fails: the rollback recreates it.
    fs.writeFileSync(path.join(sb.configDir, 'network.yaml'), 'links:\n  - { name: b0, type: bridge }\n  - { name: b2, type: bridge }\n');
    const plan = JSON.parse(sb.run(['plan', '-o', 'json']).stdout).changes.map((c: { action: string; key: string }) => `${c.action} ${c.key}`);
    assert.deepEqual(plan, ['delete namespace:n1', 'create link:/b2']);
    const f = sb.run(['apply', '--auto-approve'], { env: { VOLTRON_FAULT: 'step=2,errno=22' } });
    assert.equal(f.code, 1, f.stdout + f.stderr);
    assert.match(f.stderr, /rollback: create namespace n1/);
    assert.match(f.stderr, /rolled back; nothing changed/);
    assert.notEqual(inventoryOf(sb).netnsCookie?.['namespace:n1'], second, 'the recreated namespace\'s cookie recorded');
    fs.writeFileSync(path.join(sb.configDir, 'network.yaml'), withN1);
    const p = sb.run(['plan', '--detailed-exitcode']);
    assert.equal(p.code, 0, p.stdout + p.stderr);
    // And destroy removes it: it is Voltron's.
    assert.equal(sb.run(['destroy', '--auto-approve']).code, 0);
    assert.deepEqual(sb.namespaces(), []);
  });

  it('in an adopted namespace someone recreated, the links now there are not Voltron\'s: not pruned, a declared one refused; the namespace stays adopted', () => {
    // A new namespace starts with the host's ip_forward (IPv4 inherits init_net's): declare the other value.
    const forward = fs.readFileSync('/proc/sys/net/ipv4/ip_forward', 'utf8').trim() === '0' ? 1 : 0;
    const withSysctl = (links: string) => `namespaces:\n  - name: n1\n    sysctls: { net.ipv4.ip_forward: ${forward} }\nlinks:\n  - { name: b0, type: bridge }\n${links}`;
    const sb = make('fna', withSysctl('  - { name: b1, type: bridge, namespace: n1 }\n  - { name: b2, type: bridge, namespace: n1 }\n'));
    execFileSync('ip', ['netns', 'add', sb.ns('n1')]); // there before Voltron: adopted, not owned
    assert.equal(sb.run(['apply', '--auto-approve']).code, 0);
    const first = inventoryOf(sb);
    assert.equal(first.owned['namespace:n1'], undefined, 'adopted, not owned');
    assert.match(first.netnsCookie?.['namespace:n1'] ?? '', /^\d+$/, 'its cookie recorded: Voltron owns links in it');
    squat(sb, 'n1'); // b1 again, with the index Voltron's b1 had
    const r = sb.run(['plan']);
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.match(r.stderr, /link n1\/b1 \(bridge\): the link Voltron created is gone, and one it did not create now holds its name \(in namespace n1, recreated since Voltron's last apply: netns cookie \d+, was \d+\)/);
    assert.doesNotMatch(r.stderr, /namespace n1: the namespace Voltron created is gone/, 'the namespace itself is not refused: Voltron never made it');
    // b1 leaves the config: the foreign b1 is not pruned; b2 (gone with the old namespace) and the sysctl are made again.
    fs.writeFileSync(path.join(sb.configDir, 'network.yaml'), withSysctl('  - { name: b2, type: bridge, namespace: n1 }\n'));
    const p = sb.run(['plan', '-o', 'json']);
    assert.equal(p.code, 0, p.stdout + p.stderr);
    const plan = JSON.parse(p.stdout).changes.map((c: { action: string; key: string }) => `${c.action} ${c.key}`);
    assert.deepEqual(plan, ['update sysctl:n1/net.ipv4.ip_forward', 'create link:n1/b2']);
    const a = sb.run(['apply', '--auto-approve']);
    assert.equal(a.code, 0, a.stdout + a.stderr);
    assert.deepEqual(linksIn(sb, 'n1'), ['b1', 'b2', 'f1', 'lo']);
    const inv = inventoryOf(sb);
    assert.equal(inv.owned['link:n1/b1'], undefined, 'the foreign b1 is not owned');
    assert.ok(inv.owned['link:n1/b2'] !== undefined && inv.owned['sysctl:n1/net.ipv4.ip_forward'] !== undefined);
    assert.notEqual(inv.netnsCookie?.['namespace:n1'], first.netnsCookie?.['namespace:n1'], 'the new namespace\'s cookie recorded');
    assert.equal(sb.run(['plan', '--detailed-exitcode']).code, 0);
    // Destroy removes what Voltron made in it, not the adopted namespace nor the foreign links.
    assert.equal(sb.run(['destroy', '--auto-approve']).code, 0);
    assert.deepEqual(sb.namespaces(), [sb.ns('n1')]);
    assert.deepEqual(linksIn(sb, 'n1'), ['b1', 'f1', 'lo']);
  });

  it('a namespace named root cannot be sandboxed: refused before any kernel write', () => {
    const sb = make('frr', 'namespaces:\n  - name: root\nlinks:\n  - { name: b1, type: bridge, namespace: root }\n');
    const v = sb.run(['validate']);
    assert.equal(v.code, 0, v.stdout + v.stderr); // valid on a host: only the sandbox mapping clashes
    for (const cmd of [['plan'], ['apply', '--auto-approve']]) {
      const r = sb.run(cmd);
      assert.equal(r.code, 1, r.stdout + r.stderr);
      assert.match(r.stderr, /network\.yaml:2:\d+: namespace 'root' cannot be used with --sandbox/);
    }
    assert.deepEqual(sb.namespaces(), []);
  });

  it('the root namespace\'s neigh.default sysctls cannot be sandboxed: refused before any kernel write', () => {
    // They exist in the host's initial namespace only; the sandbox's root is a namespace like any other.
    const sb = make('fnd', 'sysctls:\n  net.ipv4.ip_forward: 1\n  net.ipv6.neigh.default.gc_thresh1: 256\nlinks:\n  - { name: b1, type: bridge }\n');
    const v = sb.run(['validate']);
    assert.equal(v.code, 0, v.stdout + v.stderr); // valid on a host
    for (const cmd of [['plan'], ['apply', '--auto-approve']]) {
      const r = sb.run(cmd);
      assert.equal(r.code, 1, r.stdout + r.stderr);
      assert.match(r.stderr, /network\.yaml:3:\d+: sysctl 'net\.ipv6\.neigh\.default\.gc_thresh1' cannot be used with --sandbox: neigh\.default exists only in the host's initial namespace/);
      assert.doesNotMatch(r.stderr, /ip_forward/);
    }
    assert.deepEqual(sb.namespaces(), []);
  });

  it('a sysctl the kernel does not have is refused before any kernel write, naming its line', () => {
    // A typo, in a namespace the apply would create (a throwaway namespace is asked).
    // And a key only the host's initial namespace has (a new namespace lacks it).
    const sb = make('fns', 'namespaces:\n  - name: a\n    sysctls:\n      net.core.netdev_max_backlog: 2000\nlinks:\n  - { name: b1, type: bridge }\nsysctls:\n  net.ipv4.conf.b1.forwarding: 1\n  net.ipv4.no_such_key: 1\n');
    for (const cmd of [['plan'], ['apply', '--auto-approve']]) {
      const r = sb.run(cmd);
      assert.equal(r.code, 1, r.stdout + r.stderr);
      assert.match(r.stderr, /network\.yaml:9:3: sysctl \(root\) net\.ipv4\.no_such_key: a new namespace would have no such sysctl/);
      assert.match(r.stderr, /network\.yaml:4:7: sysctl a net\.core\.netdev_max_backlog: a new namespace would have no such sysctl/);
      assert.doesNotMatch(r.stderr, /b1\.forwarding/, 'a key of a device the plan creates is not judged');
    }
    assert.deepEqual(sb.namespaces(), []);
    // In namespaces that exist: a key only the host's initial namespace has (a new namespace,
    // the sandbox's root included, lacks it), and a device key of an existing device.
    fs.writeFileSync(path.join(sb.configDir, 'network.yaml'), 'namespaces:\n  - name: a\nlinks:\n  - { name: b1, type: bridge }\n');
    assert.equal(sb.run(['apply', '--auto-approve']).code, 0);
    fs.writeFileSync(
      path.join(sb.configDir, 'network.yaml'),
      'namespaces:\n  - name: a\n    sysctls:\n      net.core.netdev_max_backlog: 2000\nlinks:\n  - { name: b1, type: bridge, mtu: 1400 }\nsysctls:\n  net.ipv4.conf.b1.no_such_key: 1\n',
    );
    const r = sb.run(['apply', '--auto-approve']);
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.match(r.stderr, new RegExp(`network\\.yaml:4:7: sysctl a net\\.core\\.netdev_max_backlog: namespace ${sb.ns('a')} has no such sysctl`));
    assert.match(r.stderr, new RegExp(`network\\.yaml:8:3: sysctl \\(root\\) net\\.ipv4\\.conf\\.b1\\.no_such_key: namespace ${sb.ns('')} has no such sysctl`));
    assert.equal(sb.ipj('', ['link', 'show', 'b1'])[0].mtu, 1500, 'nothing written: the bridge keeps its mtu');
  });

  it('a sysctl value the kernel refuses or keeps otherwise is refused before any kernel write, naming its line', () => {
    // Tried in a throwaway namespace: out of range (EINVAL mid-apply), a device key on its lo,
    // and a spelling the kernel reads back otherwise (the apply never verified). In range: passes.
    const text = (hop: number) =>
      `namespaces:\n  - name: a\n    sysctls:\n      net.ipv6.conf.all.hop_limit: ${hop}\n      net.ipv4.conf.all.arp_ignore: "0x1"\n      net.ipv4.conf.all.rp_filter: 2\n` +
      `links:\n  - { name: b1, type: bridge }\nsysctls:\n  net.ipv6.conf.b1.mtu: 1000\n  net.ipv4.ip_default_ttl: 64\n`;
    const sb = make('fnv', text(300));
    for (const cmd of [['plan'], ['apply', '--auto-approve']]) {
      const r = sb.run(cmd);
      assert.equal(r.code, 1, r.stdout + r.stderr);
      assert.match(r.stderr, /network\.yaml:4:7: sysctl a net\.ipv6\.conf\.all\.hop_limit: the kernel refuses the value '300' \(EINVAL/);
      assert.match(r.stderr, /network\.yaml:5:7: sysctl a net\.ipv4\.conf\.all\.arp_ignore: the kernel keeps the value '0x1' as '1', so the apply would never verify/);
      assert.match(r.stderr, /network\.yaml:10:3: sysctl \(root\) net\.ipv6\.conf\.b1\.mtu: the kernel refuses the value '1000' \(EINVAL/);
      assert.doesNotMatch(r.stderr, /rp_filter|ip_default_ttl/);
    }
    assert.deepEqual(sb.namespaces(), []);
    fs.writeFileSync(path.join(sb.configDir, 'network.yaml'), text(64).replace('"0x1"', '1').replace('mtu: 1000', 'mtu: 1400'));
    const ok = sb.run(['apply', '--auto-approve']);
    assert.equal(ok.code, 0, ok.stdout + ok.stderr);
  });

  it('a bad --sandbox prefix is a usage error, not a crash', () => {
    const dir = configDir('links:\n  - { name: b1, type: bridge }\n');
    dirs.push(dir);
    // '..' would share the host's state dir (<state-dir>/sandbox/..), '.' the sandboxes' parent.
    // (`--sandbox=VALUE`: a separate value starting with '-' is taken for a missing value.)
    for (const bad of ['vt/x', '', 'v'.repeat(41), '..', '.', '.v', '-v']) {
      const r = spawnSync(process.execPath, [path.join(REPO, 'bin/voltron'), 'plan', '-c', dir, `--sandbox=${bad}`, '--state-dir', dir], { encoding: 'utf8' });
      assert.equal(r.status, 1, r.stdout + r.stderr);
      assert.match(r.stderr, /^voltron plan: --sandbox '.*': a prefix of 1 to 40 letters, digits/);
      assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
    }
  });
});

describe('one state dir, two config directories', () => {
  const a = fs.mkdtempSync(path.join(os.tmpdir(), 'voltron-cfga-'));
  const b = fs.mkdtempSync(path.join(os.tmpdir(), 'voltron-cfgb-'));
  fs.writeFileSync(path.join(a, 'net.yaml'), 'links:\n  - { name: br0, type: bridge }\n  - { name: br1, type: bridge }\n');
  fs.writeFileSync(path.join(b, 'net.yaml'), 'links:\n  - { name: br1, type: bridge }\n');
  const sb = new Sandbox('twocfg', a);
  after(() => {
    sb.cleanup();
    for (const d of [a, b]) fs.rmSync(d, { recursive: true, force: true });
  });

  it('the inventory records the config dir; a plan from another one that prunes says so', () => {
    assert.equal(sb.run(['apply', '--auto-approve']).code, 0);
    const inv = JSON.parse(fs.readFileSync(path.join(sb.stateDir, 'sandbox', sb.prefix, 'inventory.json'), 'utf8')) as { configDir?: string };
    assert.equal(inv.configDir, fs.realpathSync(a));
    const p = sb.run(['plan'], { config: b });
    assert.equal(p.code, 0, p.stderr);
    assert.match(p.stdout, /- link \(root\)\/br0/);
    assert.match(p.stderr, /last applied from the config .*voltron-cfga-\w+; this config \(.*voltron-cfgb-\w+\) does not declare 1 object/);
    assert.equal(sb.run(['plan']).stderr, '', 'the same config: no warning');
    assert.equal(sb.run(['destroy', '--auto-approve']).code, 0);
  });
});
