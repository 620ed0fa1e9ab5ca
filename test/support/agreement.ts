// Check (b) of the agreement property tests: the plan `voltron plan` computes against the live
// kernel equals the pure plan against the in-memory kernel, both in the product's JSON form
// (VNI runs in config spelling, for one), compared by key, action and changed fields. Returns
// the pure plan's changes, for the in-memory kernel to follow.
import assert from 'node:assert/strict';
import { computePlan, planToJson } from '../../src/plan';
import type { Change } from '../../src/plan/types';
import type { Resource } from '../../src/model/types';
import { planShape } from './config-gen';
import { readState, type MemState } from './memkernel';
import type { Sandbox } from './sandbox';

export function assertLivePlanIsPure(sb: Sandbox, desired: ReadonlyMap<string, Resource>, mem: MemState, ctx: () => string): readonly Change[] {
  const p = sb.run(['plan', '-o', 'json']);
  assert.equal(p.code, 0, `plan failed\n${p.stdout}${p.stderr}\n${ctx()}`);
  const live = JSON.parse(p.stdout).changes as Change[];
  const pure = computePlan({ desired: desired as Map<string, Resource>, current: readState(mem), inventory: sb.inventory() });
  const pureJson = (planToJson(pure) as { changes: Change[] }).changes;
  assert.deepEqual(planShape(live), planShape(pureJson), `live plan (actual) vs memkernel plan (expected)\n${ctx()}`);
  return pure.changes;
}
