// CLI output: large outputs through a pipe, and `show` round-tripping as a config.
// Large outputs through a pipe: `voltron show -o json | jq` must get the whole document
// (stdout to a pipe is asynchronous in Node; exiting early cut it at 64 KiB).
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import YAML from 'yaml';
import { bpfRoot } from '../../src/kernel/bpf';
import { isBpffs } from '../../src/kernel/libbpf';
import { MNT_DETACH, libc } from '../../src/kernel/libc';
import { REPO, Sandbox } from '../support/sandbox';

/** Best-effort: a sandbox's bpffs root is gone after destroy; remove what a failed test left. */
function scrubBpffs(root: string): void {
  if (!fs.existsSync(root)) return;
  for (const f of fs.readdirSync(root)) if (!f.endsWith('.debug')) fs.rmSync(path.join(root, f), { recursive: true, force: true });
  if (isBpffs(root) && !isBpffs(path.dirname(root))) libc.umount2(root, MNT_DETACH);
  fs.rmSync(root, { recursive: true, force: true });
}

const N = 300;

function writeConfig(dir: string): void {
  const lines = ['links:'];
  for (let i = 0; i < N; i++) lines.push(`  - { name: br${i}, type: bridge, mtu: 1500, alias: "a long alias to make the output bigger ${i}" }`);
  lines.push('addresses:');
  for (let i = 0; i < N; i++) lines.push(`  - { address: 10.90.${i >> 8}.${i & 255}/32, dev: br${i} }`);
  fs.writeFileSync(path.join(dir, 'network.yaml'), `${lines.join('\n')}\n`);
}

describe('CLI output through a pipe', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'voltron-out-'));
  writeConfig(dir);
  const sb = new Sandbox('out', dir);
  after(() => {
    sb.cleanup();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('plan -o json, apply and show -o json write every byte (well over 64 KiB)', () => {
    const p = sb.run(['plan', '-o', 'json']);
    assert.equal(p.code, 0, p.stderr);
    assert.ok(p.stdout.length > 65536, `plan output is ${p.stdout.length} bytes: too small to test the pipe limit`);
    const plan = JSON.parse(p.stdout) as { changes: unknown[] };
    assert.equal(plan.changes.length, 2 * N + 1, 'links, addresses and the sandbox root namespace');
    const a = sb.run(['apply', '--auto-approve']);
    assert.equal(a.code, 0, a.stderr + a.stdout.slice(-2000));
    assert.match(a.stdout, /Verified/);
    assert.equal((a.stdout.match(/^ {2}created: /gm) ?? []).length, 2 * N + 1, 'one progress line per change');
    const s = sb.run(['show', '-o', 'json']);
    assert.equal(s.code, 0, s.stderr);
    assert.ok(s.stdout.length > 65536);
    const state = JSON.parse(s.stdout) as { links: { name: string; owned?: boolean; alias?: string }[] };
    const ours = state.links.filter((l) => /^br\d+$/.test(l.name));
    assert.equal(ours.length, N);
    assert.ok(ours.every((l) => l.owned === true && l.alias?.startsWith('a long alias')));
  });
});

