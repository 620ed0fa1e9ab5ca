// IP / CIDR / MAC helpers in src/model/net.ts, with WHATWG URL as an IPv6 oracle.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { isIP } from 'node:net';
import {
  canonicalCidr, canonicalIp, canonicalMac, hasHostBits, ipFamily, ipFromBytes, ipToBytes, isMulticastIp, isValidMac, networkOf, parseCidr, whyNotCidr, whyNotIp, whyNotMac,
} from '../../src/model/net';

test('canonicalIp: RFC 5952 / inet_ntop forms', () => {
  const cases: [string, string | undefined][] = [
    ['2001:DB8:0::1', '2001:db8::1'],
    ['2001:db8:0:0:0:0:0:1', '2001:db8::1'],
    ['2001:0db8:0000:0001:0000:0000:0000:0001', '2001:db8:0:1::1'],
    ['2001:db8:0:1:1:1:1:1', '2001:db8:0:1:1:1:1:1'], // a single zero word is not compressed
    ['1:0:0:2:0:0:0:3', '1:0:0:2::3'], // longest run wins
    ['1:0:0:2:0:0:3:4', '1::2:0:0:3:4'], // first run on a tie
    ['::', '::'],
    ['::1', '::1'],
    ['0:0:0:0:0:ffff:c000:0201', '::ffff:192.0.2.1'],
    ['::ffff:192.0.2.1', '::ffff:192.0.2.1'],
    // As glibc's inet_ntop (and so `ip`) prints them: seven leading zero words stay hex.
    ['::9', '::9'],
    ['::ffff', '::ffff'],
    ['::0.0.0.9', '::9'],
    ['::2:3', '::0.2.0.3'],
    ['::ffff:0', '::255.255.0.0'],
    ['fe80::1:2', 'fe80::1:2'],
    ['10.0.0.1', '10.0.0.1'],
    ['010.0.0.1', undefined],
    ['10.0.0.256', undefined],
    ['1.2.3', undefined],
    ['2001:db8:::1', undefined],
    ['1:2:3:4:5:6:7:8:9', undefined],
    ['fe80::1%eth0', undefined],
    ['12345::', undefined],
    ['', undefined],
  ];
  for (const [i, want] of cases) assert.equal(canonicalIp(i), want, i);
});

const word = fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 0xffff }));
const v6words = fc.array(word, { minLength: 8, maxLength: 8 });
const text = (w: number[], upper: boolean): string => w.map((x) => (upper ? x.toString(16).toUpperCase() : x.toString(16).padStart(4, '0'))).join(':');

test('canonicalIp matches the WHATWG URL serialiser (outside IPv4-embedded forms)', () => {
  fc.assert(
    fc.property(v6words, fc.boolean(), (w, upper) => {
      fc.pre(!(w.slice(0, 5).every((x) => x === 0) && (w[5] === 0 || w[5] === 0xffff))); // dotted forms differ by design
      const s = text(w, upper);
      const oracle = new URL(`http://[${s}]/`).hostname.slice(1, -1);
      assert.equal(canonicalIp(s), oracle);
      assert.equal(canonicalIp(oracle), oracle, 'idempotent');
    }),
    { numRuns: 2000 },
  );
});

test('bytes round-trip and canonical text agree', () => {
  fc.assert(
    fc.property(fc.uint8Array({ minLength: 16, maxLength: 16 }), (b) => {
      const s = ipFromBytes(b);
      assert.deepEqual(ipToBytes(s), b);
      assert.equal(canonicalIp(s), s);
    }),
  );
  fc.assert(
    fc.property(fc.uint8Array({ minLength: 4, maxLength: 4 }), (b) => {
      const s = ipFromBytes(b);
      assert.equal(ipFamily(s), 4);
      assert.deepEqual(ipToBytes(s), b);
    }),
  );
});

