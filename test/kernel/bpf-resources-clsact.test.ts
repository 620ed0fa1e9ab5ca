// Real kernel: a declared bpf program on a clsact hook (cls_bpf direct-action filter) through the
// CLI. A sandbox namespace pair joined by a veth, a counter on va's clsact ingress; `tc -j filter
// show` is the independent oracle. Then an in-place update to counter_v2 (same filter
// handle/priority, counts continue), a filter deleted behind our back (re-attached), a new
// direction (replace), removal (filter and the clsact Voltron created go, pins go), a clsact
// that existed before (kept), and destroy (nothing left).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { BpfMap, BpfProgram, isBpffs } from '../../src/kernel/libbpf';
import { CLSACT_DEFAULT_PRIORITY, bpfRoot, readMeta } from '../../src/kernel/bpf';
import { MNT_DETACH, libc } from '../../src/kernel/libc';
import { REPO, Sandbox } from '../support/sandbox';

const OBJ = path.join(REPO, 'dist/bpf');
const net = `10.${(randomBytes(1)[0]! % 200) + 20}.${randomBytes(1)[0]!}`;
const IP_A = `${net}.1`;
const IP_B = `${net}.2`;

function writeConfig(dir: string, prog?: { object: string; program: string; direction?: string }): void {
  fs.writeFileSync(
    path.join(dir, 'network.yaml'),
    `namespaces:\n  - name: a\n  - name: b\n` +
      `links:\n  - name: va\n    namespace: a\n    type: veth\n    peer: { name: vb, namespace: b }\n` +
      `addresses:\n  - { address: ${IP_A}/24, dev: va, namespace: a }\n  - { address: ${IP_B}/24, dev: vb, namespace: b }\n` +
      (prog
        ? `bpf:\n  programs:\n    - name: counter\n      object: ${prog.object}\n      program: ${prog.program}\n` +
          `      attach: { type: clsact, namespace: a, dev: va, direction: ${prog.direction ?? 'ingress'} }\n      maps: [ counters ]\n`
        : ''),
  );
}

interface TcFilterJson {
  kind: string;
  pref: number;
  options?: { handle?: string; bpf_name?: string; 'direct-action'?: boolean; prog?: { id: number; tag: string } };
}

/** Oracle: `tc -j filter show dev va ingress` in namespace a, entries carrying a handle. */
function tcFilters(sb: Sandbox, direction: 'ingress' | 'egress' = 'ingress'): TcFilterJson[] {
  const out = execFileSync('tc', ['-j', '-n', sb.ns('a'), 'filter', 'show', 'dev', 'va', direction], { encoding: 'utf8' }).trim();
  return ((out ? JSON.parse(out) : []) as TcFilterJson[]).filter((f) => f.options?.handle !== undefined);
}

function qdiscKinds(sb: Sandbox): string[] {
  const out = execFileSync('tc', ['-j', '-n', sb.ns('a'), 'qdisc', 'show', 'dev', 'va'], { encoding: 'utf8' }).trim();
  return ((out ? JSON.parse(out) : []) as { kind: string }[]).map((q) => q.kind);
}

/** Packets in a slot of the per-CPU `counters` map, summed over CPUs. */
function packets(root: string, slot: number): bigint {
  const m = BpfMap.openPinned(path.join(root, 'counter/maps/counters'));
  try {
    return m.lookupU64Fields(slot)![0]!;
  } finally {
    m.close();
  }
}

function pinnedProg(root: string): { id: number; tag: string } {
  const p = BpfProgram.openPinned(path.join(root, 'counter/prog'));
  try {
    return { id: p.id, tag: p.tag };
  } finally {
    p.close();
  }
}