// `show` prints live state in the config format: fed back as a config it must validate and plan
// empty against the same kernel (examples, veth pairs of every shape, ignore, -n).
describe('show output round-trips as a config', () => {
  const tmp: string[] = [];
  const sandboxes: Sandbox[] = [];
  after(() => {
    for (const sb of sandboxes) {
      sb.run(['destroy', '--auto-approve']);
      sb.cleanup();
      scrubBpffs(bpfRoot(sb.prefix));
    }
    for (const d of tmp) fs.rmSync(d, { recursive: true, force: true });
  });
  const tempDir = (): string => {
    const d = fs.mkdtempSync(path.join(os.tmpdir(), 'voltron-show-'));
    tmp.push(d);
    return d;
  };
  const applied = (tag: string, config: string): Sandbox => {
    const sb = new Sandbox(tag, config);
    sandboxes.push(sb);
    const a = sb.run(['apply', '--auto-approve']);
    assert.equal(a.code, 0, a.stderr + a.stdout);
    return sb;
  };
  /** show -o yaml into a fresh config dir; it validates and plans empty; JSON is the same document. */
  const roundTrip = (sb: Sandbox): string => {
    const s = sb.run(['show', '-o', 'yaml']);
    assert.equal(s.code, 0, s.stderr);
    const dir = tempDir();
    fs.writeFileSync(path.join(dir, 'shown.yaml'), s.stdout);
    const v = sb.run(['validate'], { config: dir });
    assert.equal(v.code, 0, `${v.stderr}\n---\n${s.stdout}`);
    const p = sb.run(['plan', '--detailed-exitcode'], { config: dir });
    assert.equal(p.code, 0, `${p.stdout}${p.stderr}\n---\n${s.stdout}`);
    const j = sb.run(['show', '-o', 'json']);
    assert.equal(j.code, 0, j.stderr);
    const strip = (v: unknown): unknown =>
      Array.isArray(v) ? v.map(strip) : v && typeof v === 'object' ? Object.fromEntries(Object.entries(v).filter(([k]) => k !== 'owned').map(([k, x]) => [k, strip(x)])) : v;
    assert.deepEqual(strip(JSON.parse(j.stdout)), YAML.parse(s.stdout), '-o json is the same document');
    return s.stdout;
  };

  for (const ex of ['overlay-host', 'srv6-lab', 'bpf-counter']) {
    it(`examples/${ex}`, () => {
      const out = roundTrip(applied('shw', path.join(REPO, 'examples', ex)));
      if (ex === 'bpf-counter') {
        const data = YAML.parse(out) as { bpf: { programs: Record<string, unknown>[] } };
        assert.deepEqual(data.bpf.programs, [
          {
            name: 'counter',
            object: path.join(REPO, 'dist/bpf/counter.bpf.o'),
            program: 'count_packets',
            attach: { type: 'tcx', namespace: 'vbpf-a', dev: 'eth0', direction: 'ingress' },
            maps: ['counters'],
            map_entries: { counters: [{ key: '03 00 00 00', value: '01 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00' }] },
          },
        ]);
      }
      if (ex === 'srv6-lab') assert.match(out, /- name: vlab-h1\n\s+sysctls:\n(\s+# owned\n)?\s+net\.ipv6\.conf\.all\.forwarding: 0\n(\s+# owned\n)?\s+seg6:\n\s+tunsrc: 2001:db8:10::1\n/);
    });
  }

  it('veth pairs (foreign in one namespace, peer down with its own mtu, peer-only namespace), ignore, -n', () => {
    const dir = tempDir();
    fs.writeFileSync(
      path.join(dir, 'net.yaml'),
      [
        'ignore: [ "skip*" ]',
        'namespaces: [ { name: na }, { name: nb }, { name: nc } ]',
        'links:',
        '  - { name: v1, type: veth, peer: { name: v1p, state: down, mtu: 1400 } }',
        '  - { name: v2, type: veth, namespace: na, peer: { name: v2p, namespace: nc, mtu: 1400, state: down } }',
        '  - { name: br0, type: bridge, namespace: nb }',
        '  - { name: v3, type: veth, namespace: na, peer: { name: v3p, namespace: nb, master: br0, alias: "port three" } }',
        'addresses:',
        '  - { address: 10.1.0.1/24, dev: v2p, namespace: nc }',
        '',
      ].join('\n'),
    );
    const sb = applied('shv', dir);
    sb.ip('na', ['link', 'add', 'f1', 'type', 'veth', 'peer', 'name', 'f2']);
    sb.ip('', ['link', 'add', 'skip0', 'type', 'veth', 'peer', 'name', 'skip1']);
    sb.ip('', ['addr', 'add', '10.9.9.9/32', 'dev', 'skip0']);
    const out = roundTrip(sb);
    const data = YAML.parse(out) as { links: { name: string; namespace?: string; peer: Record<string, unknown> }[] };
    const names = data.links.map((l) => l.name);
    assert.equal(names.filter((n) => n === 'f1' || n === 'f2').length, 1, 'a foreign pair in one namespace is printed once');
    assert.deepEqual(
      [data.links.find((l) => l.name === 'v1')?.peer.state, data.links.find((l) => l.name === 'v1')?.peer.mtu],
      ['down', 1400],
      'peer-end settings are kept',
    );
    assert.equal(data.links.find((l) => l.name === 'v3')?.peer.master, 'br0');
    assert.doesNotMatch(out, /skip[01]|10\.9\.9\.9/, 'ignored links and their addresses are hidden');

    // nc holds only the peer end v2p (and its address): -n nc prints it.
    const n = sb.run(['show', '-n', 'nc']);
    assert.equal(n.code, 0, n.stderr);
    const nc = YAML.parse(n.stdout) as { links?: { name: string; namespace?: string; state?: string; mtu?: number; peer: Record<string, unknown> }[]; addresses?: unknown[] };
    assert.deepEqual(
      nc.links?.map((l) => [l.name, l.namespace, l.state, l.mtu, l.peer.name, l.peer.namespace]),
      [['v2p', 'nc', 'down', 1400, 'v2', 'na']],
    );
    assert.deepEqual(nc.addresses, [{ address: '10.1.0.1/24', dev: 'v2p', namespace: 'nc' }]);
    assert.match(n.stdout, /# owned\n\s*- name: v2p/);

    const bogus = sb.run(['show', '-n', 'bogus']);
    assert.equal(bogus.code, 1, bogus.stdout);
    assert.match(bogus.stderr, /namespace 'bogus' does not exist/);
    assert.equal(bogus.stdout, '');
  });

  it('qdiscs (htb, tbf, pfifo, clsact), htb classes and bpf programs on clsact hooks', () => {
    const dir = tempDir();
    const obj = (f: string) => path.join(REPO, 'dist/bpf', f);
    fs.writeFileSync(
      path.join(dir, 'net.yaml'),
      [
        'namespaces: [ { name: tq } ]',
        'links:',
        '  - { name: ta, type: veth, namespace: tq, peer: { name: tb } }',
        'qdiscs:',
        '  - { namespace: tq, dev: ta, parent: root, handle: "1:", kind: htb, default: 10 }',
        '  - { namespace: tq, dev: ta, parent: "1:10", handle: "10:", kind: tbf, rate: 10mbit, burst: 32kb, latency: 50ms }',
        '  - { namespace: tq, dev: ta, parent: "1:20", handle: "20:", kind: pfifo, limit: 100 }',
        '  - { namespace: tq, dev: tb, parent: root, handle: "2:", kind: tbf, rate: 1mbit, burst: 10kb, limit: 20000 }',
        '  - { namespace: tq, dev: tb, kind: clsact }',
        'classes:',
        '  - { namespace: tq, dev: ta, classid: "1:1", rate: 100mbit }',
        '  - { namespace: tq, dev: ta, classid: "1:10", parent: "1:1", rate: 10mbit, ceil: 100mbit }',
        '  - { namespace: tq, dev: ta, classid: "1:20", parent: "1:1", rate: 5mbit }',
        'bpf:',
        '  programs:',
        // on a declared clsact (printed), and on one the attach creates (comes with the program: not printed)
        `    - { name: cnt-tb, object: ${obj('counter.bpf.o')}, program: count_packets, attach: { type: clsact, namespace: tq, dev: tb, direction: egress, priority: 7 }, maps: [ counters ] }`,
        `    - { name: cnt-ta, object: ${obj('counter_v2.bpf.o')}, program: count_packets_v2, attach: { type: clsact, namespace: tq, dev: ta, direction: ingress }, maps: [ counters ] }`,
        '',
      ].join('\n'),
    );
    const sb = applied('sht', dir);
    const out = roundTrip(sb);
    const data = YAML.parse(out) as Record<string, Record<string, unknown>[]> & { bpf: { programs: Record<string, unknown>[] } };
    assert.doesNotMatch(out, /tclasss|tfilters|bpfs|options:|qdisc:|tag:/, 'no model-only keys');
    assert.equal(data.filters, undefined, "a clsact program's filter is printed as the program");
    const q = (dev: string, parent: string) => data.qdiscs!.find((x) => x.dev === dev && x.parent === parent);
    assert.deepEqual(q('ta', '1:10'), { dev: 'ta', parent: '1:10', handle: '10:', kind: 'tbf', rate: '10mbit', burst: '32kb', latency: '50ms', namespace: 'tq' });
    assert.deepEqual(q('ta', 'root'), { dev: 'ta', parent: 'root', handle: '1:', kind: 'htb', default: '10', r2q: 10, namespace: 'tq' });
    assert.deepEqual(q('ta', '1:20'), { dev: 'ta', parent: '1:20', handle: '20:', kind: 'pfifo', limit: 100, namespace: 'tq' });
    assert.equal(q('tb', 'root')?.rate, '1mbit');
    assert.deepEqual(
      data.qdiscs!.filter((x) => x.kind === 'clsact').map((x) => x.dev),
      ['tb'],
    );
    assert.deepEqual(data.classes, [
      { dev: 'ta', classid: '1:1', rate: '100mbit', ceil: '100mbit', namespace: 'tq' },
      { dev: 'ta', classid: '1:10', parent: '1:1', rate: '10mbit', ceil: '100mbit', namespace: 'tq' },
      { dev: 'ta', classid: '1:20', parent: '1:1', rate: '5mbit', ceil: '5mbit', namespace: 'tq' },
    ]);
    assert.deepEqual(
      data.bpf.programs.map((p) => [p.name, p.program, p.attach]),
      [
        ['cnt-ta', 'count_packets_v2', { type: 'clsact', namespace: 'tq', dev: 'ta', direction: 'ingress' }],
        ['cnt-tb', 'count_packets', { type: 'clsact', namespace: 'tq', dev: 'tb', direction: 'egress', priority: 7 }],
      ],
    );
  });
});

// show reads the live state; a config that does not load was printed as its errors ending in
// "nothing was changed", above the document and with exit 0.
describe('show with a config that does not load', () => {
  const cfg = fs.mkdtempSync(path.join(os.tmpdir(), 'voltron-show-bad-'));
  fs.writeFileSync(path.join(cfg, 'net.yaml'), 'namespaces: [ { name: a } ]\nlinks:\n  - { name: br0, namespace: a, type: bridge }\n');
  const sb = new Sandbox('shb', cfg);
  after(() => {
    sb.run(['destroy', '--auto-approve']);
    sb.cleanup();
    fs.rmSync(cfg, { recursive: true, force: true });
  });

  it('shows the live state with one note saying so', () => {
    assert.equal(sb.run(['apply', '--auto-approve']).code, 0);
    const broken = path.join(cfg, 'broken');
    fs.mkdirSync(broken);
    fs.writeFileSync(path.join(broken, 'net.yaml'), 'links:\n  - { name: x, type: dummy }\n');
    const s = sb.run(['show'], { config: broken });
    assert.equal(s.code, 0, s.stderr);
    assert.match(s.stdout, /- name: br0\n\s+type: bridge/);
    assert.equal(s.stderr, `Note: the config in ${broken} does not load (1 error: see \`voltron validate -c ${broken}\`); showing the live state without it (no ignore: list applied).\n`);
  });
});

describe('colour on a terminal', () => {
  // script(1) gives the CLI a pseudo-terminal. `plan` into a sandbox that does not exist reads
  // nothing and writes nothing.
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'voltron-tty-'));
  fs.writeFileSync(path.join(dir, 'network.yaml'), 'links:\n  - { name: br0, type: bridge }\n');
  const sb = new Sandbox('tty', dir);
  after(() => {
    sb.cleanup();
    fs.rmSync(dir, { recursive: true, force: true });
  });
  const planOnTerminal = (env: Record<string, string>): string => {
    const cmd = `${path.join(REPO, 'bin/voltron')} plan -c ${dir} --sandbox ${sb.prefix} --state-dir ${sb.stateDir}`;
    const r = spawnSync('script', ['-qec', cmd, '/dev/null'], { encoding: 'utf8', env: { ...process.env, NO_COLOR: '', ...env }, timeout: 30_000 });
    assert.equal(r.status, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /2 to add/);
    return r.stdout;
  };

  it('is on for a capable terminal, off for TERM=dumb and with NO_COLOR', () => {
    assert.match(planOnTerminal({ TERM: 'xterm-256color' }), /\x1b\[/);
    assert.doesNotMatch(planOnTerminal({ TERM: 'dumb' }), /\x1b\[/);
    assert.doesNotMatch(planOnTerminal({ TERM: 'xterm-256color', NO_COLOR: '1' }), /\x1b\[/);
    assert.deepEqual(sb.namespaces(), []);
  });
});
