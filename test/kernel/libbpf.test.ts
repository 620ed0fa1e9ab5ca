// Kernel tests for the libbpf binding: real programs, real packets, in namespaces,
// a bpffs and a cgroup this file creates and removes. Needs root and dist/bpf objects
// (built here via scripts/build-bpf.sh if stale).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import {
  AttachType,
  BpfError,
  BpfLink,
  BpfMap,
  BpfObject,
  LinkType,
  MapType,
  RingBuffer,
  attachCgroup,
  attachTc,
  attachTcClsact,
  closeTcAttachment,
  attachTcx,
  attachXdp,
  bpfObjectPath,
  enableRunStats,
  isBpffs,
  numPossibleCpus,
  readU32,
  readU64,
  resolveIfindex,
  u32,
  u64,
} from '../../src/kernel/libbpf';
import { createNetns, deleteNetns } from '../../src/kernel/netns';
import { MNT_DETACH, libc } from '../../src/kernel/libc';

const run = promisify(execFile);
const ROOT = path.resolve(__dirname, '../../..');

const sfx = randomBytes(3).toString('hex');
const NS_A = `vt${sfx}a`;
const NS_B = `vt${sfx}b`;
const DEV_A = 'vta0';
const DEV_B = 'vtb0';
const net = `10.${randomBytes(1)[0]! % 200 + 20}.${randomBytes(1)[0]!}`;
const IP_A = `${net}.1`;
const IP_B = `${net}.2`;
const CGROUP = `/sys/fs/cgroup/unified/vt${sfx}`;
let bpffs = '';
let bpffsMounted = false;
const nsCreated: string[] = [];

// Resources shared by the tc tests (closed in after()).
let v1: BpfObject | null = null;
let v2: BpfObject | null = null;
let tcxLink: BpfLink | null = null;

function ip(ns: string, ...args: string[]): void {
  execFileSync('ip', ['-n', ns, ...args], { stdio: 'pipe' });
}

async function ping(fromNs: string, to: string, count: number): Promise<void> {
  await run('ip', ['netns', 'exec', fromNs, 'ping', '-c', String(count), '-i', '0.2', '-W', '1', to], { timeout: 20_000 });
}

/** Packets/bytes in a slot of the per-CPU `counters` map, summed over CPUs. */
function slot(map: BpfMap, n: number): { packets: bigint; bytes: bigint } {
  const f = map.lookupU64Fields(n);
  assert.ok(f, `slot ${n} present`);
  return { packets: f[0]!, bytes: f[1]! };
}

before(() => {
  execFileSync('bash', [path.join(ROOT, 'scripts/build-bpf.sh')], { stdio: 'pipe' });
  for (const ns of [NS_A, NS_B]) {
    createNetns(ns);
    nsCreated.push(ns);
  }
  // Created directly inside the namespaces: nothing touches the root namespace.
  ip(NS_A, 'link', 'add', DEV_A, 'type', 'veth', 'peer', 'name', DEV_B, 'netns', NS_B);
  ip(NS_A, 'addr', 'add', `${IP_A}/24`, 'dev', DEV_A);
  ip(NS_B, 'addr', 'add', `${IP_B}/24`, 'dev', DEV_B);
  for (const [ns, dev] of [[NS_A, DEV_A], [NS_B, DEV_B]] as const) {
    ip(ns, 'link', 'set', 'lo', 'up');
    ip(ns, 'link', 'set', dev, 'up');
  }
  bpffs = fs.mkdtempSync(path.join(os.tmpdir(), `vt${sfx}-bpffs-`));
  if ((libc.mount('bpf', bpffs, 'bpf', 0, null) as number) !== 0) throw new Error(`mount bpffs on ${bpffs} failed`);
  bpffsMounted = true;
});

after(() => {
  tcxLink?.close();
  v2?.close();
  v1?.close();
  if (bpffsMounted) libc.umount2(bpffs, MNT_DETACH);
  if (bpffs) fs.rmSync(bpffs, { recursive: true, force: true });
  for (const ns of nsCreated) {
    try {
      deleteNetns(ns);
    } catch {
      // keep cleaning the rest
    }
  }
  if (fs.existsSync(CGROUP)) fs.rmdirSync(CGROUP);
});

