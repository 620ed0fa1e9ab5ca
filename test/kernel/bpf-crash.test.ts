// Real kernel: an apply SIGKILLed inside a fresh bpf program's create, at every point between its
// first and its last write (VOLTRON_FAULT at=...: the intent record, the map pins, the attach, the
// link pin, the full record). The directory it leaves is Voltron's: `recover` removes all of it
// (the pinned link detached, the clsact filter and the clsact it made deleted), and after
// `recover --abandon` the next apply discards it and creates the program once. `tc -j filter`
// and the link ids read from the pins before recovery are the oracles. A directory with pins but
// no record (made by hand) is refused and never touched.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { AttachType, BpfLink, BpfMap, BpfProgram, MapType, isBpffs } from '../../src/kernel/libbpf';
import { bpfRoot, readMeta } from '../../src/kernel/bpf';
import { ensureRoot } from '../../src/kernel/bpf/paths';
import { MNT_DETACH, libc } from '../../src/kernel/libc';
import { REPO, Sandbox } from '../support/sandbox';

const OBJ = path.join(REPO, 'dist/bpf/counter.bpf.o');

type Kind = 'tcx' | 'clsact';

function config(kind?: Kind, direction = 'ingress'): string {
  return (
    'namespaces: [ { name: a }, { name: b } ]\n' +
    'links:\n  - { name: va, namespace: a, type: veth, peer: { name: vb, namespace: b } }\n' +
    (kind
      ? `bpf:\n  programs:\n    - name: counter\n      object: ${OBJ}\n      program: count_packets\n` +
        `      attach: { type: ${kind}, namespace: a, dev: va, direction: ${direction} }\n      maps: [ counters ]\n`
      : '')
  );
}

/** Every bpf filter on va's clsact ingress (tc's view), as prog ids; and whether a clsact is there. */
function tcState(sb: Sandbox, direction = 'ingress'): { progs: number[]; clsact: boolean } {
  const f = execFileSync('tc', ['-j', '-n', sb.ns('a'), 'filter', 'show', 'dev', 'va', direction], { encoding: 'utf8' }).trim();
  const q = execFileSync('tc', ['-j', '-n', sb.ns('a'), 'qdisc', 'show', 'dev', 'va'], { encoding: 'utf8' }).trim();
  const filters = (f ? JSON.parse(f) : []) as { options?: { handle?: string; prog?: { id: number } } }[];
  return {
    progs: filters.flatMap((x) => (x.options?.handle !== undefined ? [x.options.prog?.id ?? -1] : [])),
    clsact: ((q ? JSON.parse(q) : []) as { kind: string }[]).some((x) => x.kind === 'clsact'),
  };
}

/** Ids of the links pinned in the program's directory (`link`, `link_new`). */
function pinnedLinks(dir: string): number[] {
  return ['link', 'link_new'].flatMap((n) => {
    const p = path.join(dir, n);
    if (!fs.existsSync(p)) return [];
    const l = BpfLink.openPinned(p);
    try {
      return [l.id];
    } finally {
      l.close();
    }
  });
}

/** Whether link `id` still exists attached to a device (released, or detached: false). */
function attached(id: number): boolean {
  try {
    const l = BpfLink.fromId(id);
    try {
      return !!l.info().ifindex;
    } finally {
      l.close();
    }
  } catch {
    return false;
  }
}

function pinnedProgId(pin: string): number {
  const p = BpfProgram.openPinned(pin);
  try {
    return p.id;
  } finally {
    p.close();
  }
}

function scrubBpffs(root: string): void {
  if (!fs.existsSync(root)) return;
  for (const f of fs.readdirSync(root)) if (!f.endsWith('.debug')) fs.rmSync(path.join(root, f), { recursive: true, force: true });
  if (isBpffs(root) && !isBpffs(path.dirname(root))) libc.umount2(root, MNT_DETACH);
  fs.rmSync(root, { recursive: true, force: true });
}

const POINTS: Record<Kind, readonly string[]> = {
  tcx: ['pending', 'maps', 'attach', 'pin', 'meta'],
  clsact: ['pending', 'maps', 'attach', 'meta'],
};

