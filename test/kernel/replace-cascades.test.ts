// Real kernel: what the kernel drops when Voltron recreates a link. For each change that forces a
// replace of link t0 (VXLAN VNI and port, macvlan parent and passthru, veth peer moving
// namespace, type), with every kind of dependent declared on t0: the plan names each dependent
// it recreates and warns of nothing foreign, one apply converges, a second plan is empty, and
// `ip`/`tc`/`bpftool`/`sysctl` (independent of Voltron's read) show the dependents back on the
// new link. Then dependents dropped from the config with the replace stay gone, and a failure at
// any of several steps of a replace restores them. n1 exists before Voltron (adopted), as a
// host's namespace would: the kernel chooses a recreated link's ifindex there.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { bpfRoot } from '../../src/kernel/bpf';
import { BpfLink, isBpffs } from '../../src/kernel/libbpf';
import { MNT_DETACH, libc } from '../../src/kernel/libc';
import { REPO, Sandbox } from '../support/sandbox';

const OBJ = path.join(REPO, 'dist/bpf/counter.bpf.o');

interface Cell {
  readonly name: string;
  /** The declaration of t0 before and after the change. */
  readonly from: string;
  readonly to: string;
  /** t0 is a port of br0 / the parent of a macvlan (the kernel allows either, not both). */
  readonly port: boolean;
  readonly parent: boolean;
  /** Kind and attribute checks of the new t0 (`ip -d -j link`). */
  readonly check: (l: any) => void;
}

const VX = (vni: number, port: number) => `{ name: t0, namespace: n1, type: vxlan, MASTER vxlan: { vni: ${vni}, dstport: ${port}, local: 10.70.0.1, remote: 10.70.0.2, dev: u0 } }`;
const MV = (parent: string, mode: string) => `{ name: t0, namespace: n1, type: macvlan, MASTER macvlan: { parent: ${parent}, mode: ${mode} } }`;
const VE = (ns: string) => `{ name: t0, namespace: n1, type: veth, MASTER peer: { name: t1, namespace: ${ns} } }`;

const CELLS: readonly Cell[] = [
  { name: 'VXLAN VNI', from: VX(10, 4789), to: VX(11, 4789), port: true, parent: false, check: (l) => assert.equal(l.linkinfo.info_data.id, 11) },
  { name: 'VXLAN dstport', from: VX(10, 4789), to: VX(10, 4790), port: false, parent: true, check: (l) => assert.equal(l.linkinfo.info_data.port, 4790) },
  { name: 'macvlan parent', from: MV('u0', 'bridge'), to: MV('w0', 'bridge'), port: true, parent: false, check: (l) => assert.equal(l.link, 'w0') },
  { name: 'macvlan into passthru', from: MV('w0', 'bridge'), to: MV('w0', 'passthru'), port: true, parent: false, check: (l) => assert.equal(l.linkinfo.info_data.mode, 'passthru') },
  { name: 'veth peer namespace', from: VE('n2'), to: VE('n3'), port: false, parent: true, check: (l) => assert.equal(l.linkinfo.info_kind, 'veth') },
  {
    name: 'type (bridge to VXLAN)',
    from: '{ name: t0, namespace: n1, type: bridge }',
    to: VX(10, 4789).replace('MASTER ', ''),
    port: false,
    parent: true,
    check: (l) => assert.equal(l.linkinfo.info_kind, 'vxlan'),
  },
];