test('bpffs is mounted at a private temp dir', () => {
  assert.equal(isBpffs(bpffs), true);
  assert.equal(isBpffs(os.tmpdir()), false);
});

test('counter: load, pin maps, tcx ingress link counts pings', async () => {
  v1 = BpfObject.open(bpfObjectPath('counter'), {
    mapPinPaths: { counters: `${bpffs}/counters`, events: `${bpffs}/events` },
  });
  assert.deepEqual(v1.programs.map((p) => [p.name, p.sectionName]), [['count_packets', 'tc']]);
  const counters = v1.map('counters');
  assert.equal(counters.type, MapType.PERCPU_ARRAY);
  assert.equal(counters.keySize, 4);
  assert.equal(counters.valueSize, 16);
  assert.equal(counters.maxEntries, 4);
  assert.equal(counters.valueBufferSize, 16 * numPossibleCpus());
  v1.load();
  assert.ok(fs.existsSync(`${bpffs}/counters`), 'map pinned at load');
  assert.equal(counters.isPinned, true);

  const prog = v1.program('count_packets');
  assert.match(prog.tag, /^[0-9a-f]{16}$/);
  assert.ok(prog.id > 0);
  assert.ok(prog.fd > 0);

  tcxLink = attachTcx(prog, { ifname: DEV_A, netns: NS_A, direction: 'ingress' });
  const info = tcxLink.info();
  assert.equal(info.type, LinkType.TCX);
  assert.equal(info.progId, prog.id);
  assert.equal(info.attachType, AttachType.TCX_INGRESS);
  assert.equal(info.ifindex, resolveIfindex({ ifname: DEV_A, netns: NS_A }));
  tcxLink.pin(`${bpffs}/tcx_link`);

  const before = slot(counters, 0);
  await ping(NS_B, IP_A, 5);
  const now = slot(counters, 0);
  assert.ok(now.packets - before.packets >= 5n, `counted ${now.packets - before.packets} packets`);
  assert.ok(now.bytes - before.bytes >= 5n * 84n, `counted ${now.bytes} bytes`);
  assert.equal(slot(counters, 1).packets, 0n, 'v1 never touches slot 1');

  // The pinned map is the same kernel map, seen through an independent fd.
  const pinned = BpfMap.openPinned(`${bpffs}/counters`);
  try {
    assert.equal(pinned.info().id, counters.info().id);
    assert.equal(pinned.isPerCpu, true);
    assert.ok(slot(pinned, 0).packets >= now.packets);
  } finally {
    pinned.close();
  }
  // Oracle: bpftool reads the same link.
  const bt = JSON.parse(execFileSync('bpftool', ['-j', 'link', 'show', 'pinned', `${bpffs}/tcx_link`], { encoding: 'utf8' }));
  assert.equal(bt.id, info.id);
  assert.equal(bt.prog_id, prog.id);
});

test('bpf_link_update to counter_v2: same link id, map reused, counting continues', async () => {
  assert.ok(v1 && tcxLink, 'previous test set up the link');
  v2 = BpfObject.open(bpfObjectPath('counter_v2'), {
    mapPinPaths: { counters: `${bpffs}/counters`, events: `${bpffs}/events` },
  });
  v2.load();
  assert.equal(v2.map('counters').info().id, v1.map('counters').info().id, 'pinned map reused, not recreated');
  const oldProg = v1.program('count_packets');
  const newProg = v2.program('count_packets_v2');
  assert.notEqual(newProg.tag, oldProg.tag);

  const linkId = tcxLink.id;
  const before = slot(v2.map('counters'), 0);
  tcxLink.update(newProg, oldProg);
  assert.equal(tcxLink.id, linkId);
  assert.equal(tcxLink.progId, newProg.id);

  // Replacing with a stale expected program must fail (BPF_F_REPLACE).
  assert.throws(() => tcxLink!.update(oldProg, oldProg), (e: unknown) => e instanceof BpfError && e.op === 'bpf_link_update');
  assert.equal(tcxLink.progId, newProg.id);

  await ping(NS_B, IP_A, 5);
  const now = slot(v2.map('counters'), 0);
  assert.ok(now.packets >= before.packets + 5n, `slot 0 continued: ${before.packets} -> ${now.packets}`);
  assert.ok(slot(v2.map('counters'), 1).packets >= 5n, 'v2-only slot counts');

  const reopened = BpfLink.openPinned(`${bpffs}/tcx_link`);
  try {
    assert.equal(reopened.id, linkId);
    assert.equal(reopened.progId, newProg.id);
  } finally {
    reopened.close();
  }
});