describe('SIGKILL inside a fresh bpf program create', () => {
  const mk = (text: string): string => {
    const d = fs.mkdtempSync(path.join(os.tmpdir(), 'voltron-bpfkill-'));
    fs.writeFileSync(path.join(d, 'network.yaml'), text);
    return d;
  };
  const cfg = { base: mk(config()), tcx: mk(config('tcx')), clsact: mk(config('clsact')), tcxEgress: mk(config('tcx', 'egress')), clsactEgress: mk(config('clsact', 'egress')) };
  const sb = new Sandbox('bk', cfg.base);
  const root = bpfRoot(sb.prefix);
  const dir = path.join(root, 'counter');

  before(() => {
    execFileSync('bash', [path.join(REPO, 'scripts/build-bpf.sh')], { stdio: 'pipe' });
    const r = sb.run(['apply', '--auto-approve']);
    assert.equal(r.code, 0, r.stdout + r.stderr);
  });
  after(() => {
    try {
      sb.run(['destroy', '--auto-approve']);
    } catch {
      // keep cleaning
    }
    scrubBpffs(root);
    sb.cleanup();
    for (const d of Object.values(cfg)) fs.rmSync(d, { recursive: true, force: true });
  });

  /** Killed at `point`: the directory carries a record (pending) whatever it holds. */
  function killAt(kind: Kind, point: string): { links: number[] } {
    const a = sb.run(['apply', '--auto-approve'], { config: cfg[kind], env: { VOLTRON_FAULT: `step=1,at=${point},kill=1` } });
    assert.equal(a.code, -1, `${kind}/${point}: apply should have died by SIGKILL; got ${a.code}\n${a.stdout}${a.stderr}`);
    assert.equal(readMeta(dir)?.pending, true, `${kind}/${point}: a pending record before anything else`);
    const links = pinnedLinks(dir);
    if (kind === 'tcx' && (point === 'pin' || point === 'meta')) assert.ok(links.some(attached), `${kind}/${point}: the pinned link runs the program`);
    if (kind === 'clsact' && (point === 'attach' || point === 'meta')) assert.equal(tcState(sb).progs.length, 1, `${kind}/${point}: the filter is there`);
    return { links };
  }

  function assertNothing(kind: Kind, point: string, leftover: number[]): void {
    assert.equal(fs.existsSync(root), false, `${kind}/${point}: no pin, no directory: ${fs.existsSync(root) ? fs.readdirSync(root).join(' ') : ''}`);
    for (const id of leftover) assert.equal(attached(id), false, `${kind}/${point}: link ${id} detached`);
    assert.deepEqual(tcState(sb), { progs: [], clsact: false }, `${kind}/${point}: no filter, no clsact`);
  }

  function assertOnce(kind: Kind, point: string, leftover: number[]): void {
    const meta = readMeta(dir);
    assert.ok(meta && !meta.pending, `${kind}/${point}: the full record`);
    for (const id of leftover) assert.equal(attached(id), false, `${kind}/${point}: the killed apply's link ${id} detached`);
    if (kind === 'tcx') {
      const links = pinnedLinks(dir);
      assert.deepEqual(links, [meta.linkId], `${kind}/${point}: one pinned link, the recorded one`);
      assert.equal(attached(meta.linkId), true);
      assert.deepEqual(tcState(sb).progs, []);
    } else assert.deepEqual(tcState(sb).progs, [pinnedProgId(path.join(dir, 'prog'))], `${kind}/${point}: one filter, running the pinned program`);
    assert.ok(fs.existsSync(path.join(dir, 'maps/counters')));
  }

  for (const kind of ['tcx', 'clsact'] as const) {
    it(`${kind}: killed at each point, recover leaves nothing; the next apply after --abandon creates it once; pruned, no pin is left`, () => {
      for (const point of POINTS[kind]) {
        const k1 = killAt(kind, point);
        const r = sb.run(['recover']);
        assert.equal(r.code, 0, `${kind}/${point}: ${r.stdout}${r.stderr}`);
        assert.match(r.stdout, /rollback: delete bpf program counter/, `${kind}/${point}`);
        assertNothing(kind, point, k1.links);

        const k2 = killAt(kind, point);
        assert.equal(sb.run(['recover', '--abandon']).code, 0);
        const s = sb.run(['show'], { config: cfg[kind] });
        assert.equal(s.code, 0, s.stderr);
        const p = sb.run(['plan'], { config: cfg[kind] });
        assert.match(p.stdout, /tag: incomplete →/, `${kind}/${point}: ${p.stdout}`);
        const a = sb.run(['apply', '--auto-approve'], { config: cfg[kind] });
        assert.equal(a.code, 0, `${kind}/${point}: ${a.stdout}${a.stderr}`);
        assertOnce(kind, point, k2.links);
        assert.equal(sb.run(['plan', '--detailed-exitcode'], { config: cfg[kind] }).code, 0, `${kind}/${point}: converged`);

        const d = sb.run(['apply', '--auto-approve']); // base config: the program is pruned
        assert.equal(d.code, 0, d.stdout + d.stderr);
        assertNothing(kind, point, [...k2.links, ...pinnedLinks(dir)]);
      }
    });
  }

  for (const kind of ['tcx', 'clsact'] as const) {
    it(`${kind}: a replace (ingress → egress) killed at each point is undone by recover: attached once, where the record says`, () => {
      const egress = kind === 'tcx' ? cfg.tcxEgress : cfg.clsactEgress;
      assert.equal(sb.run(['apply', '--auto-approve'], { config: cfg[kind] }).code, 0);
      for (const point of POINTS[kind].filter((p) => p !== 'pending' && p !== 'maps')) {
        const a = sb.run(['apply', '--auto-approve'], { config: egress, env: { VOLTRON_FAULT: `step=1,at=${point},kill=1` } });
        assert.equal(a.code, -1, `${kind}/${point}: ${a.stdout}${a.stderr}`);
        const before = readMeta(dir)!;
        assert.equal(before.next?.attach.direction, 'egress', `${kind}/${point}: the new attachment named before it is made`);
        const made = pinnedLinks(dir).filter((id) => id !== before.linkId);
        const r = sb.run(['recover']);
        assert.equal(r.code, 0, `${kind}/${point}: ${r.stdout}${r.stderr}`);
        const meta = readMeta(dir)!;
        assert.ok(!meta.next && !meta.pending && meta.attach.direction === 'ingress', `${kind}/${point}: ${JSON.stringify(meta)}`);
        for (const id of made) assert.equal(attached(id), false, `${kind}/${point}: the killed replace's link ${id} detached`);
        if (kind === 'tcx') {
          assert.deepEqual(pinnedLinks(dir), [meta.linkId], `${kind}/${point}`);
          const l = BpfLink.openPinned(path.join(dir, 'link'));
          try {
            assert.equal(l.info().attachType, AttachType.TCX_INGRESS, `${kind}/${point}`);
          } finally {
            l.close();
          }
          assert.equal(attached(meta.linkId), true);
        } else {
          assert.deepEqual(tcState(sb).progs, [pinnedProgId(path.join(dir, 'prog'))], `${kind}/${point}: one ingress filter, ours`);
          assert.deepEqual(tcState(sb, 'egress').progs, [], `${kind}/${point}: no egress filter`);
        }
        assert.equal(sb.run(['plan', '--detailed-exitcode'], { config: cfg[kind] }).code, 0, `${kind}/${point}: converged`);
      }
      assert.equal(sb.run(['apply', '--auto-approve'], { config: egress }).code, 0, 'the replace still works');
      if (kind === 'clsact') assert.deepEqual(tcState(sb).progs, []);
      assert.equal(sb.run(['apply', '--auto-approve']).code, 0);
      assertNothing(kind, 'replace', []);
    });
  }

  it('killed, abandoned, then undeclared: the next apply deletes what the create left; destroy leaves no pin', () => {
    const k = killAt('clsact', 'meta');
    assert.equal(sb.run(['recover', '--abandon']).code, 0);
    const a = sb.run(['apply', '--auto-approve']);
    assert.equal(a.code, 0, a.stdout + a.stderr);
    assert.match(a.stdout, /deleted: bpf program counter/);
    assertNothing('clsact', 'meta', k.links);
    const k2 = killAt('tcx', 'pin');
    assert.equal(sb.run(['recover', '--abandon']).code, 0);
    const d = sb.run(['destroy', '--auto-approve']);
    assert.equal(d.code, 0, d.stdout + d.stderr);
    assert.equal(fs.existsSync(root), false, 'no pin left');
    for (const id of k2.links) assert.equal(attached(id), false);
    assert.equal(sb.run(['apply', '--auto-approve']).code, 0, 'base back for the next test');
  });

  it('a directory holding pins without a record is refused before any write and never touched', () => {
    ensureRoot(root);
    fs.mkdirSync(path.join(dir, 'maps'), { recursive: true });
    const m = BpfMap.create({ type: MapType.ARRAY, keySize: 4, valueSize: 8, maxEntries: 1, name: 'handmade' });
    try {
      m.pin(path.join(dir, 'maps/counters'));
    } finally {
      m.close();
    }
    const a = sb.run(['apply', '--auto-approve'], { config: cfg.tcx });
    assert.equal(a.code, 1, a.stdout + a.stderr);
    assert.match(a.stderr, /counter holds pins but no record of Voltron's .* it is not touched/);
    assert.equal(sb.run(['destroy', '--auto-approve']).code, 0);
    assert.ok(fs.existsSync(path.join(dir, 'maps/counters')), 'the hand-made pin is still there');
    scrubBpffs(root);
  });
});
