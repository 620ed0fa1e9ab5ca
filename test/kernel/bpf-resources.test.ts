// Real kernel: bpf.programs[] as declared resources through the CLI. A sandbox namespace pair
// joined by a veth, a tcx counter on one end; then an in-place update to counter_v2 (same link,
// counts continue), a verifier-rejected object (old program keeps counting), a map whose shape
// changed (refused), cgroup_skb + sock_ops on a child cgroup, and destroy (nothing left).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { AttachType, BpfLink, BpfMap, BpfProgram, LinkType, isBpffs } from '../../src/kernel/libbpf';
import { bpfRoot, readMeta } from '../../src/kernel/bpf';
import { MNT_DETACH, libc } from '../../src/kernel/libc';
import { REPO, Sandbox } from '../support/sandbox';

const run = promisify(execFile);
const OBJ = path.join(REPO, 'dist/bpf');
const sfx = randomBytes(3).toString('hex');
const CG_NAME = `${process.env.VOLTRON_TEST_NS_PREFIX ?? 'vt'}${sfx}cg`; // under the run's prefix, like its namespaces
const CG_ROOT = '/sys/fs/cgroup/unified';
const CG = path.join(CG_ROOT, CG_NAME);
const net = `10.${(randomBytes(1)[0]! % 200) + 20}.${randomBytes(1)[0]!}`;
const IP_A = `${net}.1`;
const IP_B = `${net}.2`;

interface Prog {
  name: string;
  object: string;
  program: string;
  attach: string;
  maps: string[];
  entries?: string;
}

const counter = (obj: string, program: string): Prog => ({
  name: 'counter',
  object: obj,
  program,
  attach: '{ type: tcx, namespace: a, dev: va, direction: ingress }',
  maps: ['counters'],
});

function writeConfig(dir: string, progs: Prog[]): void {
  const bpf = progs
    .map(
      (p) =>
        `    - name: ${p.name}\n      object: ${p.object}\n      program: ${p.program}\n      attach: ${p.attach}\n      maps: [ ${p.maps.join(', ')} ]\n` +
        (p.entries ? `      map_entries:\n${p.entries}\n` : ''),
    )
    .join('');
  fs.writeFileSync(
    path.join(dir, 'network.yaml'),
    `namespaces:\n  - name: a\n  - name: b\n` +
      `links:\n  - name: va\n    namespace: a\n    type: veth\n    peer: { name: vb, namespace: b }\n` +
      `addresses:\n  - { address: ${IP_A}/24, dev: va, namespace: a }\n  - { address: ${IP_B}/24, dev: vb, namespace: b }\n` +
      (progs.length ? `bpf:\n  programs:\n${bpf}` : ''),
  );
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

function linkOf(pin: string): { id: number; progId: number; tag: string; type: number; attachType?: number; cgroupId?: bigint } {
  const l = BpfLink.openPinned(pin);
  try {
    const i = l.info();
    const p = BpfProgram.fromId(i.progId);
    try {
      return { id: i.id, progId: i.progId, tag: p.tag, type: i.type, ...(i.attachType !== undefined ? { attachType: i.attachType } : {}), ...(i.cgroupId !== undefined ? { cgroupId: i.cgroupId } : {}) };
    } finally {
      p.close();
    }
  } finally {
    l.close();
  }
}

function bpftoolLinkIds(): number[] {
  const out = execFileSync('bpftool', ['-j', 'link', 'show'], { encoding: 'utf8' }).trim();
  return (out ? (JSON.parse(out) as { id: number }[]) : []).map((l) => l.id);
}

/** Best-effort removal of everything under a bpffs root (detach links first), then unmount. */
function scrubBpffs(root: string): void {
  if (!fs.existsSync(root)) return;
  const walk = (d: string): void => {
    for (const f of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, f.name);
      if (f.isDirectory()) walk(p);
      else if (f.name === 'link') {
        try {
          const l = BpfLink.openPinned(p);
          try {
            l.detach();
          } catch {
            // defunct
          }
          l.close();
        } catch {
          // not a link
        }
      }
    }
  };
  walk(root);
  for (const f of fs.readdirSync(root)) if (!f.endsWith('.debug')) fs.rmSync(path.join(root, f), { recursive: true, force: true });
  if (isBpffs(root) && !isBpffs(path.dirname(root))) libc.umount2(root, MNT_DETACH);
  fs.rmSync(root, { recursive: true, force: true });
}

