// Real kernel: the per-program record kept in bpffs (symlink text, no '.' allowed in names).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { readMeta, type BpfMeta } from '../../src/kernel/bpf';
import { bpffsName } from '../../src/kernel/bpf/paths';
import { writeMeta } from '../../src/kernel/bpf/meta';
import { isBpffs } from '../../src/kernel/libbpf';
import { MNT_DETACH, libc } from '../../src/kernel/libc';

let dir = '';
let mounted = false;

before(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vt-bpffs-'));
  assert.equal(libc.mount('bpf', dir, 'bpf', 0, 'mode=0700'), 0, 'mount bpffs');
  mounted = true;
});

after(() => {
  if (mounted) libc.umount2(dir, MNT_DETACH);
  fs.rmSync(dir, { recursive: true, force: true });
});

const meta = (extra: Partial<BpfMeta> = {}): BpfMeta => ({
  version: 1,
  name: 'p',
  object: '/x/counter.bpf.o',
  program: 'count_packets',
  attach: { type: 'tcx', namespace: 'a', dev: 'va', direction: 'ingress' },
  maps: ['counters'],
  tag: '0123456789abcdef',
  linkId: 7,
  target: { netns: 'vta', ifindex: 2 },
  updated: 'now',
  ...extra,
});

test('bpffs rejects dots in names; bpffsName encodes them', () => {
  assert.equal(isBpffs(dir), true);
  assert.throws(() => fs.mkdirSync(path.join(dir, 'a.b')), /EPERM/);
  fs.mkdirSync(path.join(dir, bpffsName('a.b')));
  assert.equal(bpffsName('a.b%/c'), 'a%2Eb%25%2Fc');
});

test('meta round-trips, small and chunked, and is replaced on rewrite', () => {
  const d = path.join(dir, 'prog');
  fs.mkdirSync(d);
  assert.equal(readMeta(d), undefined);
  writeMeta(d, meta());
  assert.deepEqual(readMeta(d), meta());
  const big = meta({ mapEntries: { counters: Array.from({ length: 200 }, (_, i) => ({ key: i.toString(16).padStart(8, '0'), value: 'ff'.repeat(16) })) } });
  writeMeta(d, big);
  assert.ok(fs.readdirSync(d).filter((f) => f.startsWith('meta_')).length > 3, 'chunked');
  assert.deepEqual(readMeta(d), big);
  writeMeta(d, meta({ tag: 'fedcba9876543210' }));
  assert.deepEqual(fs.readdirSync(d), ['meta']);
  assert.equal(readMeta(d)?.tag, 'fedcba9876543210');
});

test('a rewrite is atomic: a crash mid-write leaves the old record whole, and the next write clears what it left', () => {
  const d = path.join(dir, 'crash');
  fs.mkdirSync(d);
  const big = (tag: string) => meta({ tag, mapEntries: { counters: Array.from({ length: 100 }, (_, i) => ({ key: i.toString(16).padStart(8, '0'), value: 'ee'.repeat(16) })) } });
  writeMeta(d, big('1111111111111111'));
  // A write that fails part way (disk, signal): the old record is still there, whole.
  const symlink = fs.symlinkSync;
  let calls = 0;
  fs.symlinkSync = ((...a: Parameters<typeof symlink>) => {
    if (++calls === 3) throw new Error('injected failure');
    return symlink(...a);
  }) as typeof symlink;
  try {
    assert.throws(() => writeMeta(d, big('9999999999999999')), /injected failure/);
  } finally {
    fs.symlinkSync = symlink;
  }
  assert.equal(readMeta(d)?.tag, '1111111111111111');
  // A writer killed after its chunks and its next head, before the rename.
  fs.symlinkSync('{"version":1,"name":"p"', path.join(d, 'meta_zzz_1'));
  fs.symlinkSync(JSON.stringify({ chunks: 9, gen: 'zzz' }), path.join(d, 'meta_next'));
  assert.equal(readMeta(d)?.tag, '1111111111111111');
  writeMeta(d, big('2222222222222222'));
  assert.equal(readMeta(d)?.tag, '2222222222222222');
  const gen = (JSON.parse(fs.readlinkSync(path.join(d, 'meta'))) as { gen: string }).gen;
  assert.deepEqual(fs.readdirSync(d).filter((f) => f !== 'meta' && !f.startsWith(`meta_${gen}_`)), [], 'no chunk of an old or crashed write left');
});

test('a record chunked by an older Voltron (meta_1..N, no generation) still reads', () => {
  const d = path.join(dir, 'legacy');
  fs.mkdirSync(d);
  const text = JSON.stringify(meta({ tag: '3333333333333333' }));
  fs.symlinkSync(text.slice(0, 100), path.join(d, 'meta_1'));
  fs.symlinkSync(text.slice(100), path.join(d, 'meta_2'));
  fs.symlinkSync(JSON.stringify({ chunks: 2 }), path.join(d, 'meta'));
  assert.equal(readMeta(d)?.tag, '3333333333333333');
  writeMeta(d, meta({ tag: '4444444444444444' }));
  assert.deepEqual(fs.readdirSync(d), ['meta']);
});
