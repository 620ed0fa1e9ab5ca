// Netlink attribute encoding: AttrWriter (one growing buffer, nests patched in place) must
// produce exactly the bytes of a plain reference encoder, padding zeroed, for random trees;
// and Attrs must read back what was written.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { AttrWriter, Attrs, NLA_F_NESTED, bufferToIp, ipToBuffer } from '../../src/kernel/netlink/attrs';
import { canonicalIp } from '../../src/model/net';

type Node =
  | { k: 'u8' | 'u16' | 'u16be' | 'u32'; type: number; v: number }
  | { k: 'str'; type: number; v: string }
  | { k: 'raw'; type: number; v: Uint8Array }
  | { k: 'flag'; type: number }
  | { k: 'nest'; type: number; children: Node[] };

const type = fc.integer({ min: 1, max: 0x3fff });
const { node } = fc.letrec<{ node: Node }>((tie) => ({
  node: fc.oneof(
    { depthSize: 'small' },
    fc.record({ k: fc.constantFrom('u8' as const, 'u16' as const, 'u16be' as const, 'u32' as const), type, v: fc.integer({ min: 0, max: 0xffffffff }) }),
    fc.record({ k: fc.constant('str' as const), type, v: fc.string({ maxLength: 40 }) }),
    fc.record({ k: fc.constant('raw' as const), type, v: fc.uint8Array({ maxLength: 300 }) }),
    fc.record({ k: fc.constant('flag' as const), type }),
    fc.record({ k: fc.constant('nest' as const), type, children: fc.array(tie('node'), { maxLength: 5 }) }),
  ),
}));

/** Reference encoder: one buffer per attribute, concatenated (what the kernel expects). */
function encode(n: Node): Buffer {
  let payload: Buffer;
  let t = n.type;
  switch (n.k) {
    case 'u8':
      payload = Buffer.from([n.v & 0xff]);
      break;
    case 'u16':
      payload = Buffer.alloc(2);
      payload.writeUInt16LE(n.v & 0xffff);
      break;
    case 'u16be':
      payload = Buffer.alloc(2);
      payload.writeUInt16BE(n.v & 0xffff);
      break;
    case 'u32':
      payload = Buffer.alloc(4);
      payload.writeUInt32LE(n.v >>> 0);
      break;
    case 'str':
      payload = Buffer.concat([Buffer.from(n.v, 'utf8'), Buffer.from([0])]);
      break;
    case 'raw':
      payload = Buffer.from(n.v);
      break;
    case 'flag':
      payload = Buffer.alloc(0);
      break;
    case 'nest':
      payload = Buffer.concat(n.children.map(encode));
      t |= NLA_F_NESTED;
      break;
  }
  const out = Buffer.alloc((4 + payload.length + 3) & ~3);
  out.writeUInt16LE(4 + payload.length, 0);
  out.writeUInt16LE(t, 2);
  payload.copy(out, 4);
  return out;
}

function write(w: AttrWriter, n: Node): void {
  switch (n.k) {
    case 'u8':
    case 'u16':
    case 'u16be':
    case 'u32':
      w[n.k](n.type, n.v);
      return;
    case 'str':
      w.str(n.type, n.v);
      return;
    case 'raw':
      w.raw(n.type, Buffer.from(n.v));
      return;
    case 'flag':
      w.flag(n.type);
      return;
    case 'nest':
      w.nest(n.type, (inner) => n.children.forEach((c) => write(inner, c)));
  }
}

test('AttrWriter writes exactly the reference encoding (padding zeroed), at any size', () => {
  fc.assert(
    fc.property(fc.array(node, { maxLength: 8 }), (nodes) => {
      const w = new AttrWriter();
      for (const n of nodes) write(w, n);
      const expected = Buffer.concat(nodes.map(encode));
      assert.equal(w.length, expected.length);
      assert.deepEqual(w.toBuffer(), expected);
    }),
    { numRuns: 2000 },
  );
});

test('Attrs reads back what AttrWriter wrote', () => {
  fc.assert(
    fc.property(fc.array(node, { maxLength: 8 }), (nodes) => {
      const w = new AttrWriter();
      for (const n of nodes) write(w, n);
      const check = (a: Attrs, list: Node[]) => {
        // The last attribute of a type wins on lookup.
        const last = new Map<number, Node>();
        for (const n of list) last.set(n.type, n);
        for (const [t, n] of last) {
          if (n.k === 'u32') assert.equal(a.u32(t), n.v >>> 0);
          else if (n.k === 'u8') assert.equal(a.u8(t), n.v & 0xff);
          else if (n.k === 'u16') assert.equal(a.u16(t), n.v & 0xffff);
          else if (n.k === 'str' && !n.v.includes('\0')) assert.equal(a.str(t), n.v);
          else if (n.k === 'raw') assert.deepEqual(a.get(t), Buffer.from(n.v));
          else if (n.k === 'nest') check(a.nested(t)!, n.children);
          else assert.ok(a.has(t));
        }
      };
      check(Attrs.parse(w.toBuffer()), nodes);
    }),
    { numRuns: 1000 },
  );
});

test('bufferToIp prints what the config canonicalises to (IPv4-mapped/compatible keep a dotted tail)', () => {
  // A different spelling would never compare equal to the declared address: no convergence.
  // Expected forms written out (glibc inet_ntop), not computed: both sides share formatV6.
  const cases: [string, string][] = [
    ['::ffff:1.2.3.4', '::ffff:1.2.3.4'],
    ['::1.2.3.4', '::1.2.3.4'],
    ['::1', '::1'],
    ['::', '::'],
    ['2001:DB8:0:0:0::1', '2001:db8::1'],
    ['2001:db8:0:1:0:0:0:1', '2001:db8:0:1::1'],
    ['10.0.0.1', '10.0.0.1'],
    ['fe80::ffff:1:2', 'fe80::ffff:1:2'],
  ];
  for (const [ip, want] of cases) {
    assert.equal(bufferToIp(ipToBuffer(ip)), want, ip);
    assert.equal(canonicalIp(ip), want, ip);
  }
});
