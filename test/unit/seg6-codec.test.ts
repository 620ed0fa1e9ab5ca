// The seg6 lwtunnel codec on its own: SRHs as iproute2 and the kernel write them.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { decodeEncap, encodeSeg6, encodeSrh } from '../../src/kernel/seg6';
import { Attrs } from '../../src/kernel/netlink/attrs';
import type { Seg6Encap } from '../../src/model/types';

const SEG6 = 5; // LWTUNNEL_ENCAP_SEG6
const NO_NAMES = new Map<number, string>();

/** RTA_ENCAP of a seg6 route as `ip route add ... encap seg6 mode MODE segs ...` sends it. */
function iprouteSeg6(mode: number, segments: string[]): Buffer {
  const payload = Buffer.concat([Buffer.alloc(4), encodeSrh(segments)]);
  payload.writeInt32LE(mode, 0);
  const attr = Buffer.alloc(4 + payload.length);
  attr.writeUInt16LE(attr.length, 0);
  attr.writeUInt16LE(1, 2); // SEG6_IPTUNNEL_SRH
  payload.copy(attr, 4);
  return attr;
}

describe('seg6 modes', () => {
  test('the reduced encapsulations read as themselves, not as encap (they never pass for a declared encap route)', () => {
    const segs = ['fc00::a', 'fc00::b'];
    assert.deepEqual(decodeEncap(SEG6, iprouteSeg6(3, segs), NO_NAMES), { type: 'seg6', mode: 'encap.red', segments: segs });
    assert.deepEqual(decodeEncap(SEG6, iprouteSeg6(4, segs), NO_NAMES), { type: 'seg6', mode: 'l2encap.red', segments: segs });
    assert.deepEqual(decodeEncap(SEG6, iprouteSeg6(1, segs), NO_NAMES), { type: 'seg6', mode: 'encap', segments: segs });
  });

  test('a mode this code does not know reads as its number, and is written back as it was (a rollback restores it)', () => {
    const e = decodeEncap(SEG6, iprouteSeg6(9, ['fc00::a']), NO_NAMES) as Seg6Encap;
    assert.deepEqual(e, { type: 'seg6', mode: 'mode-9', segments: ['fc00::a'] });
    const srh = Attrs.parse(encodeSeg6(e)).get(1)!;
    assert.equal(srh.readInt32LE(0), 9);
    const red = Attrs.parse(encodeSeg6({ type: 'seg6', mode: 'encap.red', segments: ['fc00::a'] })).get(1)!;
    assert.equal(red.readInt32LE(0), 3);
  });
});
