// Kernel tests for the tc module: qdiscs, htb classes and bpf filters written over rtnetlink
// in a namespace this file creates (with a veth pair) and removes. `tc -j` and `bpftool` are the
// independent oracles. Needs root and dist/bpf/counter*.bpf.o (scripts/build-bpf.sh).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import { executeChange } from '../../src/apply/execute';
import '../../src/kernel/tc/register';
import { canonicalQdiscOptions, setFilterProgramResolver } from '../../src/kernel/tc';
import { NetlinkError } from '../../src/kernel/netlink/socket';
import { readState } from '../../src/kernel/read';
import { KernelSession } from '../../src/kernel/session';
import { resourceKey } from '../../src/model/keys';
import type { QdiscRes, Resource, TcClassRes, TcFilterRes } from '../../src/model/types';
import { diffResource } from '../../src/plan/compare';
import { EMPTY_INVENTORY, type Change } from '../../src/plan/types';
import { BpfObject, bpfObjectPath } from '../../src/kernel/libbpf';

const NS = `${process.env.VOLTRON_TEST_NS_PREFIX ?? 'vt'}${randomBytes(4).toString('hex')}`; // under the run's prefix, as the sandboxes are
const DEV = 'vta0';
const PEER = 'vtb0';
let session: KernelSession;
let nsMade = false;
const objects: BpfObject[] = [];

function sh(cmd: string, args: string[]): string {
  return execFileSync(cmd, args, { encoding: 'utf8' });
}
function tcJson(...args: string[]): any[] {
  const out = sh('tc', ['-n', NS, '-j', ...args]).trim();
  return out ? JSON.parse(out) : [];
}

before(() => {
  sh('ip', ['netns', 'add', NS]);
  nsMade = true;
  sh('ip', ['-n', NS, 'link', 'add', DEV, 'type', 'veth', 'peer', 'name', PEER]);
  sh('ip', ['-n', NS, 'link', 'set', DEV, 'up']);
  sh('ip', ['-n', NS, 'link', 'set', PEER, 'up']);
  session = new KernelSession();
});

after(() => {
  setFilterProgramResolver(undefined);
  session?.close();
  for (const o of objects) o.close();
  if (nsMade) sh('ip', ['netns', 'del', NS]);
});

function exec(action: Change['action'], b: Resource | undefined, a: Resource | undefined): void {
  const r = (a ?? b)!;
  const change: Change = { action, key: resourceKey(r), kind: r.kind, label: `test ${action}`, reason: 'test', fields: [], disruptive: false, before: b, after: a, dependsOn: [] };
  executeChange(change, { session, inventory: EMPTY_INVENTORY });
}

/** Live tc objects via the registered reader, keyed like the plan keys them. */
function live(): Map<string, Resource> {
  const all = readState(session, { namespaces: [NS], sysctls: new Map(), tunsrc: [] });
  return new Map([...all].filter(([, r]) => r.kind === 'qdisc' || r.kind === 'tclass' || r.kind === 'tfilter'));
}

/** Read back equals what was written: same object where the kernel reports every field; otherwise no plan diff. */
function assertReadsBack(want: Resource, extra: Record<string, unknown> = {}): void {
  const got = live().get(resourceKey(want));
  assert.ok(got, `${resourceKey(want)} not read back`);
  assert.deepEqual(diffResource(want, got!), [], `plan would change ${resourceKey(want)}`);
  const expect = { ...want, ...extra } as Record<string, unknown>;
  if (want.kind === 'qdisc') expect.options = { ...want.options, ...(extra.options as object) };
  assert.deepEqual(got, expect);
}

const RATE_UNIT: Record<string, number> = { bit: 1, Kbit: 1e3, Mbit: 1e6, Gbit: 1e9, Tbit: 1e12 };
/** iproute2 6.1 prints htb classes as text even with -j: parse `tc -d class show`. */
function tcClasses(): Map<string, { parent: string; rate: number; ceil: number; leaf?: string }> {
  const out = new Map<string, { parent: string; rate: number; ceil: number; leaf?: string }>();
  for (const line of sh('tc', ['-n', NS, 'class', 'show', 'dev', DEV]).split('\n')) {
    const m = /^class htb (\S+) (?:root|parent (\S+))(?: leaf (\S+))? .*?rate (\d+(?:\.\d+)?)(\w+) ceil (\d+(?:\.\d+)?)(\w+)/.exec(line);
    if (!m) continue;
    const bytes = (v: string, u: string) => Math.round((Number(v) * RATE_UNIT[u]!) / 8);
    out.set(m[1]!, { parent: m[2] ?? 'root', rate: bytes(m[4]!, m[5]!), ceil: bytes(m[6]!, m[7]!), leaf: m[3] });
  }
  return out;
}

