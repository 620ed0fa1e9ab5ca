// Sysctl pairs the kernel checks against each other (low ≤ high at every write): the plan writes
// both in an order every step of which is valid, from any valid pair to any valid pair, and a
// final pair the kernel refuses is found before any write.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { resourceKey } from '../../src/model/keys';
import { SYSCTL_PAIRS, pairNumber } from '../../src/model/sysctl-pairs';
import type { Inventory } from '../../src/plan/types';
import type { Resource, SysctlRes } from '../../src/model/types';
import { computePlan } from '../../src/plan';
import { pairFirst, sysctlPairProblems } from '../../src/plan/sysctl-pairs';

const EMPTY: Inventory = { version: 1, owned: {}, original: {} };
const s = (key: string, value: string, ns = 'a'): SysctlRes => ({ kind: 'sysctl', namespace: ns, key, value });
const map = (...rs: Resource[]) => new Map(rs.map((r) => [resourceKey(r), r] as const));
const PORT = 'net.ipv4.ip_unprivileged_port_start';
const RANGE = 'net.ipv4.ip_local_port_range';

/** A small deterministic generator (the property is checked over many pairs, the same each run). */
function rng(seed: number): () => number {
  let x = seed;
  return () => {
    x = (x * 1103515245 + 12345) & 0x7fffffff;
    return x;
  };
}

describe('sysctl pairs', () => {
  test('from every valid pair to every valid pair, the chosen order keeps each write valid', () => {
    const next = rng(7);
    const n = (max: number) => next() % (max + 1);
    // Small values make ties and crossings common.
    const pair = (): [number, number] => {
      const a = n(20);
      const b = n(20);
      return a <= b ? [a, b] : [b, a];
    };
    for (let i = 0; i < 20000; i++) {
      const [l0, h0] = pair();
      const [l1, h1] = pair();
      const first = pairFirst({ low: String(l0), high: `${h0} 65535` }, { low: String(l1), high: `${h1} 65535` });
      assert.ok(first !== undefined);
      let [l, h] = [l0, h0];
      for (const side of first === 'low' ? ['low', 'high'] : ['high', 'low']) {
        if (side === 'low') l = l1;
        else h = h1;
        assert.ok(l <= h, `(${l0}, ${h0}) → (${l1}, ${h1}), ${first} first: ${side} write leaves (${l}, ${h})`);
      }
    }
  });

  test('the plan orders the two writes: port start first when lowered below the range, the range first when raised above it', () => {
    const order = (cur: [string, string], want: [string, string]): string[] =>
      computePlan({ desired: map(s(PORT, want[0]), s(RANGE, want[1])), current: map(s(PORT, cur[0]), s(RANGE, cur[1])), inventory: EMPTY }).changes.map(
        (c) => (c.after as SysctlRes).key,
      );
    assert.deepEqual(order(['1024', '32768 60999'], ['80', '80 1000']), [PORT, RANGE]);
    assert.deepEqual(order(['80', '80 1000'], ['5000', '6000 7000']), [RANGE, PORT]);
    // A namespace the apply creates starts at the kernel's 1024 and 32768 60999.
    const made = computePlan({ desired: map(s(PORT, '80'), s(RANGE, '80 1000')), current: new Map(), inventory: EMPTY }).changes.filter((c) => c.kind === 'sysctl');
    assert.deepEqual(made.map((c) => (c.after as SysctlRes).key), [PORT, RANGE]);
    const frag = computePlan({
      desired: map(s('net.ipv4.ipfrag_high_thresh', '1000'), s('net.ipv4.ipfrag_low_thresh', '500')),
      current: map(s('net.ipv4.ipfrag_high_thresh', '4194304'), s('net.ipv4.ipfrag_low_thresh', '3145728')),
      inventory: EMPTY,
    });
    assert.deepEqual(frag.changes.map((c) => (c.after as SysctlRes).key), ['net.ipv4.ipfrag_low_thresh', 'net.ipv4.ipfrag_high_thresh']);
    // Restoring both originals: the same rule.
    const back = computePlan({
      desired: new Map(),
      current: map(s(PORT, '80'), s(RANGE, '80 1000')),
      inventory: { version: 1, owned: Object.fromEntries([...map(s(PORT, '80'), s(RANGE, '80 1000'))]), original: { [resourceKey(s(PORT, ''))]: '1024', [resourceKey(s(RANGE, ''))]: '32768 60999' } },
    });
    assert.deepEqual(back.changes.map((c) => (c.before as SysctlRes).key), [RANGE, PORT]);
  });

  test('a final pair the kernel refuses is a problem; the other key counts as it will be', () => {
    const problems = (desired: Resource[], current: Resource[], live: Record<string, string> = {}) => {
      const p = computePlan({ desired: map(...desired), current: map(...current), inventory: EMPTY });
      return sysctlPairProblems(p.changes, map(...current), (_ns, key) => live[key], (c) => (c.after ? `f.yaml:${(c.after as SysctlRes).key.length}:1: ` : ''));
    };
    assert.deepEqual(problems([s(PORT, '80'), s(RANGE, '80 1000')], []), []);
    const both = problems([s(PORT, '5000'), s(RANGE, '2000 3000')], []);
    assert.equal(both.length, 1);
    assert.match(both[0]!, /^f\.yaml:35:1: sysctl a net\.ipv4\.ip_unprivileged_port_start: 5000 is above the low end of net\.ipv4\.ip_local_port_range, 2000 3000 \(declared at f\.yaml:28:1\); .*EINVAL/);
    // Undeclared: live where the namespace exists, else a new namespace's value.
    assert.match(problems([s(RANGE, '900 1000')], [])[0]!, /the low end of 900 1000 is below net\.ipv4\.ip_unprivileged_port_start, 1024 \(a new namespace's value, not declared\)/);
    assert.deepEqual(problems([s(RANGE, '900 1000')], [], { [PORT]: '500' }), []);
    assert.match(problems([s(PORT, '40000')], [], { [RANGE]: '32768 60999' })[0]!, /40000 is above the low end of net\.ipv4\.ip_local_port_range, 32768 60999 \(its value now, not declared\)/);
    // Nothing written: nothing judged (the kernel holds a valid pair).
    assert.deepEqual(problems([s(PORT, '80')], [s(PORT, '80')], { [RANGE]: '1 2' }), []);
  });

  test('every pair starts valid in a new namespace and at its loosest', () => {
    for (const p of SYSCTL_PAIRS) {
      assert.ok(pairNumber(p.fresh.low)! <= pairNumber(p.fresh.high)!, p.low);
      assert.ok(pairNumber(p.loosest.low)! <= pairNumber(p.fresh.low)!, p.low);
      assert.ok(pairNumber(p.loosest.high)! >= pairNumber(p.fresh.high)!, p.high);
    }
  });
});