/** Everything hung on t0; `parent`: a macvlan on it too. */
function config(t0: string, cell: Cell, dependents = true): string {
  const link = t0.replace('MASTER ', cell.port ? 'master: br0, ' : '');
  const deps = (text: string) => (dependents ? text : '');
  // An address or a route on a bridge port is refused (it never works): a port t0 leaves its own to br0.
  const held = cell.port ? 'br0' : 't0';
  return `namespaces:
  - name: n1
${deps('    sysctls: { net.ipv4.conf.t0.rp_filter: 2, net.ipv6.conf.t0.accept_ra: 0 }\n')}  - name: n2
  - name: n3
links:
  - { name: u0, namespace: n1, type: veth, peer: { name: u1 } }
  - { name: w0, namespace: n1, type: veth, peer: { name: w1 } }
  - { name: br0, namespace: n1, type: bridge }
  - ${link}
${deps('  - { name: vx9, namespace: n1, type: vxlan, vxlan: { vni: 99, local: 10.80.0.1, remote: 10.80.0.9, dev: t0 } }\n')}${deps(cell.parent ? '  - { name: mv9, namespace: n1, type: macvlan, macvlan: { parent: t0, mode: bridge } }\n' : '')}addresses:
  - { namespace: n1, dev: u0, address: 10.70.0.1/24 }
  - { namespace: n1, dev: u0, address: "2001:db8:70::1/64" }
${deps(`  - { namespace: n1, dev: ${held}, address: 10.80.0.1/24 }
  - { namespace: n1, dev: ${held}, address: "2001:db8:80::1/64" }
${cell.parent ? '  - { namespace: n1, dev: mv9, address: 10.81.0.1/24 }\n' : ''}routes:
  - { namespace: n1, to: 10.90.0.0/16, dev: ${held} }
  - { namespace: n1, to: 10.91.0.0/16, via: 10.80.0.254 }
  - { namespace: n1, to: 10.93.0.0/16, dev: u0, src: 10.80.0.1 }
  - { namespace: n1, to: "2001:db8:90::/64", dev: ${held} }
  - { namespace: n1, to: "fc00:1::2/128", dev: u0, encap: { type: seg6local, action: End.DX2, oif: t0 } }
rules:
  - { namespace: n1, priority: 100, iif: t0, table: 100 }
qdiscs:
  - { namespace: n1, dev: t0, parent: root, handle: "1:", kind: htb, default: 10 }
classes:
  - { namespace: n1, dev: t0, classid: "1:10", rate: 10mbit }
bpf:
  programs:
    - { name: cnt-e, object: ${OBJ}, program: count_packets, attach: { type: clsact, namespace: n1, dev: t0, direction: egress }, maps: [ counters ] }
    - { name: cnt-i, object: ${OBJ}, program: count_packets, attach: { type: tcx, namespace: n1, dev: t0, direction: ingress }, maps: [ counters ] }
`)}`;
}

/** Best-effort: the pins and the bpffs root, whatever happened. */
function scrubBpffs(root: string): void {
  if (!fs.existsSync(root)) return;
  for (const f of fs.readdirSync(root)) if (!f.endsWith('.debug')) fs.rmSync(path.join(root, f), { recursive: true, force: true });
  if (isBpffs(root) && !isBpffs(path.dirname(root))) libc.umount2(root, MNT_DETACH);
  fs.rmSync(root, { recursive: true, force: true });
}

/** A sandbox whose n1 exists before the first apply; destroyed and scrubbed after the suite. */
function suite(tag: string): { sb: Sandbox; write: (text: string) => void } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'voltron-casc-'));
  const sb = new Sandbox(tag, dir);
  before(() => {
    execFileSync('bash', [path.join(REPO, 'scripts/build-bpf.sh')], { stdio: 'pipe' });
    execFileSync('ip', ['netns', 'add', sb.ns('n1')]);
  });
  after(() => {
    try {
      sb.run(['destroy', '--auto-approve']);
    } catch {
      // keep cleaning
    }
    scrubBpffs(bpfRoot(sb.prefix));
    sb.cleanup();
    fs.rmSync(dir, { recursive: true, force: true });
  });
  return { sb, write: (text) => fs.writeFileSync(path.join(dir, 'net.yaml'), text) };
}

function applyConverges(sb: Sandbox): string {
  const a = sb.run(['apply', '--auto-approve']);
  assert.equal(a.code, 0, a.stdout + a.stderr);
  const p = sb.run(['plan', '--detailed-exitcode']);
  assert.equal(p.code, 0, `second plan not empty:\n${p.stdout}${p.stderr}`);
  return a.stdout;
}

const sysctl = (sb: Sandbox, key: string): string => sb.exec('n1', ['sysctl', '-n', key]).stdout.trim();