const ns = () => NS;
const qd = (o: Omit<QdiscRes, 'kind' | 'namespace' | 'dev'>): QdiscRes => ({ kind: 'qdisc', namespace: ns(), dev: DEV, ...o });
const cl = (o: Omit<TcClassRes, 'kind' | 'namespace' | 'dev'>): TcClassRes => ({ kind: 'tclass', namespace: ns(), dev: DEV, ...o });

test('a fresh veth reports no tc objects (its default noqueue is skipped)', () => {
  assert.equal(tcJson('qdisc', 'show', 'dev', DEV)[0].kind, 'noqueue');
  assert.deepEqual([...live().keys()], []);
});

test('qdiscs and htb classes: create, replace, read back, update in place, delete', async (t) => {
  const pfifo = qd({ parent: 'root', handle: '1:', qdisc: 'pfifo', options: { limit: 100 } });
  const htb = qd({ parent: 'root', handle: '2:', qdisc: 'htb', options: { default: 0x10 } });
  const c10 = cl({ classid: '2:10', parent: '2:', rate: 1_250_000, ceil: 12_500_000 });
  const c20 = cl({ classid: '2:20', parent: '2:', rate: 625_000 });
  const c21 = cl({ classid: '2:21', parent: '2:20', rate: 125_000, ceil: 625_000 });
  const c30 = cl({ classid: '2:30', parent: '2:', rate: 5_000_000_000, ceil: 6_250_000_000 }); // > u32: *_RATE64
  const tbf = qd({ parent: '2:10', handle: '10:', qdisc: 'tbf', options: { rate: 1_250_000, burst: 32768, latency: 50_000 } });

  await t.test('create pfifo at root', () => {
    exec('create', undefined, pfifo);
    assertReadsBack(pfifo);
    const [q] = tcJson('qdisc', 'show', 'dev', DEV);
    assert.equal(q.kind, 'pfifo');
    assert.equal(q.handle, '1:');
    assert.equal(q.root, true);
    assert.equal(q.options.limit, 100);
  });

  await t.test('creating again in the occupied slot is refused', () => {
    assert.throws(() => exec('create', undefined, { ...pfifo, handle: '3:' }), (e: unknown) => e instanceof NetlinkError && e.code === 'EEXIST');
  });

  await t.test('replace pfifo by htb (atomic swap), add classes and a tbf leaf', () => {
    exec('replace', pfifo, htb);
    for (const c of [c10, c20, c21, c30]) exec('create', undefined, c);
    exec('create', undefined, tbf);
    const got = live();
    assert.deepEqual([...got.keys()].sort(), [
      `qdisc:${NS}/${DEV}/2:10`,
      `qdisc:${NS}/${DEV}/root`,
      `tclass:${NS}/${DEV}/2:10`,
      `tclass:${NS}/${DEV}/2:20`,
      `tclass:${NS}/${DEV}/2:21`,
      `tclass:${NS}/${DEV}/2:30`,
    ]);
    assertReadsBack(htb, { options: { r2q: 10 } });
    for (const c of [c10, c21, c30]) assertReadsBack(c);
    assertReadsBack(c20, { ceil: c20.rate }); // ceil defaults to rate, like tc
    // limit = rate * latency + burst, as iproute2 derives it
    assertReadsBack(tbf, { options: { limit: 62_500 + 32_768 } });

    const qs = tcJson('qdisc', 'show', 'dev', DEV);
    const root = qs.find((q) => q.root);
    assert.equal(root.kind, 'htb');
    assert.equal(root.handle, '2:');
    assert.equal(root.options.default, '0x10');
    assert.equal(root.options.r2q, 10);
    const leaf = qs.find((q) => q.handle === '10:');
    assert.equal(leaf.kind, 'tbf');
    assert.equal(leaf.parent, '2:10');
    assert.equal(leaf.options.rate, 1_250_000);
    assert.equal(leaf.options.lat, 50_000);
    // tc reads the bucket back through whole microseconds: within 2 bytes of what we set
    assert.ok(Math.abs(leaf.options.burst - 32768) <= 2, `tc burst ${leaf.options.burst}`);
    const classes = tcClasses();
    assert.deepEqual(classes.get('2:10'), { parent: 'root', rate: 1_250_000, ceil: 12_500_000, leaf: '10:' });
    assert.deepEqual(classes.get('2:20'), { parent: 'root', rate: 625_000, ceil: 625_000, leaf: undefined });
    assert.deepEqual(classes.get('2:21'), { parent: '2:20', rate: 125_000, ceil: 625_000, leaf: undefined });
    assert.deepEqual(classes.get('2:30'), { parent: 'root', rate: 5_000_000_000, ceil: 6_250_000_000, leaf: undefined });
  });

  await t.test('update a class rate in place: same class, leaf qdisc kept', () => {
    const faster = { ...c10, rate: 2_500_000 };
    exec('update', c10, faster);
    assertReadsBack(faster);
    assert.deepEqual(tcClasses().get('2:10'), { parent: 'root', rate: 2_500_000, ceil: 12_500_000, leaf: '10:' });
    assert.ok(live().has(resourceKey(tbf)), 'tbf leaf survived');
    // undeclared ceil: the live one is kept
    exec('update', live().get(resourceKey(c20)), { ...c20, rate: 700_000 });
    assert.deepEqual(tcClasses().get('2:20'), { parent: 'root', rate: 700_000, ceil: 700_000, leaf: undefined });
    exec('update', live().get(resourceKey(c20)), { ...c20, rate: 600_000 });
    assert.deepEqual(tcClasses().get('2:20')?.ceil, 700_000);
  });

  await t.test('update tbf options in place (tc qdisc change)', () => {
    const tbf2 = { ...tbf, options: { rate: 2_500_000, burst: 64_000, limit: 200_000 } };
    exec('update', tbf, tbf2);
    assertReadsBack(tbf2, { options: { latency: 54_400 } }); // (200000 - 64000) B at 2.5 MB/s
    const leaf = tcJson('qdisc', 'show', 'dev', DEV).find((q) => q.handle === '10:');
    assert.equal(leaf.options.rate, 2_500_000);
  });

  await t.test('update htb options: recreated with classes and leaves restored', () => {
    const htb2 = { ...htb, options: { default: 0x20, r2q: 20 } };
    const before = live();
    exec('update', htb, htb2);
    const now = live();
    assertReadsBack(htb2);
    assert.deepEqual([...now.keys()].sort(), [...before.keys()].sort());
    for (const [k, r] of before) if (r.kind !== 'qdisc' || r.parent !== 'root') assert.deepEqual(now.get(k), r, k);
    assert.equal(tcJson('qdisc', 'show', 'dev', DEV).find((q) => q.root).options.default, '0x20');
  });

  await t.test('replace keeping the handle with another kind (delete + create)', () => {
    const cur = live().get(resourceKey(tbf)) as QdiscRes;
    const fifo = qd({ parent: '2:10', handle: '10:', qdisc: 'pfifo', options: { limit: 50 } });
    exec('replace', cur, fifo);
    assertReadsBack(fifo);
    assert.equal(tcJson('qdisc', 'show', 'dev', DEV).find((q) => q.handle === '10:').kind, 'pfifo');
  });

  await t.test('delete a class (its leaf goes too), then the root qdisc', () => {
    exec('delete', c21, undefined);
    assert.equal(tcClasses().has('2:21'), false);
    exec('delete', c10, undefined);
    assert.equal(live().has(`qdisc:${NS}/${DEV}/2:10`), false);
    exec('delete', htb, undefined);
    assert.deepEqual([...live().keys()], []);
    assert.equal(tcJson('qdisc', 'show', 'dev', DEV)[0].kind, 'noqueue');
    // deleting what is already gone is not an error for the executor
    exec('delete', htb, undefined);
  });
});

