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

export function assertLivePlanIsPure(sb: Sandbox, desired: ReadonlyMap<string, Resource>, mem: MemState, ctx: () => string): readonly Change[];
export function assertLivePlanIsPure(sb: Sandbox, desired: ReadonlyMap<string, Resource>, mem: MemState, ctx: () => string, excuse: Excuse): readonly Change[] | undefined;
export function assertLivePlanIsPure(sb: Sandbox, desired: ReadonlyMap<string, Resource>, mem: MemState, ctx: () => string, excuse?: Excuse): readonly Change[] | undefined {
  const p = sb.run(['plan', '-o', 'json']);
  if (p.code === 1 && excuse?.(p.stderr, desired, mem)) return undefined;
  assert.equal(p.code, 0, `plan failed\n${p.stdout}${p.stderr}\n${ctx()}`);
  const live = JSON.parse(p.stdout).changes as Change[];
  const pure = computePlan({ desired: desired as Map<string, Resource>, current: readState(mem), inventory: sb.inventory() });
  const pureJson = (planToJson(pure) as { changes: Change[] }).changes;
  assert.deepEqual(planShape(live), planShape(pureJson), `live plan (actual) vs memkernel plan (expected)\n${ctx()}`);
  return pure.changes;
}

/** Whether a refusal of the plan (its stderr) is one the earlier states explain: the caller ends the sequence there. */
export type Excuse = (stderr: string, desired: ReadonlyMap<string, Resource>, mem: MemState) => boolean;

const MACVLAN_MTU = /^ {2}link (\S+)\/(\S+) \(macvlan\): mtu (\d+) is above the mtu (\d+) its parent (\S+) has \(the config declares none for it\)/;
/** The same through a port that keeps its mtu and joins a bridge the plan creates (which takes its ports' lowest). */
const MACVLAN_PORT_MTU = /^ {2}link (\S+)\/(\S+) \(macvlan\): mtu (\d+) is above the mtu (\d+) its port (\S+) has, the config declaring none for it: the bridge (\S+) the plan creates/;

/**
 * A state valid on its own may not be from the previous one: a parent whose mtu the config no
 * longer declares keeps the one an earlier state gave it, and a macvlan's declared mtu above it
 * is refused (the kernel would refuse it, EINVAL). Excused when every problem is that one and
 * the memkernel agrees on both mtus.
 */
export const macvlanMtuFromHistory: Excuse = (stderr, desired, mem) => {
  const problems = stderr.split('\n').filter((l) => l.startsWith('  '));
  return (
    problems.length > 0 &&
    problems.every((line) => {
      const viaPort = MACVLAN_PORT_MTU.exec(line);
      if (viaPort) return portExplains(viaPort as unknown as string[], desired, mem);
      const m = MACVLAN_MTU.exec(line);
      if (!m) return false;
      const [, nsLabel, name, mtu, parentMtu, parent] = m as unknown as [string, string, string, string, string, string];
      const ns = nsLabel === '(root)' ? '' : nsLabel;
      const mv = desired.get(`link:${ns}/${name}`);
      const declared = desired.get(`link:${ns}/${parent}`);
      const had = mem.get(`link:${ns}/${parent}`);
      return (
        mv?.kind === 'link' && mv.mtu === Number(mtu) && mv.macvlan?.parent === parent &&
        declared?.kind === 'link' && declared.mtu === undefined &&
        had?.kind === 'link' && had.mtu === Number(parentMtu) && Number(mtu) > Number(parentMtu)
      );
    })
  );
};

/** A port the config declares on the bridge without an mtu, which kept a lower one from an earlier state (the memkernel agrees). */
function portExplains(m: readonly string[], desired: ReadonlyMap<string, Resource>, mem: MemState): boolean {
  const [, nsLabel, name, mtu, portMtu, port, bridge] = m as [string, string, string, string, string, string, string];
  const ns = nsLabel === '(root)' ? '' : nsLabel;
  const mv = desired.get(`link:${ns}/${name}`);
  const declared = desired.get(`link:${ns}/${port}`);
  const had = mem.get(`link:${ns}/${port}`);
  return (
    mv?.kind === 'link' && mv.mtu === Number(mtu) && mv.macvlan?.parent === bridge &&
    declared?.kind === 'link' && declared.mtu === undefined && declared.master === bridge &&
    had?.kind === 'link' && had.mtu === Number(portMtu) && Number(mtu) > Number(portMtu)
  );
}
