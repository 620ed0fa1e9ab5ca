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