async function emptyAndRemoveCgroup(): Promise<void> {
  if (!fs.existsSync(CG)) return;
  for (let i = 0; i < 100 && fs.readFileSync(`${CG}/cgroup.procs`, 'utf8').trim() !== ''; i++) await new Promise((r) => setTimeout(r, 20));
  try {
    fs.rmdirSync(CG);
  } catch {
    // still busy: leave it for the next run rather than fail the cleanup
  }
}

describe('bpf.programs as declared resources (real kernel, via the CLI)', () => {
  const cfg = fs.mkdtempSync(path.join(os.tmpdir(), 'voltron-bpf-'));
  const sb = new Sandbox('bpf', cfg);
  const root = bpfRoot(sb.prefix);
  let firstLink = 0;
  let v1Tag = '';
  let v2Tag = '';

  before(() => {
    execFileSync('bash', [path.join(REPO, 'scripts/build-bpf.sh')], { stdio: 'pipe' });
    writeConfig(cfg, [counter(path.join(OBJ, 'counter.bpf.o'), 'count_packets')]);
  });

  after(async () => {
    // Whatever happened: try destroy, then remove pins, namespaces, cgroup, temp dirs.
    try {
      sb.run(['destroy', '--auto-approve']);
    } catch {
      // keep cleaning
    }
    scrubBpffs(root);
    sb.cleanup();
    await emptyAndRemoveCgroup();
    fs.rmSync(cfg, { recursive: true, force: true });
  });

  it('applies a tcx counter on the veth; the pinned map counts pings', () => {
    const r = sb.run(['apply', '--auto-approve']);
    assert.equal(r.code, 0, r.stderr + r.stdout);
    assert.match(r.stdout, /created: bpf program counter/);
    assert.equal(isBpffs(root), true, `${root} is a bpffs`);
    const meta = readMeta(path.join(root, 'counter'));
    assert.ok(meta, 'meta.json recorded');
    assert.equal(meta.program, 'count_packets');
    const l = linkOf(path.join(root, 'counter/link'));
    assert.equal(l.type, LinkType.TCX);
    assert.equal(l.attachType, AttachType.TCX_INGRESS);
    assert.equal(meta.linkId, l.id);
    assert.equal(meta.tag, l.tag);
    firstLink = l.id;
    v1Tag = l.tag;
    assert.equal(sb.pingUntil('b', [IP_A]).code, 0);
    const before = packets(root, 0);
    const p = sb.exec('b', ['ping', '-c', '5', '-i', '0.05', '-W', '1', IP_A]);
    assert.equal(p.code, 0, p.stdout + p.stderr);
    assert.ok(packets(root, 0) - before >= 5n, `counted ${packets(root, 0) - before} packets for 5 pings`);
    assert.equal(packets(root, 1), 0n, 'slot 1 is only filled by counter_v2');
  });

  it('re-plans to nothing; show lists the program', () => {
    const p = sb.run(['plan', '--detailed-exitcode']);
    assert.equal(p.code, 0, p.stdout + p.stderr);
    assert.match(p.stdout, /No changes/);
    const s = sb.run(['show']);
    assert.equal(s.code, 0, s.stderr);
    assert.match(s.stdout, /counter/);
  });

  it('a changed object is an in-place link update: same link id, counting continues without a gap', async () => {
    writeConfig(cfg, [counter(path.join(OBJ, 'counter_v2.bpf.o'), 'count_packets_v2')]);
    const p = sb.run(['plan']);
    assert.equal(p.code, 0, p.stdout + p.stderr);
    assert.match(p.stdout, /bpf program counter/);
    assert.match(p.stdout, new RegExp(`tag.*${v1Tag}.*→`), p.stdout);
    assert.match(p.stdout, /~ bpf program counter/);
    assert.match(p.stdout, /0 to add, 1 to change, 0 to replace, 0 to destroy/);
    const before = packets(root, 0);
    // Pings run during the apply: every echo request that got a reply crossed va's ingress.
    const ping = spawn('ip', ['netns', 'exec', sb.ns('b'), 'ping', '-c', '300', '-i', '0.01', '-W', '1', IP_A], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    ping.stdout.on('data', (d) => (out += d));
    const done = new Promise<void>((resolve) => ping.on('exit', () => resolve()));
    await new Promise((r) => setTimeout(r, 300));
    const r = sb.run(['apply', '--auto-approve']);
    await done;
    assert.equal(r.code, 0, r.stderr + r.stdout);
    assert.match(r.stdout, /updated: bpf program counter/);
    assert.match(r.stdout, /Apply complete: 1 change\(s\), 1 kernel write\(s\)/, 'the program swap counts as a kernel write');
    const received = Number(/(\d+) received/.exec(out)?.[1] ?? '0');
    assert.ok(received >= 250, `ping received ${received}/300`);
    const counted = packets(root, 0) - before;
    assert.ok(counted >= BigInt(received), `slot 0 counted ${counted} ≥ ${received} replied echo requests: no reset, no gap`);
    const l = linkOf(path.join(root, 'counter/link'));
    assert.equal(l.id, firstLink, 'same link id after the update');
    assert.notEqual(l.tag, v1Tag);
    v2Tag = l.tag;
    assert.ok(packets(root, 1) > 0n, 'counter_v2 runs (slot 1 counts)');
    const again = sb.run(['plan', '--detailed-exitcode']);
    assert.equal(again.code, 0, again.stdout + again.stderr);
    assert.match(again.stdout, /No changes/);
  });

  it('a verifier-rejected object fails with the verifier log; the old program stays attached and counting', () => {
    writeConfig(cfg, [{ ...counter(path.join(OBJ, 'bad.bpf.o'), 'bad_unchecked_read'), maps: [] }]);
    const plan = sb.run(['plan']);
    assert.match(plan.stdout, /tag: [0-9a-f]{16} → rejected:EACCES/, plan.stdout);
    const r = sb.run(['apply', '--auto-approve']);
    assert.notEqual(r.code, 0, r.stdout);
    assert.match(r.stderr, /verifier log/);
    assert.match(r.stderr, /invalid access to packet|R\d+ (invalid|offset)/, r.stderr);
    const l = linkOf(path.join(root, 'counter/link'));
    assert.equal(l.id, firstLink);
    assert.equal(l.tag, v2Tag, 'counter_v2 still attached');
    const before = packets(root, 1);
    assert.equal(sb.exec('b', ['ping', '-c', '3', '-i', '0.05', '-W', '1', IP_A]).code, 0);
    assert.ok(packets(root, 1) >= before + 3n, 'still counting');
    writeConfig(cfg, [counter(path.join(OBJ, 'counter_v2.bpf.o'), 'count_packets_v2')]);
    const p = sb.run(['plan', '--detailed-exitcode']);
    assert.equal(p.code, 0, p.stdout + p.stderr);
  });

  it('refuses an update that would redefine a pinned map, unless allowed', () => {
    // A counter whose `counters` map has 8 slots instead of 4: libbpf could not reuse the pin.
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'voltron-bpfobj-'));
    try {
      const src = path.join(dir, 'wide.bpf.c');
      fs.copyFileSync(path.join(REPO, 'bpf/counter.bpf.c'), src);
      fs.writeFileSync(path.join(dir, 'counter.h'), fs.readFileSync(path.join(REPO, 'bpf/counter.h'), 'utf8').replace(/__uint\(max_entries, COUNTER_SLOTS\)/, '__uint(max_entries, 8)'));
      const triplet = execFileSync('gcc', ['-dumpmachine'], { encoding: 'utf8' }).trim();
      execFileSync('clang', ['-O2', '-g', '-target', 'bpf', `-I/usr/include/${triplet}`, '-c', src, '-o', path.join(dir, 'wide.bpf.o')]);
      writeConfig(cfg, [counter(path.join(dir, 'wide.bpf.o'), 'count_packets')]);
      const before = packets(root, 0);
      const r = sb.run(['apply', '--auto-approve']);
      assert.notEqual(r.code, 0, r.stdout);
      assert.match(r.stderr + r.stdout, /map counters is pinned as .*4 entries.* defines .*8 entries/);
      assert.match(r.stderr + r.stdout, /--allow-map-reset/);
      assert.equal(linkOf(path.join(root, 'counter/link')).tag, v2Tag, 'nothing changed');
      assert.ok(packets(root, 0) >= before, 'map kept');
      const ok = sb.run(['apply', '--auto-approve'], { env: { VOLTRON_ALLOW_MAP_RESET: '1' } });
      assert.equal(ok.code, 0, ok.stderr + ok.stdout);
      const l = linkOf(path.join(root, 'counter/link'));
      assert.equal(l.id, firstLink, 'still the same link');
      const m = BpfMap.openPinned(path.join(root, 'counter/maps/counters'));
      try {
        assert.equal(m.info().maxEntries, 8, 'the pin is the new map');
      } finally {
        m.close();
      }
    } finally {
      writeConfig(cfg, [counter(path.join(OBJ, 'counter_v2.bpf.o'), 'count_packets_v2')]);
      fs.rmSync(dir, { recursive: true, force: true });
    }
    // Back to v2 (the map is reset again, allowed) so the following tests start from a known state.
    const back = sb.run(['apply', '--auto-approve'], { env: { VOLTRON_ALLOW_MAP_RESET: '1' } });
    assert.equal(back.code, 0, back.stderr + back.stdout);
  });

  it('an object rebuilt with only a pinned map redefined (same instructions, same tag) is a change, applied with --allow-map-reset', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'voltron-bpfobj-'));
    const obj = path.join(dir, 'c.bpf.o');
    try {
      fs.copyFileSync(path.join(OBJ, 'counter_v2.bpf.o'), obj);
      writeConfig(cfg, [counter(obj, 'count_packets_v2')]);
      assert.equal(sb.run(['apply', '--auto-approve']).code, 0);
      // Rebuilt at the same path: 8 slots instead of 4, no instruction changes (the tag hashes instructions only).
      fs.copyFileSync(path.join(REPO, 'bpf/counter_v2.bpf.c'), path.join(dir, 'c.bpf.c'));
      fs.writeFileSync(path.join(dir, 'counter.h'), fs.readFileSync(path.join(REPO, 'bpf/counter.h'), 'utf8').replace(/__uint\(max_entries, COUNTER_SLOTS\)/, '__uint(max_entries, 8)'));
      const triplet = execFileSync('gcc', ['-dumpmachine'], { encoding: 'utf8' }).trim();
      execFileSync('clang', ['-O2', '-g', '-target', 'bpf', `-I/usr/include/${triplet}`, '-c', path.join(dir, 'c.bpf.c'), '-o', obj]);
      const env = { VOLTRON_ALLOW_MAP_RESET: '1' };
      const p = sb.run(['plan', '--detailed-exitcode'], { env });
      assert.equal(p.code, 2, p.stdout + p.stderr); // it said "No changes", and the apply it allowed did nothing
      assert.match(p.stdout, /~ mapShapes\.counters: "type 6, key 4 B, value 16 B, 4 entries" → "type 6, key 4 B, value 16 B, 8 entries"/, p.stdout);
      assert.doesNotMatch(p.stdout, /~ tag:/, 'same instructions');
      const r = sb.run(['apply', '--auto-approve'], { env });
      assert.equal(r.code, 0, r.stderr + r.stdout);
      const l = linkOf(path.join(root, 'counter/link'));
      assert.equal(l.id, firstLink, 'still the same link');
      const m = BpfMap.openPinned(path.join(root, 'counter/maps/counters'));
      let mapId = 0;
      try {
        assert.equal(m.info().maxEntries, 8, 'the pin is the new map');
        mapId = m.info().id;
      } finally {
        m.close();
      }
      const prog = JSON.parse(execFileSync('bpftool', ['-j', 'prog', 'show', 'id', String(l.progId)], { encoding: 'utf8' })) as { map_ids?: number[] };
      assert.ok(prog.map_ids?.includes(mapId), `the attached program uses the pinned map ${mapId}: ${JSON.stringify(prog.map_ids)}`);
      assert.equal(sb.run(['plan', '--detailed-exitcode']).code, 0);
    } finally {
      writeConfig(cfg, [counter(path.join(OBJ, 'counter_v2.bpf.o'), 'count_packets_v2')]);
      fs.rmSync(dir, { recursive: true, force: true });
    }
    const back = sb.run(['apply', '--auto-approve'], { env: { VOLTRON_ALLOW_MAP_RESET: '1' } });
    assert.equal(back.code, 0, back.stderr + back.stdout);
  });

  it('a new attach point is a replace: new link attached before the old one goes, maps kept', () => {
    const before = packets(root, 0);
    writeConfig(cfg, [{ ...counter(path.join(OBJ, 'counter_v2.bpf.o'), 'count_packets_v2'), attach: '{ type: tcx, namespace: a, dev: va, direction: egress }' }]);
    const p = sb.run(['plan']);
    assert.match(p.stdout, /0 to add, 0 to change, 1 to replace, 0 to destroy/, p.stdout);
    const r = sb.run(['apply', '--auto-approve']);
    assert.equal(r.code, 0, r.stderr + r.stdout);
    const l = linkOf(path.join(root, 'counter/link'));
    assert.notEqual(l.id, firstLink);
    assert.equal(l.attachType, AttachType.TCX_EGRESS);
    assert.ok(!bpftoolLinkIds().includes(firstLink), 'old ingress link detached');
    assert.equal(fs.existsSync(path.join(root, 'counter/link_new')), false);
    assert.equal(sb.exec('b', ['ping', '-c', '2', '-i', '0.05', '-W', '1', IP_A]).code, 0);
    assert.ok(packets(root, 0) >= before + 2n, 'same map, counting the replies on egress');
    assert.equal(sb.run(['plan', '--detailed-exitcode']).code, 0);
    writeConfig(cfg, [counter(path.join(OBJ, 'counter_v2.bpf.o'), 'count_packets_v2')]);
    assert.equal(sb.run(['apply', '--auto-approve']).code, 0);
  });

  it('cgroup_skb and sock_ops programs attach to a child cgroup', async () => {
    fs.mkdirSync(CG);
    const cgProgs: Prog[] = [
      counter(path.join(OBJ, 'counter_v2.bpf.o'), 'count_packets_v2'),
      { name: 'cg-egress', object: path.join(OBJ, 'cgroup_counter.bpf.o'), program: 'cg_egress', attach: `{ type: cgroup, cgroup: ${CG_NAME}, hook: egress }`, maps: ['cg_counters'] },
      { name: 'sockops', object: path.join(OBJ, 'sockops_counter.bpf.o'), program: 'count_sockops', attach: `{ type: cgroup, cgroup: ${CG_NAME}, hook: sock_ops }`, maps: ['sockops_counts'] },
    ];
    writeConfig(cfg, cgProgs);
    const r = sb.run(['apply', '--auto-approve']);
    assert.equal(r.code, 0, r.stderr + r.stdout);
    const ino = BigInt(fs.statSync(CG).ino);
    const eg = linkOf(path.join(root, 'cg-egress/link'));
    const so = linkOf(path.join(root, 'sockops/link'));
    assert.deepEqual([eg.type, eg.attachType, eg.cgroupId], [LinkType.CGROUP, AttachType.CGROUP_INET_EGRESS, ino]);
    assert.deepEqual([so.type, so.attachType, so.cgroupId], [LinkType.CGROUP, AttachType.CGROUP_SOCK_OPS, ino]);
    const server = spawn('ip', ['netns', 'exec', sb.ns('a'), process.execPath, '-e', `require('net').createServer((s) => s.end()).listen(7777, '${IP_A}', () => console.log('ready'))`], { stdio: ['ignore', 'pipe', 'ignore'] });
    try {
      await new Promise<void>((resolve, reject) => {
        server.stdout!.on('data', (d: Buffer) => d.toString().includes('ready') && resolve());
        server.on('exit', (c) => reject(new Error(`server exited ${c}`)));
      });
      const inCg = (cmd: string) => run('sh', ['-c', `echo $$ > ${CG}/cgroup.procs && exec ${cmd}`], { timeout: 20_000 });
      await inCg(`ip netns exec ${sb.ns('b')} ping -c 3 -i 0.2 -W 1 ${IP_A}`);
      await inCg(`ip netns exec ${sb.ns('b')} ${process.execPath} -e "const s = require('net').connect(7777, '${IP_A}', () => s.end()); s.on('close', () => process.exit(0)); s.on('error', () => process.exit(3))"`);
    } finally {
      server.kill();
    }
    const cgm = BpfMap.openPinned(path.join(root, 'cg-egress/maps/cg_counters'));
    const som = BpfMap.openPinned(path.join(root, 'sockops/maps/sockops_counts'));
    try {
      assert.ok(cgm.lookupU64Fields(0)![0]! >= 3n + 3n, `egress packets ${cgm.lookupU64Fields(0)![0]}`);
      assert.ok((som.lookupU64(3) ?? 0n) >= 1n, 'BPF_SOCK_OPS_TCP_CONNECT_CB seen');
      assert.ok((som.lookupU64(4) ?? 0n) >= 1n, 'BPF_SOCK_OPS_ACTIVE_ESTABLISHED_CB seen');
    } finally {
      cgm.close();
      som.close();
    }
    const p = sb.run(['plan', '--detailed-exitcode']);
    assert.equal(p.code, 0, p.stdout + p.stderr);
  });

  it('removing a program from the config detaches and unpins only it', () => {
    const ids = { eg: linkOf(path.join(root, 'cg-egress/link')).id, so: linkOf(path.join(root, 'sockops/link')).id };
    writeConfig(cfg, [counter(path.join(OBJ, 'counter_v2.bpf.o'), 'count_packets_v2')]);
    const r = sb.run(['apply', '--auto-approve']);
    assert.equal(r.code, 0, r.stderr + r.stdout);
    assert.match(r.stdout, /deleted: bpf program cg-egress/);
    assert.equal(fs.existsSync(path.join(root, 'cg-egress')), false);
    assert.equal(fs.existsSync(path.join(root, 'sockops')), false);
    assert.equal(fs.existsSync(path.join(root, 'counter/link')), true);
    const live = bpftoolLinkIds();
    assert.ok(!live.includes(ids.eg) && !live.includes(ids.so), 'cgroup links are gone');
  });

  it('destroy removes the link, the pins and the bpffs directory', () => {
    const id = linkOf(path.join(root, 'counter/link')).id;
    const r = sb.run(['destroy', '--auto-approve']);
    assert.equal(r.code, 0, r.stderr + r.stdout);
    assert.equal(fs.existsSync(root), false, `${root} removed`);
    assert.ok(!bpftoolLinkIds().includes(id), 'bpftool link show has no leftover link');
    assert.deepEqual(sb.namespaces(), []);
  });
});
