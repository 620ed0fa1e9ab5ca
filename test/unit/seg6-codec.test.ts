// The seg6 lwtunnel codec on its own: SRHs as iproute2 and the kernel write them.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { decodeEncap, encodeSeg6, encodeSrh, unmodelledEncap } from '../../src/kernel/seg6';
import { AttrWriter, Attrs } from '../../src/kernel/netlink/attrs';
import type { Seg6Encap } from '../../src/model/types';

const SEG6 = 5; // LWTUNNEL_ENCAP_SEG6
const SEG6LOCAL = 7;
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

describe('encaps Voltron does not model are named, so such a route never passes for a declared one', () => {
  const seg6local = (action: number, extra: [number, Buffer][] = []): Buffer => {
    const w = new AttrWriter().u32(1, action);
    for (const [t, v] of extra) w.raw(t, v);
    return w.toBuffer();
  };

  test('another lwtunnel type', () => {
    assert.equal(unmodelledEncap(1, Buffer.alloc(8)), 'encap mpls');
    assert.equal(unmodelledEncap(4, Buffer.alloc(8)), 'encap ip6');
    assert.equal(unmodelledEncap(42, Buffer.alloc(8)), 'encap 42');
  });

  test('an SRH with flags and an HMAC TLV (ip route ... hmac KEYID), but not a plain one', () => {
    assert.equal(unmodelledEncap(SEG6, iprouteSeg6(1, ['fc00::a', 'fc00::b'])), undefined);
    assert.equal(unmodelledEncap(SEG6, iprouteSeg6(0, ['fc00::a', '::'])), undefined);
    // iproute2: flags |= SR6_FLAG1_HMAC, hdrlen += 5 (a 40-byte HMAC TLV after the segments).
    const plain = encodeSrh(['fc00::a', 'fc00::b']);
    const hmac = Buffer.concat([plain, Buffer.alloc(40)]);
    hmac.writeUInt8(plain.readUInt8(1) + 5, 1);
    hmac.writeUInt8(0x08, 5);
    const payload = Buffer.concat([Buffer.alloc(4), hmac]);
    payload.writeInt32LE(1, 0);
    const attr = new AttrWriter().raw(1, payload).toBuffer();
    assert.equal(unmodelledEncap(SEG6, attr), 'encap seg6 hmac');
    // The segments still read as they are.
    assert.deepEqual((decodeEncap(SEG6, attr, NO_NAMES) as Seg6Encap).segments, ['fc00::a', 'fc00::b']);
  });

  test('a seg6local action this code does not know, or attributes it does not model (flavors, bpf)', () => {
    assert.equal(unmodelledEncap(SEG6LOCAL, seg6local(1)), undefined);
    assert.equal(unmodelledEncap(SEG6LOCAL, seg6local(15)), 'encap seg6local action 15');
    assert.equal(unmodelledEncap(SEG6LOCAL, seg6local(1, [[11, Buffer.alloc(8)]])), 'encap seg6local End flavors');
    assert.equal(unmodelledEncap(SEG6LOCAL, seg6local(1, [[10, Buffer.alloc(8)]])), undefined, 'counters are statistics, not a behaviour');
  });
});