test('verifier rejection: BpfError with log, attached program keeps counting', async () => {
  assert.ok(v2 && tcxLink);
  const bad = BpfObject.open(bpfObjectPath('bad'));
  try {
    assert.throws(
      () => bad.load(),
      (e: unknown) => {
        assert.ok(e instanceof BpfError);
        assert.equal(e.op, 'bpf_object__load');
        assert.equal(e.code, 'EACCES');
        assert.ok(e.verifierLog && e.verifierLog.length > 0, 'verifier log captured');
        assert.match(e.verifierLog, /invalid access to packet/);
        assert.ok(e.libbpfLog.some((l) => l.includes('bad_unchecked_read')), 'libbpf lines captured');
        return true;
      },
    );
    assert.equal(bad.loaded, false);
    assert.throws(() => bad.program('bad_unchecked_read').fd, /not loaded/);
  } finally {
    bad.close();
  }
  const newProgId = v2.program('count_packets_v2').id;
  assert.equal(tcxLink.progId, newProgId);
  const before = slot(v2.map('counters'), 1);
  await ping(NS_B, IP_A, 3);
  assert.ok(slot(v2.map('counters'), 1).packets >= before.packets + 3n);
});

test('ring buffer: events consumed from a timer without blocking the loop', async () => {
  assert.ok(v2);
  const events = BpfMap.openPinned(`${bpffs}/events`);
  const seen: { version: number; ifindex: number; len: number; protocol: number }[] = [];
  const rb = new RingBuffer(events, (d) => {
    assert.equal(d.length, 16);
    seen.push({ version: readU32(d, 0), ifindex: readU32(d, 4), len: readU32(d, 8), protocol: readU32(d, 12) });
  });
  let ticks = 0;
  const ticker = setInterval(() => ticks++, 5);
  try {
    rb.consume(); // drop whatever earlier tests left queued
    seen.length = 0;
    rb.start({ intervalMs: 10 });
    await ping(NS_B, IP_A, 4);
    const deadline = Date.now() + 2000;
    while (seen.filter((e) => e.version === 2).length < 4 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  } finally {
    clearInterval(ticker);
    rb.close();
    events.close();
  }
  const v2Events = seen.filter((e) => e.version === 2);
  assert.ok(v2Events.length >= 4, `got ${v2Events.length} v2 events`);
  const ifindexA = resolveIfindex({ ifname: DEV_A, netns: NS_A });
  assert.ok(v2Events.every((e) => e.ifindex === ifindexA));
  // skb->protocol is big-endian ETH_P_IP (0x0800) in a u32.
  const ethIp = os.endianness() === 'LE' ? 0x0008 : 0x0800;
  assert.ok(v2Events.some((e) => e.protocol === ethIp && e.len >= 84));
  assert.ok(ticks > 10, `event loop ran (${ticks} ticks) while consuming`);
  assert.equal(rb.running, false);
  assert.throws(() => rb.consume(), /closed/);
});

test('ring buffer: handler exceptions surface from consume()', async () => {
  const events = BpfMap.openPinned(`${bpffs}/events`);
  const rb = new RingBuffer(events, () => {
    throw new Error('handler boom');
  });
  try {
    await ping(NS_B, IP_A, 1);
    assert.throws(() => rb.consume(), /handler boom/);
  } finally {
    rb.close();
    events.close();
  }
});

test('run stats: run_cnt/run_time_ns grow while enabled', async () => {
  assert.ok(v2 && tcxLink);
  const prog = v2.program('count_packets_v2');
  const stats = enableRunStats();
  try {
    const before = prog.info();
    await ping(NS_B, IP_A, 2);
    const now = prog.info();
    assert.ok(now.runCount >= before.runCount + 2n, `run_cnt ${before.runCount} -> ${now.runCount}`);
    assert.ok(now.runTimeNs > before.runTimeNs);
  } finally {
    stats.close();
  }
});

test('legacy clsact filter: attach, count, replace, detach (tc as oracle)', async () => {
  const obj = BpfObject.load(bpfObjectPath('counter'));
  const obj2 = BpfObject.load(bpfObjectPath('counter_v2'));
  try {
    const f = attachTcClsact(obj.program('count_packets'), { ifname: DEV_B, netns: NS_B, direction: 'egress' });
    try {
      assert.equal(f.progId, obj.program('count_packets').id);
      const shown = JSON.parse(execFileSync('ip', ['netns', 'exec', NS_B, 'tc', '-j', 'filter', 'show', 'dev', DEV_B, 'egress'], { encoding: 'utf8' }));
      assert.ok(shown.some((x: { kind?: string; options?: { prog?: { id?: number } } }) => x.kind === 'bpf' && x.options?.prog?.id === f.progId));
      await ping(NS_B, IP_A, 3);
      assert.ok(slot(obj.map('counters'), 0).packets >= 3n);
      f.update(obj2.program('count_packets_v2'));
      assert.equal(f.progId, obj2.program('count_packets_v2').id);
      await ping(NS_B, IP_A, 2);
      assert.ok(slot(obj2.map('counters'), 1).packets >= 2n);
    } finally {
      f.close();
    }
    // attachTc prefers tcx on this kernel (6.6+); clsact only as a fallback.
    const auto = attachTc(obj.program('count_packets'), { ifname: DEV_B, netns: NS_B, direction: 'egress' });
    try {
      assert.equal(auto.kind, 'tcx');
    } finally {
      closeTcAttachment(auto);
    }
    const left = JSON.parse(execFileSync('ip', ['netns', 'exec', NS_B, 'tc', '-j', 'filter', 'show', 'dev', DEV_B, 'egress'], { encoding: 'utf8' }));
    assert.equal(left.filter((x: { kind?: string }) => x.kind === 'bpf').length, 0);
  } finally {
    obj2.close();
    obj.close();
  }
});

test('xdp link on a veth counts packets', async () => {
  const obj = BpfObject.load(bpfObjectPath('xdp_counter'));
  try {
    const link = attachXdp(obj.program('xdp_count'), { ifname: DEV_B, netns: NS_B });
    try {
      const info = link.info();
      assert.equal(info.type, LinkType.XDP);
      assert.equal(info.ifindex, resolveIfindex({ ifname: DEV_B, netns: NS_B }));
      await ping(NS_A, IP_B, 3);
      assert.ok((obj.map('xdp_packets').lookupU64(0) ?? 0n) >= 3n);
    } finally {
      link.close();
    }
    const n = obj.map('xdp_packets').lookupU64(0)!;
    await ping(NS_A, IP_B, 2);
    assert.equal(obj.map('xdp_packets').lookupU64(0), n, 'closing the only link fd detached the program');
  } finally {
    obj.close();
  }
});

test('cgroup_skb and sock_ops links on a child cgroup', async () => {
  fs.mkdirSync(CGROUP);
  const cg = BpfObject.load(bpfObjectPath('cgroup_counter'));
  const so = BpfObject.load(bpfObjectPath('sockops_counter'));
  const links: BpfLink[] = [];
  const server = execFile('ip', [
    'netns', 'exec', NS_A, process.execPath, '-e',
    `require('net').createServer((s) => s.end()).listen(7777, '${IP_A}', () => console.log('ready'))`,
  ]);
  try {
    links.push(attachCgroup(cg.program('cg_egress'), CGROUP));
    links.push(attachCgroup(cg.program('cg_ingress'), CGROUP));
    links.push(attachCgroup(so.program('count_sockops'), CGROUP));
    const ino = BigInt(fs.statSync(CGROUP).ino);
    assert.deepEqual(
      links.map((l) => l.info()).map((i) => [i.type, i.attachType, i.cgroupId]),
      [
        [LinkType.CGROUP, AttachType.CGROUP_INET_EGRESS, ino],
        [LinkType.CGROUP, AttachType.CGROUP_INET_INGRESS, ino],
        [LinkType.CGROUP, AttachType.CGROUP_SOCK_OPS, ino],
      ],
    );
    await new Promise<void>((resolve, reject) => {
      server.stdout!.on('data', (d: Buffer) => d.toString().includes('ready') && resolve());
      server.on('exit', (c) => reject(new Error(`server exited ${c}`)));
    });
    // Join the cgroup first, then the namespace (ip netns exec remounts /sys).
    const inCg = (cmd: string) => run('sh', ['-c', `echo $$ > ${CGROUP}/cgroup.procs && exec ${cmd}`], { timeout: 20_000 });
    await inCg(`ip netns exec ${NS_B} ping -c 3 -i 0.2 -W 1 ${IP_A}`);
    await inCg(
      `ip netns exec ${NS_B} ${process.execPath} -e "const s = require('net').connect(7777, '${IP_A}', () => s.end()); s.on('close', () => process.exit(0)); s.on('error', () => process.exit(3))"`,
    );
    const egress = cg.map('cg_counters').lookupU64Fields(0)!;
    const ingress = cg.map('cg_counters').lookupU64Fields(1)!;
    assert.ok(egress[0]! >= 3n + 3n, `egress packets ${egress[0]}`); // pings + TCP handshake/fin
    assert.ok(ingress[0]! >= 3n + 2n, `ingress packets ${ingress[0]}`);
    const ops = so.map('sockops_counts');
    assert.ok((ops.lookupU64(3) ?? 0n) >= 1n, 'BPF_SOCK_OPS_TCP_CONNECT_CB seen');
    assert.ok((ops.lookupU64(4) ?? 0n) >= 1n, 'BPF_SOCK_OPS_ACTIVE_ESTABLISHED_CB seen');
    assert.equal(ops.lookupU64(5), 0n, 'server is outside the cgroup: no PASSIVE_ESTABLISHED_CB');
  } finally {
    server.kill();
    for (const l of links) l.close();
    so.close();
    cg.close();
    // The cgroup empties once the short-lived children exited.
    for (let i = 0; i < 50 && fs.readFileSync(`${CGROUP}/cgroup.procs`, 'utf8').trim() !== ''; i++) {
      await new Promise((r) => setTimeout(r, 20));
    }
    fs.rmdirSync(CGROUP);
  }
});

test('batch update/lookup/delete round-trip on hash, per-CPU hash and array maps', () => {
  const h = BpfMap.create({ type: MapType.HASH, name: 'vt_batch', keySize: 4, valueSize: 8, maxEntries: 2048 });
  try {
    const n = 1500;
    const keys = Buffer.alloc(n * 4);
    const vals = Buffer.alloc(n * 8);
    for (let i = 0; i < n; i++) {
      u32(i * 7 + 1).copy(keys, i * 4);
      u64(BigInt(i) * 1000n + 3n).copy(vals, i * 8);
    }
    assert.equal(h.updateBatch(keys, vals), n);
    const r = h.lookupBatch({ chunk: 100 });
    assert.equal(r.count, n);
    const got = new Map<number, bigint>();
    for (const [k, v] of r.entries()) got.set(readU32(k), readU64(v));
    for (let i = 0; i < n; i++) assert.equal(got.get(i * 7 + 1), BigInt(i) * 1000n + 3n);
    assert.equal([...h.keys()].length, n, 'get_next_key sees the same entries');
    assert.equal(h.lookupU64(8), 1003n);
    assert.equal(h.deleteBatch(keys.subarray(0, 500 * 4)), 500);
    assert.equal(h.lookupBatch().count, n - 500);
    const drained = h.lookupBatch({ remove: true, chunk: 64 });
    assert.equal(drained.count, n - 500);
    assert.equal(h.lookupBatch().count, 0);
    assert.equal(h.nextKey(null), undefined);
    assert.throws(() => h.lookup(Buffer.alloc(3)), RangeError);
    assert.throws(() => h.update(u32(1), Buffer.alloc(4)), RangeError);
  } finally {
    h.close();
  }

  const cpus = numPossibleCpus();
  const pc = BpfMap.create({ type: MapType.PERCPU_HASH, name: 'vt_pcpu', keySize: 4, valueSize: 4, maxEntries: 64 });
  try {
    assert.equal(pc.valueBufferSize, 8 * cpus, 'per-CPU values are padded to 8 bytes each');
    const keys = [u32(1), u32(2)];
    const vals = keys.map((_, k) => {
      const b = Buffer.alloc(pc.valueBufferSize);
      for (let c = 0; c < cpus; c++) b.writeUInt32LE(100 * (k + 1) + c, c * 8);
      return b;
    });
    assert.equal(pc.updateBatch(keys, vals), 2);
    const r = pc.lookupBatch();
    assert.equal(r.count, 2);
    for (const [k, v] of r.entries()) {
      const key = readU32(k);
      for (let c = 0; c < cpus; c++) assert.equal(v.readUInt32LE(c * 8), 100 * key + c);
    }
    const per = pc.lookupPerCpu(2)!;
    assert.equal(per.length, cpus);
    assert.equal(per[cpus - 1]!.readUInt32LE(0), 200 + cpus - 1);
  } finally {
    pc.close();
  }

  const arr = BpfMap.create({ type: MapType.ARRAY, name: 'vt_arr', keySize: 4, valueSize: 8, maxEntries: 10 });
  try {
    arr.updateBatch([u32(2), u32(9)], [u64(22), u64(99)]);
    const r = arr.lookupBatch({ chunk: 3 });
    assert.equal(r.count, 10, 'arrays return every slot');
    assert.equal(readU64(r.value(2)), 22n);
    assert.equal(readU64(r.value(9)), 99n);
    assert.equal(readU64(r.value(0)), 0n);
  } finally {
    arr.close();
  }
});

test('errors are typed; handles refuse use after close', () => {
  assert.throws(
    () => BpfObject.open('/nonexistent/x.bpf.o'),
    (e: unknown) => e instanceof BpfError && e.code === 'ENOENT' && e.op === 'bpf_object__open_file',
  );
  assert.throws(
    () => BpfMap.openPinned(`${bpffs}/missing`),
    (e: unknown) => e instanceof BpfError && e.errno === 2 && e.op === 'bpf_obj_get',
  );
  assert.throws(
    () => attachTcx({ fd: 0 }, { ifname: 'nope0', netns: NS_A, direction: 'ingress' }),
    (e: unknown) => e instanceof BpfError && e.op === 'if_nametoindex' && e.code === 'ENODEV',
  );
  const obj = BpfObject.open(bpfObjectPath('counter'));
  const m = obj.map('counters');
  obj.close();
  obj.close(); // idempotent
  assert.throws(() => m.fd, /closed/);
  assert.throws(() => obj.program('count_packets'), /closed/);
  assert.throws(() => BpfObject.load(bpfObjectPath('bad')), BpfError);
});

test('pinned link outlives its fd; unpin + close detaches', async () => {
  assert.ok(v2 && tcxLink);
  const counters = v2.map('counters');
  tcxLink.close();
  tcxLink = null;
  const before = slot(counters, 1).packets;
  await ping(NS_B, IP_A, 2);
  assert.ok(slot(counters, 1).packets >= before + 2n, 'still attached through the pin');

  const l = BpfLink.openPinned(`${bpffs}/tcx_link`);
  l.unpin();
  assert.equal(fs.existsSync(`${bpffs}/tcx_link`), false);
  l.close();
  const n = slot(counters, 1).packets;
  await ping(NS_B, IP_A, 2);
  assert.equal(slot(counters, 1).packets, n, 'no fd, no pin: detached');
});