test('tbf at any rate reads back as canonicalQdiscOptions predicts', () => {
  const cases: Record<string, number>[] = [
    { rate: 1_250_000_000, burst: 32768, latency: 50_000 }, // 10gbit: 80 B per tick
    { rate: 5_000_000_000, burst: 1 << 20, latency: 2_000 }, // > u32: TCA_TBF_RATE64
    { rate: 125_000, burst: 2000, latency: 50_001 }, // 1mbit: 50000 and 50001 µs give the same limit
    { rate: 1_000_000, burst: 1514, limit: 3000 },
    { rate: 1_250_000, burst: 32768, latency: 10_000, peakrate: 2_500_000, mtu: 2000 },
  ];
  for (const options of cases) {
    const q = qd({ parent: 'root', handle: '5:', qdisc: 'tbf', options });
    exec('create', undefined, q);
    try {
      const want = { ...q, options: canonicalQdiscOptions('tbf', options) };
      const got = live().get(resourceKey(q)) as QdiscRes;
      assert.deepEqual(diffResource(want, got), [], JSON.stringify(options));
      const tcq = tcJson('qdisc', 'show', 'dev', DEV)[0];
      assert.equal(tcq.options.rate, options.rate);
      assert.equal(got.options.limit, tcq.options.limit ?? got.options.limit);
    } finally {
      exec('delete', q, undefined);
    }
  }
});