/** What hangs on t0, as `ip`, `tc`, `bpftool` and sysctl show it. */
function dependents(sb: Sandbox): string[] {
  const out: string[] = [];
  const links = sb.ipj('n1', ['-d', 'link', 'show']);
  const t0 = links.find((l: any) => l.ifname === 't0');
  if (t0.master) out.push(`t0 master ${t0.master}`);
  for (const l of links) if (l.link === 't0' || l.linkinfo?.info_data?.link === 't0') out.push(`${l.ifname} on t0`);
  for (const l of sb.ipj('n1', ['addr', 'show', 'dev', 't0'])) for (const a of l.addr_info ?? []) if (a.scope !== 'link') out.push(`addr ${a.local}/${a.prefixlen}`);
  for (const r of [...sb.ipj('n1', ['-4', 'route', 'show', 'table', 'all']), ...sb.ipj('n1', ['-6', 'route', 'show', 'table', 'all'])]) {
    if (r.protocol !== '194') continue;
    out.push(`route ${r.dst} dev=${r.dev} via=${r.gateway ?? '-'} src=${r.prefsrc ?? '-'} oif=${r.oif ?? '-'}`);
  }
  for (const r of sb.ipj('n1', ['rule'])) if (r.iif === 't0') out.push(`rule iif t0${r.iif_detached ? ' detached' : ''}`);
  const tc = (args: string[]) => JSON.parse(execFileSync('tc', ['-j', '-n', sb.ns('n1'), ...args], { encoding: 'utf8' }) || '[]') as any[];
  for (const q of tc(['qdisc', 'show', 'dev', 't0'])) if (q.kind === 'htb' || q.kind === 'clsact') out.push(`qdisc ${q.kind}`);
  // (`tc -j class show` prints htb classes as text.)
  const classes = execFileSync('tc', ['-n', sb.ns('n1'), 'class', 'show', 'dev', 't0'], { encoding: 'utf8' });
  for (const m of classes.matchAll(/^class \S+ (\S+) /gm)) out.push(`class ${m[1]}`);
  for (const f of tc(['filter', 'show', 'dev', 't0', 'egress'])) if (f.options?.handle) out.push(`filter egress ${f.pref} ${f.options['direct-action'] ? 'da' : ''}`);
  // bpftool 7.1 decodes no tcx link: the kernel's own link info, read through the pin.
  const pin = path.join(bpfRoot(sb.prefix), 'cnt-i/link');
  if (fs.existsSync(pin)) {
    const l = BpfLink.openPinned(pin);
    try {
      if (l.info().ifindex === t0.ifindex) out.push('tcx ingress');
    } finally {
      l.close();
    }
  }
  out.push(`rp_filter ${sysctl(sb, 'net.ipv4.conf.t0.rp_filter')}`, `accept_ra ${sysctl(sb, 'net.ipv6.conf.t0.accept_ra')}`);
  return out.sort();
}

