import { flag, type Parsed } from '../args';
import { inventoryOf, loadDesired, openSession, type Context } from '../common';
import type { Command } from '../main';
import { confirm, printPlan } from '../output';
import { makePlan, PlanRefused, NotConverged, executePlan, pruneInventory, readCurrent } from '../../apply/reconcile';
import { saveInventory } from '../../apply/inventory';
import type { DesiredState } from '../../model/types';

const PAST: Record<string, string> = { create: 'created', update: 'updated', replace: 'replaced', delete: 'deleted' };

/** Plan, confirm, execute in order, verify by re-reading. Shared by apply and destroy. */
export async function applyDesired(ctx: Context, p: Parsed, desired: DesiredState, verb: 'apply' | 'destroy'): Promise<number> {
  const session = openSession(ctx);
  try {
    const inventory = inventoryOf(ctx);
    const destroying = verb === 'destroy';
    const { plan, desired: eff } = makePlan(session, desired, inventory, destroying);
    printPlan(ctx, plan, 'text');
    if (plan.changes.length === 0) return 0;
    if (!flag(p, 'auto-approve')) {
      if (!process.stdin.isTTY) throw new Error(`${verb} needs confirmation: run on a terminal or pass --auto-approve`);
      if (!(await confirm(`\nDo you want to ${verb === 'destroy' ? 'destroy everything Voltron owns' : 'apply these changes'}? Only 'yes' will be accepted: `))) {
        ctx.out(`${verb === 'destroy' ? 'Destroy' : 'Apply'} cancelled.`);
        return 1;
      }
    }
    const started = process.hrtime.bigint();
    const writesBefore = session.writes;
    const outcome = executePlan(session, plan, inventory, undefined, (c) => ctx.out(`  ${PAST[c.action]}: ${c.label}`));
    saveInventory(ctx.stateDir, outcome.inventory);
    if (outcome.failed) {
      ctx.err(`Error: ${outcome.failed.change.label}: ${outcome.failed.error.message}`);
      ctx.err(`${outcome.executed.length} of ${plan.changes.length} changes were applied before the failure.`);
      return 1;
    }
    // Verify: re-read everything and re-plan; anything left is an error naming what did not converge.
    const current = readCurrent(session, eff, outcome.inventory);
    const { plan: again } = makePlan(session, desired, outcome.inventory, destroying);
    saveInventory(ctx.stateDir, pruneInventory(outcome.inventory, eff, current));
    if (again.changes.length) throw new NotConverged(again);
    const ms = Number(process.hrtime.bigint() - started) / 1e6;
    ctx.out(`\n${verb === 'destroy' ? 'Destroy' : 'Apply'} complete: ${plan.changes.length} change(s), ${session.writes - writesBefore} kernel write(s), ${ms.toFixed(0)} ms. Verified: the kernel matches the desired state.`);
    return 0;
  } catch (e) {
    if (e instanceof PlanRefused) {
      ctx.err(e.message);
      return 1;
    }
    throw e;
  } finally {
    session.close();
  }
}

export const applyCommand: Command = {
  name: 'apply',
  summary: 'Plan, confirm, apply in dependency order, then verify by re-reading',
  usage: 'voltron apply [--auto-approve]',
  options: [{ name: 'auto-approve', help: 'do not ask for confirmation' }],
  async run(ctx, p) {
    const desired = loadDesired(ctx);
    if (!desired) return 1;
    return applyDesired(ctx, p, desired, 'apply');
  },
};

export const destroyCommand: Command = {
  name: 'destroy',
  summary: 'Remove everything Voltron owns (per its inventory); foreign objects are untouched',
  usage: 'voltron destroy [--auto-approve]',
  options: [{ name: 'auto-approve', help: 'do not ask for confirmation' }],
  async run(ctx, p) {
    // Nothing desired: every owned object goes (in a sandbox, its root namespace too).
    const empty: DesiredState = { resources: new Map(), pools: new Map(), ignore: [], namespaces: [''] };
    return applyDesired(ctx, p, empty, 'destroy');
  },
};