test('deleting a class with child classes deletes its subtree, as the plan counts it (htb alone answers EBUSY)', () => {
  // Found by test/kernel/agreement-srv6-tc.property.test.ts: dropping class 1:1 from the config
  // while its child 1:10 stays (re-parented to 1:) failed the apply with EBUSY.
  const htb = qd({ parent: 'root', handle: '6:', qdisc: 'htb', options: {} });
  const c1 = cl({ classid: '6:1', parent: '6:', rate: 1_250_000 });
  const c10 = cl({ classid: '6:10', parent: '6:1', rate: 125_000 });
  const c11 = cl({ classid: '6:11', parent: '6:10', rate: 125_000 });
  const c2 = cl({ classid: '6:2', parent: '6:', rate: 125_000 });
  const leaf = qd({ parent: '6:11', handle: '11:', qdisc: 'pfifo', options: { limit: 10 } });
  exec('create', undefined, htb);
  try {
    for (const c of [c1, c10, c11, c2]) exec('create', undefined, c);
    exec('create', undefined, leaf);
    exec('delete', c1, undefined);
    assert.deepEqual([...live().keys()].sort(), [`qdisc:${NS}/${DEV}/root`, `tclass:${NS}/${DEV}/6:2`]);
  } finally {
    exec('delete', htb, undefined);
  }
});

test('clsact + bpf filter: create, read (tag as bpftool shows), swap program, delete', async (t) => {
  const v1 = BpfObject.load(bpfObjectPath('counter'));
  objects.push(v1);
  const v2 = BpfObject.load(bpfObjectPath('counter_v2'));
  objects.push(v2);
  const progs: Record<string, { fd: number; id: number; tag: string }> = {};
  for (const [name, p] of [['count-v1', v1.program('count_packets')], ['count-v2', v2.program('count_packets_v2')]] as const) {
    progs[name] = { fd: p.fd, id: p.id, tag: p.tag };
  }
  setFilterProgramResolver((name) => {
    const p = progs[name];
    if (!p) throw new Error(`unknown program ${name}`);
    return p.fd;
  });
  const clsact = qd({ parent: 'clsact', qdisc: 'clsact', options: {} });
  const ing: TcFilterRes = { kind: 'tfilter', namespace: NS, dev: DEV, direction: 'ingress', priority: 1, program: 'count-v1' };
  const eg: TcFilterRes = { ...ing, direction: 'egress', priority: 7, program: 'count-v2' };

  await t.test('create clsact and two filters', () => {
    exec('create', undefined, clsact);
    assertReadsBack(clsact);
    assert.equal(tcJson('qdisc', 'show', 'dev', DEV).find((q) => q.kind === 'clsact').parent, 'ffff:fff1');
    exec('create', undefined, ing);
    exec('create', undefined, eg);
    assertReadsBack(ing, { tag: progs['count-v1']!.tag });
    assertReadsBack(eg, { tag: progs['count-v2']!.tag });
    const shown = tcJson('filter', 'show', 'dev', DEV, 'ingress').find((f) => f.options);
    assert.equal(shown.pref, 1);
    assert.equal(shown.protocol, 'all');
    assert.equal(shown.options['direct-action'], true);
    assert.equal(shown.options.bpf_name, 'count-v1');
    assert.equal(shown.options.prog.id, progs['count-v1']!.id);
    const bt = JSON.parse(sh('bpftool', ['-j', 'prog', 'show', 'id', String(shown.options.prog.id)]));
    assert.equal(live().get(resourceKey(ing))!.kind === 'tfilter' && (live().get(resourceKey(ing)) as TcFilterRes).tag, bt.tag);
  });

  await t.test('a second create at the same priority is refused', () => {
    assert.throws(() => exec('create', undefined, ing), (e: unknown) => e instanceof NetlinkError && e.code === 'EEXIST');
  });

  await t.test('update swaps the program in place', () => {
    const before = tcJson('filter', 'show', 'dev', DEV, 'ingress').find((f) => f.options);
    exec('update', ing, { ...ing, program: 'count-v2' });
    assertReadsBack({ ...ing, program: 'count-v2' }, { tag: progs['count-v2']!.tag });
    const shown = tcJson('filter', 'show', 'dev', DEV, 'ingress').filter((f) => f.options);
    assert.equal(shown.length, 1);
    assert.equal(shown[0].options.handle, before.options.handle);
    assert.equal(shown[0].options.prog.id, progs['count-v2']!.id);
  });

  await t.test('delete filters, then clsact', () => {
    exec('delete', ing, undefined);
    assert.equal(tcJson('filter', 'show', 'dev', DEV, 'ingress').length, 0);
    assert.equal(live().has(resourceKey(ing)), false);
    assert.ok(live().has(resourceKey(eg)));
    exec('delete', clsact, undefined);
    assert.deepEqual([...live().keys()], []);
    exec('delete', eg, undefined); // gone with clsact: tolerated
  });
});

test('namespace is cleaned up by after()', () => {
  assert.ok(fs.existsSync(`/run/netns/${NS}`));
});