/** Best-effort: remove the pins and the bpffs root whatever happened (clsact filters die with the namespaces). */
function scrubBpffs(root: string): void {
  if (!fs.existsSync(root)) return;
  for (const f of fs.readdirSync(root)) if (!f.endsWith('.debug')) fs.rmSync(path.join(root, f), { recursive: true, force: true });
  if (isBpffs(root) && !isBpffs(path.dirname(root))) libc.umount2(root, MNT_DETACH);
  fs.rmSync(root, { recursive: true, force: true });
}

/**
 * A config dir and sandbox for one suite, with the objects built before it; after it: destroy,
 * then remove pins, sandbox and config whatever happened.
 */
function clsactSuite(tag: string): { cfg: string; sb: Sandbox; root: string } {
  const cfg = fs.mkdtempSync(path.join(os.tmpdir(), 'voltron-bpfcls-'));
  const sb = new Sandbox(tag, cfg);
  const root = bpfRoot(sb.prefix);
  before(() => {
    execFileSync('bash', [path.join(REPO, 'scripts/build-bpf.sh')], { stdio: 'pipe' });
  });
  after(() => {
    try {
      sb.run(['destroy', '--auto-approve']);
    } catch {
      // keep cleaning
    }
    scrubBpffs(root);
    sb.cleanup();
    fs.rmSync(cfg, { recursive: true, force: true });
  });
  return { cfg, sb, root };
}

