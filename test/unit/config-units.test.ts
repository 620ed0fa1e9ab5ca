// tc-style unit parsing (rates, sizes, times) and tc identifiers.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseClassId, parseHandle, parseRate, parseSize, parseTime } from '../../src/config';
import { formatRate, formatSize, formatTime } from '../../src/config/units';

test('rates are bytes per second and need a unit', () => {
  assert.equal(parseRate('10mbit'), 1250000);
  assert.equal(parseRate('1gbit'), 125000000);
  assert.equal(parseRate('500kbit'), 62500);
  assert.equal(parseRate('1.5Mbit'), 187500);
  assert.equal(parseRate('8bit'), 1);
  assert.equal(parseRate('2mbps'), 2000000);
  assert.equal(parseRate('1kibps'), 1024);
  assert.equal(parseRate('1mibit'), 131072);
  for (const bad of ['1000', '10 mbits', 'fast', '0mbit', '-1mbit', '1e3mbit']) assert.equal(parseRate(bad), undefined, bad);
});

test('sizes are bytes, times microseconds', () => {
  assert.equal(parseSize('32kb'), 32768);
  assert.equal(parseSize('1m'), 1048576);
  assert.equal(parseSize(1500), 1500);
  assert.equal(parseSize('10b'), 10);
  assert.equal(parseSize('8kbit'), 1024);
  assert.equal(parseSize('32 kilobytes'), undefined);
  assert.equal(parseTime('50ms'), 50000);
  assert.equal(parseTime('2s'), 2000000);
  assert.equal(parseTime('10us'), 10);
  assert.equal(parseTime(7), 7);
  assert.equal(parseTime('5 fortnights'), undefined);
});

test('handles and class ids are hex and canonical', () => {
  assert.equal(parseHandle('1:'), '1:');
  assert.equal(parseHandle('0010:'), '10:');
  assert.equal(parseHandle('A:0'), 'a:');
  for (const bad of ['1', '0:', 'ffff:', 'x:', '1:1']) assert.equal(parseHandle(bad), undefined, bad);
  assert.equal(parseClassId('1:10'), '1:10');
  assert.equal(parseClassId('01:0A'), '1:a');
  for (const bad of ['1:0', '1:', ':1', '1:10000', 'root']) assert.equal(parseClassId(bad), undefined, bad);
});

test('formatRate/formatSize/formatTime (show) spell model numbers so they parse back exactly', () => {
  assert.equal(formatRate(1250000), '10mbit');
  assert.equal(formatRate(125000000), '1gbit');
  assert.equal(formatRate(62500), '500kbit');
  assert.equal(formatRate(6_250_000_000), '50gbit');
  assert.equal(formatRate(131072), '1048576bit');
  assert.equal(formatSize(32768), '32kb');
  assert.equal(formatSize(1514), 1514);
  assert.equal(formatSize(0), 0);
  assert.equal(formatTime(50000), '50ms');
  assert.equal(formatTime(2000000), '2s');
  assert.equal(formatTime(4999), '4999us');
  assert.equal(formatTime(0), '0us');
  for (const n of [1, 7, 125, 999, 1000, 1024, 32767, 32768, 95268, 1250000, 187500, 12_500_000, 2 ** 32 + 3, 6_250_000_000]) {
    assert.equal(parseRate(formatRate(n)), n, `rate ${n}`);
    assert.equal(parseSize(formatSize(n)), n, `size ${n}`);
    assert.equal(parseTime(formatTime(n)), n, `time ${n}`);
  }
});
