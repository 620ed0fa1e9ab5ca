// The CLI commands. Each reads everything it needs afresh (level-based), never caches state.
import readline from 'node:readline';
import { flag, str, type Parsed } from './args';
import { inventoryOf, loadDesired, openSession, type Context } from './common';
import type { Command } from './main';
import { planToJson, renderMarkdown, renderText } from '../plan';
import type { Plan } from '../plan/types';
import { EMPTY_INVENTORY } from '../plan/types';
import { makePlan, PlanRefused, NotConverged, executePlan, pruneInventory, readCurrent, effectiveDesired } from '../apply/reconcile';
import { saveInventory } from '../apply/inventory';
import type { DesiredState } from '../model/types';
import { showState } from './show';

function printPlan(ctx: Context, plan: Plan, format: string): void {
  if (format === 'json') ctx.out(JSON.stringify(planToJson(plan), null, 2));
  else if (format === 'markdown') ctx.out(renderMarkdown(plan));
  else ctx.out(renderText(plan, { color: ctx.color }));
}

async function confirm(question: string): Promise<boolean> {
  const rl = readline.createInterface({ input: process.stdin, output: process.stdout });
  try {
    const answer = await new Promise<string>((resolve) => rl.question(question, resolve));
    return answer.trim() === 'yes';
  } finally {
    rl.close();
  }
}

const validate: Command = {
  name: 'validate',
  summary: 'Check the config (schema and semantics) without touching the kernel',
  usage: 'voltron validate [-c DIR] [--host NAME]',
  options: [],
  async run(ctx) {
    const d = loadDesired(ctx);
    if (!d) return 1;
    ctx.out(`Config in ${ctx.configDir} is valid: ${d.resources.size} objects in ${d.namespaces.length} namespace(s).`);
    return 0;
  },
};

const plan: Command = {
  name: 'plan',
  summary: 'Show what apply would change (exit 0: no changes, 2 with --detailed-exitcode: changes, 1: error)',
  usage: 'voltron plan [-o text|json|markdown] [--detailed-exitcode]',
  options: [
    { name: 'output', short: 'o', value: 'FORMAT', help: 'text (default), json or markdown' },
    { name: 'detailed-exitcode', help: 'exit 2 when there are changes' },
  ],
  async run(ctx, p) {
    const format = str(p, 'output') ?? 'text';
    if (!['text', 'json', 'markdown'].includes(format)) throw new Error(`-o ${format}: use text, json or markdown`);
    const desired = loadDesired(ctx);
    if (!desired) return 1;
    const session = openSession(ctx);
    try {
      const { plan: pl } = makePlan(session, desired, inventoryOf(ctx));
      printPlan(ctx, pl, format);
      return pl.changes.length > 0 && flag(p, 'detailed-exitcode') ? 2 : 0;
    } catch (e) {
      if (e instanceof PlanRefused) {
        ctx.err(e.message);
        return 1;
      }
      throw e;
    } finally {
      session.close();
    }
  },
};

async function applyDesired(ctx: Context, p: Parsed, desired: DesiredState, verb: string): Promise<number> {
  const session = openSession(ctx);
  try {
    const inventory = inventoryOf(ctx);
    const destroying = verb === 'destroy';
    const { plan: pl, desired: eff } = makePlan(session, desired, inventory, destroying);
    printPlan(ctx, pl, 'text');
    if (pl.changes.length === 0) return 0;
    if (!flag(p, 'auto-approve')) {
      if (!process.stdin.isTTY) throw new Error(`${verb} needs confirmation: run on a terminal or pass --auto-approve`);
      if (!(await confirm(`\nDo you want to ${verb} these changes? Only 'yes' will be accepted: `))) {
        ctx.out(`${verb[0]!.toUpperCase()}${verb.slice(1)} cancelled.`);
        return 1;
      }
    }
    const started = process.hrtime.bigint();
    const writesBefore = session.writes;
    const outcome = executePlan(session, pl, inventory, undefined, (c) => ctx.out(`  ${c.action === 'delete' ? 'deleted' : c.action === 'create' ? 'created' : c.action === 'update' ? 'updated' : 'replaced'}: ${c.label}`));
    saveInventory(ctx.stateDir, outcome.inventory);
    if (outcome.failed) {
      ctx.err(`Error: ${outcome.failed.change.label}: ${outcome.failed.error.message}`);
      ctx.err(`${outcome.executed.length} of ${pl.changes.length} changes were applied before the failure.`);
      return 1;
    }
    // Verify: re-read everything and re-plan; anything left is an error naming what did not converge.
    const current = readCurrent(session, eff, outcome.inventory);
    const { plan: again } = makePlan(session, desired, outcome.inventory, destroying);
    const inv = pruneInventory(outcome.inventory, eff, current);
    saveInventory(ctx.stateDir, inv);
    if (again.changes.length) throw new NotConverged(again);
    const ms = Number(process.hrtime.bigint() - started) / 1e6;
    ctx.out(`\n${verb === 'destroy' ? 'Destroy' : 'Apply'} complete: ${pl.changes.length} change(s), ${session.writes - writesBefore} kernel write(s), ${ms.toFixed(0)} ms. Verified: the kernel matches the desired state.`);
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

const apply: Command = {
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

const destroy: Command = {
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

const show: Command = {
  name: 'show',
  summary: 'Show live state in the config format (owned objects marked)',
  usage: 'voltron show [-n NS] [-o yaml|json] [--all]',
  options: [
    { name: 'namespace', short: 'n', value: 'NS', help: 'only this logical namespace (root: "")' },
    { name: 'output', short: 'o', value: 'FORMAT', help: 'yaml (default) or json' },
    { name: 'all', help: 'also show kernel-made objects (connected routes, default rules)' },
  ],
  async run(ctx, p) {
    const format = str(p, 'output') ?? 'yaml';
    if (!['yaml', 'json'].includes(format)) throw new Error(`-o ${format}: use yaml or json`);
    const desired = loadDesired(ctx);
    const session = openSession(ctx);
    try {
      const inventory = inventoryOf(ctx);
      const eff = desired ? effectiveDesired(desired, session) : new Map();
      const current = readCurrent(session, eff, inventory ?? EMPTY_INVENTORY);
      ctx.out(showState(current, inventory, { namespace: str(p, 'namespace'), format: format as 'yaml' | 'json', all: flag(p, 'all') }));
      return 0;
    } finally {
      session.close();
    }
  },
};

export const COMMANDS: Command[] = [validate, plan, apply, destroy, show];