test('parseCidr / networkOf / canonicalCidr', () => {
  assert.deepEqual(parseCidr('2001:DB8::1/64'), { addr: '2001:db8::1', prefix: 64, family: 6 });
  assert.deepEqual(parseCidr('10.1.2.3/8'), { addr: '10.1.2.3', prefix: 8, family: 4 });
  for (const bad of ['10.0.0.1', '10.0.0.1/33', '10.0.0.1/08', '::/129', '10.0.0.1/-1', '10.0.0.1/24/1', 'x/8'])
    assert.equal(parseCidr(bad), undefined, bad);
  assert.equal(networkOf('10.9.8.7/16'), '10.9.0.0/16');
  assert.equal(networkOf('10.9.8.7/0'), '0.0.0.0/0');
  assert.equal(networkOf('10.9.8.7/32'), '10.9.8.7/32');
  assert.equal(networkOf('2001:db8:1:2:3::1/33'), '2001:db8::/33');
  assert.equal(networkOf('2001:db8:ffff::1/36'), '2001:db8:f000::/36');
  assert.equal(canonicalCidr('2001:DB8:0::1/64'), '2001:db8::1/64');
  assert.equal(hasHostBits('10.0.0.1/24'), true);
  assert.equal(hasHostBits('10.0.0.0/24'), false);
  fc.assert(
    fc.property(fc.uint8Array({ minLength: 4, maxLength: 4 }), fc.integer({ min: 0, max: 32 }), (b, p) => {
      const n = networkOf(`${ipFromBytes(b)}/${p}`)!;
      assert.equal(networkOf(n), n, 'idempotent');
      assert.equal(hasHostBits(n), false);
    }),
  );
});

// parseV4 and the prefix are hand-parsed (for speed): they must accept exactly the strict forms.
test('dotted quads and prefix lengths: exactly what isIP and the strict decimal form accept', () => {
  const token = fc.oneof(fc.integer({ min: 0, max: 999 }).map(String), fc.constantFrom('', '0', '00', '01', '255', '256', '1a', ' 1', '+1', '-1', '1e2', '٣'));
  fc.assert(
    fc.property(fc.array(token, { minLength: 1, maxLength: 6 }), token, fc.boolean(), (parts, p, withPrefix) => {
      const ip = parts.join('.');
      assert.equal(ipFamily(ip) === 4, isIP(ip) === 4, ip);
      const strict = /^(0|[1-9][0-9]{0,2})$/.test(p) && Number(p) <= 32;
      if (withPrefix && isIP(ip) === 4) assert.equal(parseCidr(`${ip}/${p}`)?.prefix, strict ? Number(p) : undefined, `${ip}/${p}`);
    }),
    { numRuns: 3000 },
  );
});

test('IPv6 literals: exactly what isIP accepts, zone ids aside (the parser no longer asks isIP: its first call costs ~7 ms)', () => {
  const atoms = ['0', '1', 'a', 'F', '9', ':', '::', '.', '255', '256', 'ffff', '0000', '12345', '00000', '1.2.3.4', '01.2.3.4', '1.2.3', 'g', ' ', '1:2:3:4:5:6:7:8', '::ffff:'];
  const noise = fc.array(fc.constantFrom(...atoms), { maxLength: 12 }).map((a) => a.join(''));
  const word = fc.integer({ min: 0, max: 0xffff }).map((x) => x.toString(16));
  const full = fc.array(word, { minLength: 8, maxLength: 8 }).map((w) => w.join(':'));
  const compressed = fc
    .tuple(fc.array(word, { maxLength: 8 }), fc.array(word, { maxLength: 8 }))
    .map(([a, b]) => `${a.join(':')}::${b.join(':')}`);
  const v4tail = fc
    .tuple(fc.array(word, { maxLength: 7 }), fc.boolean(), fc.array(fc.integer({ min: 0, max: 300 }), { minLength: 3, maxLength: 5 }))
    .map(([a, gap, q]) => `${a.join(':')}${gap ? '::' : ':'}${q.join('.')}`);
  fc.assert(
    fc.property(fc.oneof(noise, full, compressed, v4tail), (s) => {
      assert.equal(ipFamily(s) === 6, isIP(s) === 6, s);
    }),
    { numRuns: 20000 },
  );
  assert.equal(ipFamily('fe80::1%eth0'), undefined, 'a zone id is not an address Voltron manages');
});

