// Sysctl pairs the kernel checks against each other (model/sysctl-pairs): the plan writes the two
// keys of a pair in the order that keeps every step valid, and refuses, before any write, a
// plan whose final pair the kernel refuses (it would stop half-way, after the first write).
// From a valid pair (l0, h0) to a valid one (l1, h1), one of the two orders always works:
// with l1 ≤ h0, `low` first (l1 ≤ h0, then h1 ≥ l1); else `high` first (h1 ≥ l1 > h0 ≥ l0, then
// l1 ≤ h1).
import { nsLabel, resourceKey } from '../model/keys';
import { PAIR_OF, pairNumber, type SysctlPair } from '../model/sysctl-pairs';
import type { Resource, SysctlRes } from '../model/types';
import { runAfterAll, type Draft } from './drafts';
import type { LiveSysctl } from './seg6-mtu';
import type { Change } from './types';

/** What a change writes to its sysctl (a restore: the original, written back); undefined: nothing. */
function written(x: Draft | Change): string | undefined {
  if (x.kind !== 'sysctl') return undefined;
  return ((x.action === 'delete' ? x.restore : x.after) as SysctlRes | undefined)?.value;
}

const sysctlKey = (namespace: string, key: string): string => resourceKey({ kind: 'sysctl', namespace, key } as SysctlRes);

/** One key of a pair: the value it will have, and why (the change writing it, or where the value comes from). */
interface PairSide {
  readonly value: string;
  readonly change?: Change;
  readonly said: string;
}

/** Which of the pair goes first from (l0, h0) to (l1, h1); undefined: either (a value not a number). */
export function pairFirst(now: { low: string; high: string }, to: { low: string; high: string }): 'low' | 'high' | undefined {
  const l1 = pairNumber(to.low);
  const h0 = pairNumber(now.high);
  if (l1 === undefined || h0 === undefined) return undefined;
  return l1 <= h0 ? 'low' : 'high';
}

/**
 * Orders the two writes of a pair both written in this plan (runAfter: see schedule). A key
 * not in the kernel yet (a namespace the apply creates) starts at the new namespace's value.
 */
export function orderPairWrites(drafts: ReadonlyMap<string, Draft>, runAfter: Map<string, Set<string>>): void {
  for (const x of drafts.values()) {
    const r = (x.after ?? x.before) as SysctlRes | undefined;
    const p = x.kind === 'sysctl' && r ? PAIR_OF.get(r.key) : undefined;
    if (!p || p.side !== 'low' || written(x) === undefined) continue;
    const hk = sysctlKey(r!.namespace, p.pair.high);
    const h = drafts.get(hk);
    if (!h || written(h) === undefined) continue;
    const now = { low: (x.before as SysctlRes | undefined)?.value ?? p.pair.fresh.low, high: (h.before as SysctlRes | undefined)?.value ?? p.pair.fresh.high };
    const first = pairFirst(now, { low: written(x)!, high: written(h)! });
    if (first === 'low') runAfterAll(runAfter, hk, [x.key]);
    else if (first === 'high') runAfterAll(runAfter, x.key, [hk]);
  }
}

/**
 * One line per pair this plan writes whose final values the kernel refuses (`low` above
 * `high`). A key the plan does not write keeps its value: the owned one read, else the live one
 * (`live`: read only for such pairs), else a new namespace's. `where` gives a change's position.
 */
export function sysctlPairProblems(changes: readonly Change[], current: ReadonlyMap<string, Resource>, live: LiveSysctl, where: (c: Change) => string): string[] {
  const byKey = new Map<string, Change>();
  for (const c of changes) if (c.kind === 'sysctl' && written(c) !== undefined && PAIR_OF.has(((c.after ?? c.before) as SysctlRes).key)) byKey.set(c.key, c);
  if (byKey.size === 0) return [];
  const out: string[] = [];
  const seen = new Set<string>();
  for (const c of byKey.values()) {
    const ns = ((c.after ?? c.before) as SysctlRes).namespace;
    const pair = PAIR_OF.get(((c.after ?? c.before) as SysctlRes).key)!.pair;
    const id = `${ns}\0${pair.low}`;
    if (seen.has(id)) continue;
    seen.add(id);
    const side = (s: 'low' | 'high'): PairSide => {
      const k = pair[s];
      const w = byKey.get(sysctlKey(ns, k));
      if (w) return { value: written(w)!, change: w, said: 'written' };
      const owned = current.get(sysctlKey(ns, k)) as SysctlRes | undefined;
      if (owned) return { value: owned.value, said: 'its value now' };
      const v = live(ns, k);
      return v !== undefined ? { value: v, said: 'its value now' } : { value: pair.fresh[s], said: "a new namespace's value" };
    };
    const lo = side('low');
    const hi = side('high');
    const l = pairNumber(lo.value);
    const h = pairNumber(hi.value);
    if (l === undefined || h === undefined || l <= h) continue;
    out.push(pairProblem(pair, ns, lo, hi, where));
  }
  return out;
}

function pairProblem(pair: SysctlPair, ns: string, lo: PairSide, hi: PairSide, where: (c: Change) => string): string {
  const ranged = pair.high.endsWith('port_range'); // compared by its low end
  // Said at the declared key (a restore has no position in the config).
  const atLow = lo.change !== undefined && (lo.change.after?.source !== undefined || hi.change?.after?.source === undefined);
  const said = (x: PairSide): string =>
    x.change === undefined
      ? `${x.said}, not declared`
      : x.change.action === 'delete'
        ? 'its original value, written back: no longer declared'
        : `declared at ${where(x.change).replace(/: $/, '') || 'the config'}`;
  const what = atLow
    ? `${lo.value} is above ${ranged ? `the low end of ${pair.high}` : pair.high}, ${hi.value} (${said(hi)})`
    : `${ranged ? `the low end of ${hi.value}` : hi.value} is below ${pair.low}, ${lo.value} (${said(lo)})`;
  const at = (atLow ? lo.change : hi.change)!;
  return (
    `${where(at)}${at.label}: ${what}; the kernel refuses such a pair in namespace ${nsLabel(ns)} (EINVAL), ` +
    `in any order of writes: the apply would fail mid-way (${pair.low} must be at most ${ranged ? `the low end of ${pair.high}` : pair.high})`
  );
}