for (const [i, cell] of CELLS.entries()) {
  describe(`replace of t0 (${cell.name}) with every kind of dependent, on the real kernel`, () => {
    const { sb, write } = suite(`rc${i}`);
    let base: string[] = [];

    it('applies the base', () => {
      write(config(cell.from, cell));
      applyConverges(sb);
      base = dependents(sb);
      // The oracle sees every dependent kind: a check that looks at nothing proves nothing.
      for (const d of [...(cell.port ? [] : ['addr 10.80.0.1/24', 'addr 2001:db8:80::1/64']), 'qdisc htb', 'qdisc clsact', 'class 1:10', 'tcx ingress', 'rule iif t0', 'rp_filter 2', 'accept_ra 0', 'vx9 on t0']) {
        assert.ok(base.includes(d), `${d} missing: ${base.join(', ')}`);
      }
      assert.ok(base.some((d) => d.startsWith('route fc00:1::2 ') && d.endsWith('oif=t0')), base.join(', '));
      assert.ok(base.some((d) => d.startsWith('filter egress 49152')), base.join(', '));
    });

    it('plans the replace with each dependent it recreates, and nothing foreign lost', () => {
      write(config(cell.to, cell));
      const p = sb.run(['plan']);
      assert.equal(p.code, 0, p.stderr);
      assert.match(p.stdout, /-\/\+ link n1\/t0 /);
      const named = [
        'sysctl n1 net.ipv4.conf.t0.rp_filter',
        'sysctl n1 net.ipv6.conf.t0.accept_ra',
        // (On br0, a port t0's addresses and routes, and the routes through them, stay.)
        ...(cell.port ? [] : ['address n1/t0 10.80.0.1/24', 'address n1/t0 2001:db8:80::1/64', 'route n1 10.91.0.0/16', 'route n1 10.93.0.0/16', 'route n1 10.90.0.0/16', 'route n1 2001:db8:90::/64']),
        'route n1 fc00:1::2/128',
        'qdisc n1/t0 root htb',
        'class n1/t0 1:10',
        'bpf program cnt-e',
        'bpf program cnt-i',
        'link n1/vx9',
        ...(cell.parent ? ['link n1/mv9', 'address n1/mv9 10.81.0.1/24'] : []),
      ];
      for (const n of named) assert.match(p.stdout, new RegExp(`^ {2}[+~] ${n.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}`, 'm'), `${n} not in the plan:\n${p.stdout}`);
      // The filter and clsact qdisc the program's attach made go with it: not foreign losses.
      assert.doesNotMatch(p.stdout, /will be removed by the kernel/, p.stdout);
    });

    it('converges in one apply and the kernel shows every dependent back', () => {
      applyConverges(sb);
      cell.check(sb.ipj('n1', ['-d', 'link', 'show', 't0'])[0]);
      assert.deepEqual(dependents(sb), base);
    });

    it('drops the dependents removed from the config with another replace, without recreating them', () => {
      write(config(cell.from, cell, false));
      const p = sb.run(['plan']);
      assert.doesNotMatch(p.stdout, /^ {2}\+ (address n1\/t0|route|qdisc|class|bpf|link n1\/(vx9|mv9))/m, p.stdout);
      applyConverges(sb);
      const left = dependents(sb).filter((d) => !/^(rp_filter|accept_ra|t0 master) /.test(d));
      assert.deepEqual(left, [], left.join(', '));
      assert.equal(fs.existsSync(path.join(bpfRoot(sb.prefix), 'cnt-i')), false, 'pins of the undeclared program removed');
    });
  });
}

describe('a failed apply of a replace restores the dependents (rollback), on the real kernel', () => {
  const cell = CELLS[0]!;
  const { sb, write } = suite('rcrb');
  let base: string[] = [];
  let steps = 0;

  it('applies the base and counts the steps of the replace', () => {
    write(config(cell.from, cell));
    applyConverges(sb);
    base = dependents(sb);
    write(config(cell.to, cell));
    const p = sb.run(['plan', '-o', 'json']);
    steps = (JSON.parse(p.stdout) as { changes: unknown[] }).changes.length;
    assert.ok(steps >= 8, `${steps} steps`);
  });

  it('fails at the first, a middle and the last step: each time the base is back and plans empty', () => {
    for (const k of [1, Math.ceil(steps / 2), steps]) {
      write(config(cell.to, cell));
      const a = sb.run(['apply', '--auto-approve'], { env: { VOLTRON_FAULT: `step=${k},errno=5` } });
      assert.equal(a.code, 1, `step ${k}: ${a.stdout}${a.stderr}`);
      assert.match(a.stdout + a.stderr, /Rollback complete/);
      write(config(cell.from, cell));
      const p = sb.run(['plan', '--detailed-exitcode']);
      assert.equal(p.code, 0, `step ${k}: ${p.stdout}${p.stderr}`);
      assert.deepEqual(dependents(sb), base, `step ${k}`);
      assert.equal(sb.ipj('n1', ['-d', 'link', 'show', 't0'])[0].linkinfo.info_data.id, 10, `step ${k}: the old VNI is back`);
    }
  });
});
