// tc-style unit parsing (rates, sizes, times) and tc identifiers.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseClassId, parseHandle, parseRate, parseSize, parseTime } from '../../src/config';

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
