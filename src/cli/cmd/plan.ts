import { flag, str } from '../args';
import { inventoryOf, loadDesired, openSession } from '../common';
import type { Command } from '../main';
import { otherConfigWarning, otherHostWarning, lostInventoryWarning, namesakeNote, printPlan, sandboxNote } from '../output';
import { makePlan } from '../../apply/reconcile';
import { mark } from '../../util/timing';

export const planCommand: Command = {
  name: 'plan',
  needsRoot: true,
  summary: 'Show what apply would change (exit 0: no changes, 2 with --detailed-exitcode: changes, 1: error)',
  usage: 'voltron plan [-o text|json|markdown] [--detailed-exitcode]',
  globals: ['config', 'host', 'state-dir', 'sandbox', 'no-color', 'no-recover', 'allow-map-reset'],
  options: [
    { name: 'output', short: 'o', value: 'FORMAT', help: 'text (default), json or markdown (a PR comment, cut between changes to fit 65 536 characters)' },
    { name: 'detailed-exitcode', help: 'exit 2 when there are changes' },
  ],
  async run(ctx, p) {
    const format = str(p, 'output') ?? 'text';
    if (!['text', 'json', 'markdown'].includes(format)) throw new Error(`-o ${format}: use text, json or markdown`);
    const desired = loadDesired(ctx);
    mark('config load and validation');
    if (!desired) return 1;
    const session = openSession(ctx);
    try {
      const inventory = inventoryOf(ctx);
      mark('inventory');
      const { plan, current, notOursWhy } = makePlan(session, desired, inventory);
      printPlan(ctx, plan, format);
      for (const w of [format === 'text' && plan.changes.length > 0 ? sandboxNote(session, desired.namespaces) : undefined, otherConfigWarning(ctx, inventory, plan), otherHostWarning(ctx, inventory, plan), lostInventoryWarning(ctx, inventory, current), namesakeNote(inventory, notOursWhy)]) if (w) ctx.err(w);
      mark('print plan');
      return plan.changes.length > 0 && flag(p, 'detailed-exitcode') ? 2 : 0;
    } finally {
      session.close();
    }
  },
};
