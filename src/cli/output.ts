// Output helpers shared by commands.
import fs from 'node:fs';
import path from 'node:path';
import { planToJson, renderMarkdown, renderText } from '../plan';
import { EMPTY_INVENTORY, type Inventory, type Plan } from '../plan/types';
import { resourceLabel } from '../model/keys';
import { visible } from '../util/visible';
import { VOLTRON_RTPROT, type Resource } from '../model/types';
import type { Context } from './common';
import { hasOverlay, overlayHosts } from '../config/load';
import type { KernelSession } from '../kernel/session';
import type { SignalGuard } from './signals';

/** The config directory as recorded in the inventory (symlinks resolved where it exists). */
export function configDirId(dir: string): string {
  try {
    return fs.realpathSync(dir);
  } catch {
    return path.resolve(dir);
  }
}

/**
 * One state dir is one set of owned objects (as one Terraform state): a plan from another
 * config directory deletes what the last apply's config declared. Say so loudly: with the
 * default state dir, two configs on one host share it unless told otherwise.
 */
export function otherConfigWarning(ctx: Pick<Context, 'configDir' | 'stateDir'>, inventory: Inventory, plan: Plan): string | undefined {
  if (inventory.configDir === undefined) return undefined;
  const here = configDirId(ctx.configDir);
  if (here === inventory.configDir) return undefined;
  const deletes = plan.changes.filter((c) => c.action === 'delete').length;
  if (deletes === 0) return undefined;
  return `Warning: the state dir ${ctx.stateDir} was last applied from the config ${inventory.configDir}; this config (${here}) does not declare ${deletes} object(s) owned through it, and the plan deletes them. Use one --state-dir per config unless that is what you want.`;
}

/**
 * One config for many hosts: a plan for another host's overlay (a `--host` typo that names a
 * real host, a CI job's wrong matrix entry, a renamed machine falling back to its new hostname)
 * deletes what this host's overlay declared. Said as loudly as another config dir; only when an
 * overlay is involved, as host names mean nothing to a config without them.
 */
export function otherHostWarning(ctx: Pick<Context, 'configDir' | 'stateDir' | 'host'>, inventory: Inventory, plan: Plan): string | undefined {
  const was = inventory.host;
  if (was === undefined || was === ctx.host) return undefined;
  // Another config dir is otherConfigWarning's to tell.
  if (inventory.configDir !== undefined && inventory.configDir !== configDirId(ctx.configDir)) return undefined;
  if (!hasOverlay(ctx.configDir, was) && !hasOverlay(ctx.configDir, ctx.host)) return undefined;
  const deletes = plan.changes.filter((c) => c.action === 'delete').length;
  if (deletes === 0) return undefined;
  return `Warning: the state dir ${ctx.stateDir} was last applied for host '${visible(was)}' (hosts/${visible(was)}.yaml); this plan is for host '${visible(ctx.host)}', and deletes ${deletes} object(s) owned through it. If this machine is '${visible(was)}', run with --host ${visible(was)}.`;
}

/**
 * No inventory, yet routes or rules with Voltron's protocol are live: the state dir was lost or
 * is not the one those were applied with. Voltron then owns only what the config declares, so
 * what it made earlier and the config no longer declares is neither pruned nor destroyed.
 */
export function lostInventoryWarning(ctx: Pick<Context, 'stateDir'>, inventory: Inventory, current: ReadonlyMap<string, Resource>, destroying = false): string | undefined {
  if (inventory !== EMPTY_INVENTORY) return undefined;
  // A destroy reads nothing when nothing is owned: say what it does instead.
  if (destroying) return `Warning: the state dir ${ctx.stateDir} has no inventory: destroy removes only what an inventory records, so it removes nothing. If this config was applied with another --state-dir, destroy with that one.`;
  let found = 0;
  for (const r of current.values()) if ((r.kind === 'route' || r.kind === 'rule') && r.protocol === VOLTRON_RTPROT) found++;
  if (found === 0) return undefined;
  return `Warning: the state dir ${ctx.stateDir} has no inventory, but ${found} route(s)/rule(s) with Voltron's protocol (${VOLTRON_RTPROT}) are live: they were applied with another state dir, or its inventory was lost. Only what the config declares is owned now; objects Voltron made earlier that it no longer declares are neither pruned nor destroyed.`;
}

