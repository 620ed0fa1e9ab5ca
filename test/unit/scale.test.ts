// Sizes real hosts reach: VNI filters of up to 2^24 entries are sent and shown as ranges.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Attrs } from '../../src/kernel/netlink/attrs';
import * as R from '../../src/kernel/netlink/rtnl';
import { VNI_ENTRIES_PER_REQUEST, vniRequests } from '../../src/kernel/vlan';
import { fmtScalar } from '../../src/plan/format';
import { toRanges } from '../../src/util/ranges';

/** [start, end] of every VNI filter entry of a request's attributes. */
function entries(buf: Buffer): [number, number][] {
  return Attrs.parse(buf)
    .all(R.VXLAN_VNIFILTER_ENTRY)
    .map((e) => {
      const a = Attrs.parse(e);
      const start = a.u32(R.VXLAN_VNIFILTER_ENTRY_START)!;
      return [start, a.u32(R.VXLAN_VNIFILTER_ENTRY_END) ?? start];
    });
}

test('toRanges: runs of consecutive integers, from any order and with duplicates', () => {
  assert.deepEqual(toRanges([]), []);
  assert.deepEqual(toRanges([1, 2, 3, 7, 9, 10]), [[1, 3], [7, 7], [9, 10]]);
  assert.deepEqual(toRanges([10, 9, 1, 3, 2, 2]), [[1, 3], [9, 10]]);
});

test('VNI filter requests: 2^20 VNIs in 16 runs are 16 range entries in one small request (one entry per VNI was 12 MB: EMSGSIZE)', () => {
  const vnis = Array.from({ length: 1 << 20 }, (_, i) => i + 1);
  vnis.splice(70000, 1); // a hole: two runs around it
  const reqs = vniRequests(vnis);
  assert.equal(reqs.length, 1);
  assert.deepEqual(entries(reqs[0]!.toBuffer()), [[1, 70000], [70002, 1 << 20]]);
  assert.ok(reqs[0]!.length < 100);
});

test('VNI filter requests: many separate VNIs are split so no request exceeds 64 KiB', () => {
  const vnis = Array.from({ length: 10_000 }, (_, i) => 2 * i + 1); // no two consecutive
  const reqs = vniRequests(vnis);
  assert.equal(reqs.length, Math.ceil(10_000 / VNI_ENTRIES_PER_REQUEST));
  for (const r of reqs) assert.ok(r.length <= 65536, `${r.length} bytes`);
  assert.deepEqual(reqs.flatMap((r) => entries(r.toBuffer())).map(([a, b]) => (assert.equal(a, b), a)), vnis);
});

test('plan values: a VNI list is shown as runs, other lists item by item', () => {
  const vnis = Array.from({ length: 1 << 20 }, (_, i) => i + 1);
  assert.equal(fmtScalar([...vnis, 2_000_000], 'vnis'), '[1-1048576, 2000000]');
  assert.equal(fmtScalar([], 'vnis'), '[]');
  assert.equal(fmtScalar([1, 2, 3], 'segments'), '[1, 2, 3]');
});