describe('bpf program on clsact as a declared resource (real kernel, via the CLI)', () => {
  const { cfg, sb, root } = clsactSuite('bcl');
  let first: TcFilterJson | undefined;
  let v1Tag = '';

  before(() => {
    writeConfig(cfg, { object: path.join(OBJ, 'counter.bpf.o'), program: 'count_packets' });
  });


  it('applies a counter on va clsact ingress: tc shows the bpf filter, the pinned map counts pings', () => {
    const r = sb.run(['apply', '--auto-approve']);
    assert.equal(r.code, 0, r.stderr + r.stdout);
    assert.match(r.stdout, /created: bpf program counter/);
    const fs1 = tcFilters(sb);
    assert.equal(fs1.length, 1, JSON.stringify(fs1));
    first = fs1[0]!;
    assert.equal(first.kind, 'bpf');
    assert.equal(first.pref, CLSACT_DEFAULT_PRIORITY);
    assert.equal(first.options?.['direct-action'], true);
    assert.deepEqual(tcFilters(sb, 'egress'), [], 'nothing on egress');
    assert.ok(qdiscKinds(sb).includes('clsact'));
    const meta = readMeta(path.join(root, 'counter'));
    assert.ok(meta);
    assert.equal(meta.attach.type, 'clsact');
    assert.equal(meta.linkId, 0);
    assert.equal(meta.clsactCreated, true, 'va had no clsact before');
    assert.equal(meta.target.priority, first.pref);
    assert.equal(meta.target.handle, parseInt(first.options!.handle!, 16));
    assert.equal(meta.target.direction, 'ingress');
    const pinned = pinnedProg(root);
    assert.equal(pinned.id, first.options?.prog?.id, 'the pinned prog is the one in the filter');
    assert.equal(pinned.tag, first.options?.prog?.tag);
    assert.equal(meta.tag, pinned.tag);
    assert.equal(fs.existsSync(path.join(root, 'counter/link')), false, 'no link for clsact');
    v1Tag = pinned.tag;
    assert.equal(sb.pingUntil('b', [IP_A]).code, 0);
    const before = packets(root, 0);
    const p = sb.exec('b', ['ping', '-c', '5', '-i', '0.05', '-W', '1', IP_A]);
    assert.equal(p.code, 0, p.stdout + p.stderr);
    assert.ok(packets(root, 0) - before >= 5n, `counted ${packets(root, 0) - before} packets for 5 pings`);
    assert.equal(packets(root, 1), 0n, 'slot 1 is only filled by counter_v2');
  });

  it('re-plans to nothing; show lists the filter', () => {
    const p = sb.run(['plan', '--detailed-exitcode']);
    assert.equal(p.code, 0, p.stdout + p.stderr);
    assert.match(p.stdout, /No changes/);
    const s = sb.run(['show']);
    assert.equal(s.code, 0, s.stderr);
    assert.match(s.stdout, /counter/);
  });

  it('a changed object is an in-place filter replace: same handle/priority, counting continues', async () => {
    writeConfig(cfg, { object: path.join(OBJ, 'counter_v2.bpf.o'), program: 'count_packets_v2' });
    const p = sb.run(['plan']);
    assert.equal(p.code, 0, p.stdout + p.stderr);
    assert.match(p.stdout, /~ bpf program counter/);
    assert.match(p.stdout, new RegExp(`tag.*${v1Tag}.*→`), p.stdout);
    assert.match(p.stdout, /0 to add, 1 to change, 0 to replace, 0 to destroy/);
    const before = packets(root, 0);
    const ping = spawn('ip', ['netns', 'exec', sb.ns('b'), 'ping', '-c', '300', '-i', '0.01', '-W', '1', IP_A], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    ping.stdout.on('data', (d) => (out += d));
    const done = new Promise<void>((resolve) => ping.on('exit', () => resolve()));
    await new Promise((r) => setTimeout(r, 300));
    const r = sb.run(['apply', '--auto-approve']);
    await done;
    assert.equal(r.code, 0, r.stderr + r.stdout);
    assert.match(r.stdout, /updated: bpf program counter/);
    const received = Number(/(\d+) received/.exec(out)?.[1] ?? '0');
    assert.ok(received >= 250, `ping received ${received}/300`);
    const counted = packets(root, 0) - before;
    assert.ok(counted >= BigInt(received), `slot 0 counted ${counted} ≥ ${received} replied echo requests: no reset, no gap`);
    const now = tcFilters(sb);
    assert.equal(now.length, 1, JSON.stringify(now));
    assert.equal(now[0]!.pref, first!.pref, 'same priority');
    assert.equal(now[0]!.options?.handle, first!.options?.handle, 'same handle');
    assert.notEqual(now[0]!.options?.prog?.tag, v1Tag);
    const pinned = pinnedProg(root);
    assert.equal(pinned.id, now[0]!.options?.prog?.id, 'prog pin follows the filter');
    assert.equal(readMeta(path.join(root, 'counter'))?.tag, pinned.tag);
    assert.ok(packets(root, 1) > 0n, 'counter_v2 runs (slot 1 counts)');
    const again = sb.run(['plan', '--detailed-exitcode']);
    assert.equal(again.code, 0, again.stdout + again.stderr);
    assert.match(again.stdout, /No changes/);
  });

  it('a filter removed behind our back reads detached and is re-attached', () => {
    execFileSync('tc', ['-n', sb.ns('a'), 'filter', 'del', 'dev', 'va', 'ingress', 'pref', String(CLSACT_DEFAULT_PRIORITY)]);
    assert.deepEqual(tcFilters(sb), []);
    const p = sb.run(['plan']);
    assert.match(p.stdout, /tag: detached → [0-9a-f]{16}/, p.stdout);
    const r = sb.run(['apply', '--auto-approve']);
    assert.equal(r.code, 0, r.stderr + r.stdout);
    const now = tcFilters(sb);
    assert.equal(now.length, 1, JSON.stringify(now));
    assert.equal(now[0]!.options?.prog?.id, pinnedProg(root).id);
    assert.equal(sb.run(['plan', '--detailed-exitcode']).code, 0);
  });

  it('a new direction is a replace: egress filter attached, ingress one removed, clsact and maps kept', () => {
    writeConfig(cfg, { object: path.join(OBJ, 'counter_v2.bpf.o'), program: 'count_packets_v2', direction: 'egress' });
    const p = sb.run(['plan']);
    assert.match(p.stdout, /0 to add, 0 to change, 1 to replace, 0 to destroy/, p.stdout);
    const before = packets(root, 0);
    const r = sb.run(['apply', '--auto-approve']);
    assert.equal(r.code, 0, r.stderr + r.stdout);
    assert.deepEqual(tcFilters(sb, 'ingress'), []);
    const eg = tcFilters(sb, 'egress');
    assert.equal(eg.length, 1, JSON.stringify(eg));
    assert.equal(eg[0]!.options?.prog?.id, pinnedProg(root).id);
    const meta = readMeta(path.join(root, 'counter'));
    assert.equal(meta?.target.direction, 'egress');
    assert.equal(meta?.clsactCreated, true, 'still the clsact Voltron created');
    assert.equal(sb.exec('b', ['ping', '-c', '3', '-i', '0.05', '-W', '1', IP_A]).code, 0);
    assert.ok(packets(root, 0) >= before + 3n, 'same map, counting the replies on egress');
    assert.equal(sb.run(['plan', '--detailed-exitcode']).code, 0);
  });

  it('removing the program deletes the filter, the clsact it created and the pins', () => {
    writeConfig(cfg);
    const r = sb.run(['apply', '--auto-approve']);
    assert.equal(r.code, 0, r.stderr + r.stdout);
    assert.match(r.stdout, /deleted: bpf program counter/);
    assert.deepEqual(tcFilters(sb), []);
    assert.deepEqual(tcFilters(sb, 'egress'), []);
    assert.ok(!qdiscKinds(sb).includes('clsact'), `clsact removed: ${qdiscKinds(sb).join(',')}`);
    assert.equal(fs.existsSync(path.join(root, 'counter')), false);
    assert.equal(sb.run(['plan', '--detailed-exitcode']).code, 0);
  });

  it('a foreign filter at our priority is refused before any write and left alone; nothing leaks', () => {
    execFileSync('tc', ['-n', sb.ns('a'), 'qdisc', 'add', 'dev', 'va', 'clsact']);
    // tc loads its own copy of the counter: a foreign filter at the same pref, handle 1, same tag.
    execFileSync('tc', ['-n', sb.ns('a'), 'filter', 'add', 'dev', 'va', 'ingress', 'pref', String(CLSACT_DEFAULT_PRIORITY), 'bpf', 'da', 'obj', path.join(OBJ, 'counter.bpf.o'), 'sec', 'tc']);
    const foreign = tcFilters(sb);
    assert.equal(foreign.length, 1, JSON.stringify(foreign));
    writeConfig(cfg, { object: path.join(OBJ, 'counter.bpf.o'), program: 'count_packets' });
    const r = sb.run(['apply', '--auto-approve']);
    assert.notEqual(r.code, 0, r.stdout);
    assert.match(r.stderr, new RegExp(`refusing to plan:[^]*pref ${CLSACT_DEFAULT_PRIORITY} holds a tc filter Voltron did not put there`), r.stderr);
    const left = tcFilters(sb);
    assert.equal(left.length, 1, JSON.stringify(left));
    assert.equal(left[0]!.options?.prog?.id, foreign[0]!.options?.prog?.id, 'the foreign filter is untouched');
    assert.equal(fs.existsSync(path.join(root, 'counter')), false, 'no pins left from the failed create');
    execFileSync('tc', ['-n', sb.ns('a'), 'filter', 'del', 'dev', 'va', 'ingress', 'pref', String(CLSACT_DEFAULT_PRIORITY)]);
  });

  it('a clsact that existed before is kept; destroy leaves no filter, no pins, no namespaces', () => {
    assert.ok(qdiscKinds(sb).includes('clsact'), 'clsact added by the previous test (not by Voltron)');
    writeConfig(cfg, { object: path.join(OBJ, 'counter.bpf.o'), program: 'count_packets' });
    const a = sb.run(['apply', '--auto-approve']);
    assert.equal(a.code, 0, a.stderr + a.stdout);
    assert.equal(readMeta(path.join(root, 'counter'))?.clsactCreated, false);
    assert.equal(tcFilters(sb).length, 1);
    writeConfig(cfg);
    const r = sb.run(['apply', '--auto-approve']);
    assert.equal(r.code, 0, r.stderr + r.stdout);
    assert.deepEqual(tcFilters(sb), []);
    assert.ok(qdiscKinds(sb).includes('clsact'), 'pre-existing clsact kept');
    writeConfig(cfg, { object: path.join(OBJ, 'counter.bpf.o'), program: 'count_packets' });
    assert.equal(sb.run(['apply', '--auto-approve']).code, 0);
    const id = pinnedProg(root).id;
    const d = sb.run(['destroy', '--auto-approve']);
    assert.equal(d.code, 0, d.stderr + d.stdout);
    const ids = (JSON.parse(execFileSync('bpftool', ['-j', 'prog', 'show'], { encoding: 'utf8' }) || '[]') as { id: number }[]).map((x) => x.id);
    assert.ok(!ids.includes(id), `program ${id} freed (no filter, no pin holds it)`);
    assert.equal(fs.existsSync(root), false, `${root} removed`);
    assert.deepEqual(sb.namespaces(), []);
  });
});

describe('a filter someone else put where our clsact program was (real kernel, via the CLI)', () => {
  const { cfg, sb, root } = clsactSuite('bcf');
  let foreign: TcFilterJson | undefined;

  before(() => {
    writeConfig(cfg, { object: path.join(OBJ, 'counter.bpf.o'), program: 'count_packets' });
  });


  it('ours deleted by hand and another added with plain `tc filter add ... bpf` (pref 49152, handle 1): plan refuses, naming it', () => {
    const a = sb.run(['apply', '--auto-approve']);
    assert.equal(a.code, 0, a.stderr + a.stdout);
    execFileSync('tc', ['-n', sb.ns('a'), 'filter', 'del', 'dev', 'va', 'ingress', 'pref', String(CLSACT_DEFAULT_PRIORITY)]);
    // No pref given, as users type it: tc picks 49152 and handle 1, our filter's place.
    execFileSync('tc', ['-n', sb.ns('a'), 'filter', 'add', 'dev', 'va', 'ingress', 'bpf', 'da', 'obj', path.join(OBJ, 'counter_v2.bpf.o'), 'sec', 'tc']);
    const now = tcFilters(sb);
    assert.equal(now.length, 1, JSON.stringify(now));
    foreign = now[0]!;
    assert.equal(foreign.pref, CLSACT_DEFAULT_PRIORITY);
    assert.equal(foreign.options?.handle, '0x1');
    const p = sb.run(['plan']);
    assert.equal(p.code, 1, p.stdout + p.stderr);
    assert.match(p.stderr, new RegExp(`bpf program counter: clsact ingress on a/va, pref ${CLSACT_DEFAULT_PRIORITY} holds a tc filter Voltron did not put there \\(bpf handle 0x1 .*prog id ${foreign.options!.prog!.id}`), p.stderr);
    assert.match(p.stderr, new RegExp(`tc -n ${sb.ns('a')} filter del dev va ingress pref ${CLSACT_DEFAULT_PRIORITY}`));
    const r = sb.run(['apply', '--auto-approve']);
    assert.notEqual(r.code, 0, r.stdout);
    const left = tcFilters(sb);
    assert.equal(left.length, 1, JSON.stringify(left));
    assert.equal(left[0]!.options?.prog?.id, foreign.options?.prog?.id, 'its program was not swapped for ours');
  });

  it('the same object (same tag) is no reason to take it for ours', () => {
    execFileSync('tc', ['-n', sb.ns('a'), 'filter', 'replace', 'dev', 'va', 'ingress', 'pref', String(CLSACT_DEFAULT_PRIORITY), 'handle', '1', 'bpf', 'da', 'obj', path.join(OBJ, 'counter.bpf.o'), 'sec', 'tc']);
    foreign = tcFilters(sb)[0]!;
    const p = sb.run(['plan', '--detailed-exitcode']);
    assert.equal(p.code, 1, p.stdout + p.stderr);
    assert.match(p.stderr, /holds a tc filter Voltron did not put there/);
  });

  it('removing the program leaves that filter and the clsact it stands on; our pins go', () => {
    writeConfig(cfg);
    const r = sb.run(['apply', '--auto-approve']);
    assert.equal(r.code, 0, r.stderr + r.stdout);
    assert.match(r.stdout, /deleted: bpf program counter/);
    const left = tcFilters(sb);
    assert.equal(left.length, 1, JSON.stringify(left));
    assert.equal(left[0]!.options?.prog?.id, foreign!.options?.prog?.id, 'the foreign filter is untouched');
    assert.ok(qdiscKinds(sb).includes('clsact'), 'the clsact still carries a filter');
    assert.equal(fs.existsSync(path.join(root, 'counter')), false);
  });
});

describe('a clsact made by the program and declared later is the config\'s (real kernel, via the CLI)', () => {
  const { cfg, sb, root } = clsactSuite('bcd');
  const declareClsact = () => fs.appendFileSync(path.join(cfg, 'network.yaml'), `qdiscs:\n  - { namespace: a, dev: va, kind: clsact }\n`);



  it('the program makes the clsact; declaring it afterwards adopts it as it is', () => {
    writeConfig(cfg, { object: path.join(OBJ, 'counter.bpf.o'), program: 'count_packets' });
    const a = sb.run(['apply', '--auto-approve']);
    assert.equal(a.code, 0, a.stderr + a.stdout);
    assert.equal(readMeta(path.join(root, 'counter'))?.clsactCreated, true);
    declareClsact();
    const p = sb.run(['apply', '--auto-approve']);
    assert.equal(p.code, 0, p.stderr + p.stdout);
    assert.match(p.stdout, /No changes/);
  });

  it('removing the program keeps the declared clsact: the apply converges (it deleted it, failed to verify and rolled back)', () => {
    writeConfig(cfg);
    declareClsact();
    const r = sb.run(['apply', '--auto-approve']);
    assert.equal(r.code, 0, r.stderr + r.stdout);
    assert.match(r.stdout, /deleted: bpf program counter/);
    assert.ok(qdiscKinds(sb).includes('clsact'), `declared clsact kept: ${qdiscKinds(sb).join(',')}`);
    assert.equal(fs.existsSync(path.join(root, 'counter')), false);
    assert.equal(sb.run(['plan', '--detailed-exitcode']).code, 0);
  });

  it('so does moving the program to the peer (replace) in the edit that declares the clsact', () => {
    execFileSync('tc', ['-n', sb.ns('a'), 'qdisc', 'del', 'dev', 'va', 'clsact']);
    writeConfig(cfg, { object: path.join(OBJ, 'counter.bpf.o'), program: 'count_packets' });
    assert.equal(sb.run(['apply', '--auto-approve']).code, 0);
    assert.equal(readMeta(path.join(root, 'counter'))?.clsactCreated, true);
    fs.writeFileSync(
      path.join(cfg, 'network.yaml'),
      fs.readFileSync(path.join(cfg, 'network.yaml'), 'utf8').replace('attach: { type: clsact, namespace: a, dev: va,', 'attach: { type: clsact, namespace: b, dev: vb,'),
    );
    declareClsact();
    const r = sb.run(['apply', '--auto-approve']);
    assert.equal(r.code, 0, r.stderr + r.stdout);
    assert.match(r.stdout, /replaced: bpf program counter/);
    assert.deepEqual(tcFilters(sb), []);
    assert.ok(qdiscKinds(sb).includes('clsact'), `declared clsact kept: ${qdiscKinds(sb).join(',')}`);
    assert.equal(sb.run(['plan', '--detailed-exitcode']).code, 0);
  });
});