test('networkOf clears exactly the bits past the prefix (IPv6)', () => {
  fc.assert(
    fc.property(fc.uint8Array({ minLength: 16, maxLength: 16 }), fc.integer({ min: 0, max: 128 }), (b, p) => {
      const masked = b.map((x, i) => x & (0xff00 >> Math.min(Math.max(p - 8 * i, 0), 8)));
      assert.equal(networkOf(`${ipFromBytes(b)}/${p}`), `${ipFromBytes(masked)}/${p}`);
    }),
  );
});

test('MAC helpers', () => {
  assert.equal(isValidMac('02:00:00:AA:bb:cc'), true);
  assert.equal(isValidMac('02-00-00-aa-bb-cc'), true);
  assert.equal(isValidMac('02:00-00:aa:bb:cc'), false);
  assert.equal(isValidMac('02:00:00:aa:bb'), false);
  assert.equal(isValidMac('0200.00aa.bbcc'), false);
  assert.equal(canonicalMac('02-00-00-AA-BB-CC'), '02:00:00:aa:bb:cc');
  assert.equal(canonicalMac('nope'), undefined);
  assert.equal(isMulticastIp('239.1.1.1'), true);
  assert.equal(isMulticastIp('ff02::1'), true);
  assert.equal(isMulticastIp('10.0.0.1'), false);
});

test('whyNotIp / whyNotCidr / whyNotMac: a reason exactly when the parser refuses, naming the bad part', () => {
  const atoms = ['0', '1', 'a', 'g', '9', ':', '::', '.', '/', '%', '255', '256', '010', 'ffff', '12345', '1.2.3.4', ' ', '-', '24', '33', '129'];
  fc.assert(
    fc.property(fc.array(fc.constantFrom(...atoms), { maxLength: 14 }).map((a) => a.join('')), (s) => {
      assert.equal(whyNotIp(s) === undefined, ipFamily(s) !== undefined, s);
      assert.equal(whyNotCidr(s) === undefined, parseCidr(s) !== undefined, s);
      assert.equal(whyNotMac(s) === undefined, isValidMac(s), s);
    }),
    { numRuns: 20000 },
  );
  const cases: [string, string][] = [
    ['10.0.0.300', "octet 4 ('300') is over 255"],
    ['10.0.0', 'an IPv4 address has 4 octets, this has 3'],
    ['010.0.0.1', "octet 1 ('010') has a leading zero"],
    ['2001:db8:::1', "':::' is not valid"],
    ['1::2::3', "'::' may appear only once"],
    ['fc00::zz', "group 'zz' is not hexadecimal"],
    ['12345::1', "group '12345' has more than 4 hex digits"],
    ['1:2:3:4:5:6:7', 'an IPv6 address has 8 groups, this has 7'],
    ['::ffff:1.2.3.999', "its IPv4 tail '1.2.3.999': octet 4 ('999') is over 255"],
    ['fe80::1%eth0', "a zone ('%eth0') does not belong here"],
    ['10.0.0.1/24', "a prefix length ('/24') does not belong here"],
  ];
  for (const [s, why] of cases) assert.ok(whyNotIp(s)?.startsWith(why), `${s}: ${whyNotIp(s)}`);
  assert.equal(whyNotIp('10.0.0.1', 6), 'it is an IPv4 address');
  assert.equal(whyNotCidr('10.0.0.1/33'), 'prefix length 33 is over 32 (IPv4)');
  assert.equal(whyNotCidr('2001:db8::/129'), 'prefix length 129 is over 128 (IPv6)');
  assert.equal(whyNotCidr('10.0.0.256/24'), "octet 4 ('256') is over 255");
  assert.equal(whyNotCidr('10.0.0.0/'), "no prefix length after '/'");
  assert.equal(whyNotMac('02:00:00:00:00:zz'), "octet 6 ('zz') is not two hex digits");
  assert.equal(whyNotMac('02:00:00:00:00'), 'a MAC address has 6 octets, this has 5');
});