/**
 * Owned objects whose live namesake someone else made (Voltron's went behind its back): the plan
 * leaves them alone, which a bare "No changes" would not tell.
 */
export function namesakeNote(inventory: Inventory, why: ReadonlyMap<string, string>): string | undefined {
  if (why.size === 0) return undefined;
  const shown = [...why].slice(0, 10).map(([k, w]) => {
    const r = inventory.owned[k];
    return `${r ? resourceLabel(r) : visible(k)} (${w})`;
  });
  const more = why.size > shown.length ? `, and ${why.size - shown.length} more` : '';
  return `Note: ${why.size} object(s) Voltron created are gone, and objects it did not create now hold their names or keys; those are left alone and not counted as Voltron's: ${shown.join('; ')}${more}.`;
}

/**
 * Where a sandboxed plan's namespaces really are: the plan names them as the config does, and a
 * user checking the result with `ip` needs the prefixed names. Shown with changes only.
 */
export function sandboxNote(session: Pick<KernelSession, 'sandbox' | 'physical'>, namespaces: readonly string[]): string | undefined {
  if (session.sandbox === undefined) return undefined;
  const shown = ['', ...namespaces.filter((n) => n !== '')].slice(0, 4).map((n) => `${n === '' ? '(root)' : visible(n)} is ${visible(session.physical(n) ?? '')}`);
  const more = namespaces.filter((n) => n !== '').length > 3 ? ', …' : '';
  return `Sandbox ${visible(session.sandbox)}: ${shown.join(', ')}${more} (namespaces as named in the kernel); look with \`ip -n ${visible(session.physical('') ?? '')} link\`.`;
}

export function printPlan(ctx: Context, plan: Plan, format: string): void {
  if (format === 'json') ctx.out(JSON.stringify(planToJson(plan), null, 2));
  // The host names the comment only where the config has host overlays (it means nothing else).
  else if (format === 'markdown') ctx.out(renderMarkdown(plan, overlayHosts(ctx.configDir).length > 0 ? { host: ctx.host } : {}));
  else ctx.out(renderText(plan, { color: ctx.color }));
}

/**
 * Ask on the terminal; only the word `yes` approves (as Terraform). End of input (Ctrl-D) and
 * Ctrl-C at the prompt are a "no": left unanswered, the question's promise never settled, Node
 * exited 0 with nothing applied and the state dir's lock left behind.
 */
export async function confirm(question: string, signals?: SignalGuard): Promise<boolean> {
  // Required here: only an interactive apply asks, and readline costs every start ~1 ms.
  // eslint-disable-next-line @typescript-eslint/no-var-requires
  const readline = require('node:readline') as typeof import('node:readline');
  // The question goes where the operator sees it: `voltron apply > plan.log` (or `| tee`) on a
  // terminal wrote it into the file and left the terminal silent, waiting for an answer.
  const output = process.stdout.isTTY || !process.stderr.isTTY ? process.stdout : process.stderr;
  const rl = readline.createInterface({ input: process.stdin, output });
  try {
    const answer = await new Promise<string | undefined>((resolve) => {
      rl.on('close', () => resolve(undefined));
      rl.on('SIGINT', () => resolve(undefined));
      signals?.onSignalWhileWaiting(() => rl.close());
      rl.question(question, resolve);
    });
    signals?.onSignalWhileWaiting(undefined);
    if (answer === undefined) output.write('\n');
    return answer?.trim() === 'yes';
  } finally {
    rl.close();
  }
}
