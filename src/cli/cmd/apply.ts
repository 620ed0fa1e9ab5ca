import { flag, str, type Parsed } from '../args';
import { inventoryOf, loadDesired, openSession, type Context } from '../common';
import type { Command } from '../main';
import { configDirId, confirm, otherConfigWarning, otherHostWarning, lostInventoryWarning, namesakeNote, printPlan, sandboxNote } from '../output';
import { withSignalsHeld, type SignalGuard } from '../signals';
import { failureHint } from '../../apply/failure-hints';
import { verifyDeletes } from '../../apply/lingering';
import { canPipeline, makePlan, NotConverged, executePlan, PIPELINE_MIN_CHANGES, pruneInventory, sameIdentities, withIdentities } from '../../apply/reconcile';
import { pipeliningEnabled, prestartPipeline, stopPrestartedPipeline, takePipeline } from '../../kernel/netlink/pipeline';
import { recordAdoptedRoutes, saveInventory, takeOverSettings } from '../../apply/inventory';
import type { Inventory } from '../../plan/types';
import { JournalWriter, readJournal, removeJournal } from '../../apply/journal';
import { acquireLock, LockBusy, type Lock } from '../../apply/lock';
import { describeJournal, recoverJournal, type RecoverResult } from '../../apply/recover';
import { fromEarlierBoot } from '../../util/boot';
import { restoreTargetOf } from '../../apply/rollback';
import { parseDuration, spawnWatchdog, writeTryPending } from '../../apply/watchdog';
import type { DesiredState } from '../../model/types';
import { mark } from '../../util/timing';

const PAST: Record<string, string> = { create: 'created', update: 'updated', replace: 'replaced', delete: 'deleted' };

/**
 * With the lock held: finish an interrupted apply found in the state dir before anything else.
 * Returns false (and says why) when the command must not go on.
 */
export function recoverFirst(ctx: Context, p: Parsed): boolean {
  const j = readJournal(ctx.stateDir);
  if (!j) return true;
  if (flag(p, 'no-recover')) {
    ctx.err(`Error: an unfinished apply is recorded in ${ctx.stateDir} (${describeJournal(j)}); run \`voltron recover\` (or drop --no-recover).`);
    return false;
  }
  if (!fromEarlierBoot(j.begin.bootId)) ctx.out(`Recovering an unfinished apply (${describeJournal(j)}): restoring the pre-apply state first.`);
  const r: RecoverResult = recoverJournal(ctx.stateDir, ctx, j);
  return r.action !== 'failed';
}

/** Take the state dir's lock, or print who holds it and return undefined. */
export function lockOrExplain(ctx: Context, command: string): Lock | undefined {
  try {
    const l = acquireLock(ctx.stateDir, command);
    if (l.tookOver) ctx.err(`Note: took over a stale lock from pid ${l.tookOver.pid} (${l.tookOver.command}, since ${l.tookOver.startedAt}).`);
    return l;
  } catch (e) {
    if (e instanceof LockBusy) {
      ctx.err(`Error: ${e.message}`);
      return undefined;
    }
    throw e;
  }
}

/** Plan, confirm, execute in order with a journal, verify by re-reading; roll back on failure. */
export async function applyDesired(ctx: Context, p: Parsed, load: () => DesiredState | undefined, verb: 'apply' | 'destroy'): Promise<number> {
  return withSignalsHeld(ctx.err, `the ${verb}`, (guard) => applyLocked(ctx, p, load, verb, guard));
}

async function applyLocked(ctx: Context, p: Parsed, load: () => DesiredState | undefined, verb: 'apply' | 'destroy', guard: SignalGuard): Promise<number> {
  // An apply's inventory names the config dir and host it came from (see otherConfigWarning,
  // otherHostWarning), and its ignore patterns (for destroy, which reads no config).
  let ignore: readonly string[] = [];
  const recorded = (inv: Inventory): Inventory => {
    if (verb !== 'apply') return inv;
    const { ignore: _was, ...rest } = inv;
    return { ...rest, configDir: configDirId(ctx.configDir), host: ctx.host, ...(ignore.length ? { ignore } : {}) };
  };
  const tryWindow = str(p, 'confirm-within');
  const confirmWithinMs = tryWindow === undefined ? undefined : parseDuration(tryWindow);
  const lock = lockOrExplain(ctx, `voltron ${verb}${tryWindow ? ` --confirm-within ${tryWindow}` : ''}`);
  if (!lock) return 1;
  // The netlink worker boots on the other core while the config loads (used by large plans).
  if (verb === 'apply') prestartPipeline();
  let session = openSession(ctx);
  try {
    if (!recoverFirst(ctx, p)) return 1;
    const desired = load();
    mark('config load and validation');
    if (!desired) return 1;
    ignore = desired.ignore;
    const recordedInventory = inventoryOf(ctx);
    const destroying = verb === 'destroy';
    const pr = makePlan(session, desired, recordedInventory, destroying);
    // What is still Voltron's (less what it made in adopted namespaces recreated since).
    const { plan, desired: eff, inventory } = pr;
    printPlan(ctx, plan, 'text');
    const warnings = [destroying ? undefined : otherConfigWarning(ctx, inventory, plan), destroying ? undefined : otherHostWarning(ctx, inventory, plan), lostInventoryWarning(ctx, inventory, pr.current, destroying), namesakeNote(recordedInventory, pr.notOursWhy)];
    for (const w of warnings) if (w) ctx.err(w);
    mark('print plan');
    if (plan.changes.length === 0) {
      // Nothing to write, but declared settings found in sync are taken over (and ones no
      // longer declared, back at their original, released): the inventory records it.
      // Identities too: an inventory without them (an older version, an abandoned apply) would
      // otherwise stay without them for as long as nothing changes.
      const settled = recordAdoptedRoutes(pruneInventory(takeOverSettings(inventory, eff, pr.current), eff, pr.current), eff, pr.current);
      const inv = withIdentities(settled, pr.current, session);
      const ignoreChanged = !destroying && (recordedInventory.ignore ?? []).join('\n') !== ignore.join('\n');
      const hostChanged = !destroying && recordedInventory.host !== ctx.host;
      if (settled !== recordedInventory || ignoreChanged || hostChanged || !sameIdentities(inv, recordedInventory)) saveInventory(ctx.stateDir, recorded(inv));
      return 0;
    }
    const pipelined = pipeliningEnabled() && plan.changes.filter(canPipeline).length >= PIPELINE_MIN_CHANGES;
    if (!pipelined) stopPrestartedPipeline();
    if (!flag(p, 'auto-approve')) {
      if (!process.stdin.isTTY) throw new Error(`${verb} needs confirmation: run on a terminal or pass --auto-approve`);
      const question = `\nDo you want to ${verb === 'destroy' ? 'destroy everything Voltron owns' : 'apply these changes'}? Only 'yes' will be accepted: `;
      if (!(await confirm(question, guard))) {
        ctx.out(`${verb === 'destroy' ? 'Destroy' : 'Apply'} cancelled.`);
        return 1;
      }
    }
    const started = process.hrtime.bigint();
    const writesBefore = session.writes;
    const journal = JournalWriter.start(ctx.stateDir, {
      command: lock.info.command,
      sandbox: ctx.sandbox ?? null,
      steps: plan.changes.length,
      preInventory: inventory,
      target: restoreTargetOf(pr, inventory),
      ...(confirmWithinMs !== undefined ? { confirmWithinMs } : {}),
    });
    mark('journal start');
    let failure: string | undefined;
    let inv = inventory;
    try {
      // Progress lines go out in chunks: one write per 3000 lines costs ~80 ms at N=1000.
      const progress: string[] = [];
      const flush = () => progress.length && ctx.out(progress.splice(0).join('\n'));
      let outcome;
      const pipeline = pipelined ? takePipeline() : undefined;
      try {
        outcome = executePlan(
          session,
          plan,
          inventory,
          journal,
          (c) => {
            if (progress.push(`  ${PAST[c.action]}: ${c.label}`) >= 256) flush();
          },
          pipeline,
        );
      } finally {
        pipeline?.close();
        flush();
      }
      inv = outcome.inventory;
      mark('execute');
      if (outcome.failed) {
        // Before the rollback reads the journal: what the apply never sent is not its to remove.
        journal.failed(outcome.failed.step, outcome.failed.refused);
        const hint = failureHint(outcome.failed.change, outcome.failed.error);
        failure = `${outcome.failed.change.label}: ${outcome.failed.error.message}${hint ? `\n${hint}` : ''}\n${outcome.executed.length} of ${plan.changes.length} changes were applied before the failure.`;
      } else {
        // Verify: re-read everything and re-plan; anything left is a failure naming what did not converge.
        // makePlan reads the kernel once; its `current` also prunes the inventory.
        const { plan: again, current } = makePlan(session, desired, inv, destroying);
        inv = withIdentities(recordAdoptedRoutes(pruneInventory(takeOverSettings(inv, eff, pr.current), eff, current), eff, current), current, session);
        if (again.changes.length) failure = new NotConverged(again).message;
        // A route or rule delete is a match: check the kernel deleted ours, not another that matched.
        const lingering = failure === undefined ? verifyDeletes(session, eff, inv, outcome.executed) : [];
        if (lingering.length) failure = `apply did not converge; deleted, but still in the kernel (the kernel removed another object that matched the delete):\n  ${lingering.join('\n  ')}`;
        mark('verify (the read and plan above are its re-read and re-plan)');
        // Here, in the try: a state dir that cannot take it (disk full) rolls the apply back
        // (what Voltron made would otherwise be recorded nowhere).
        if (failure === undefined) saveInventory(ctx.stateDir, recorded(inv));
        mark('save inventory');
      }
    } catch (e) {
      failure = (e as Error).message;
    } finally {
      journal.close();
    }
    if (failure !== undefined) {
      ctx.err(`Error: ${failure}`);
      if (flag(p, 'no-rollback')) {
        saveInventory(ctx.stateDir, recorded(inv));
        removeJournal(ctx.stateDir);
        ctx.err('Partial progress kept (--no-rollback); the inventory records what was created. Run `voltron destroy` or apply a fixed config.');
        return 1;
      }
      ctx.err('Rolling back to the pre-apply state...');
      session.close();
      session = openSession(ctx); // fresh caches: ifindexes changed under the old one
      const r = recoverJournal(ctx.stateDir, { out: ctx.err, err: ctx.err });
      ctx.err(r.action === 'rolledback' ? `The apply failed and was rolled back; nothing changed${r.outcome.kept.length ? ' but what the note(s) above say' : ''}.` : 'The apply failed and the rollback did NOT fully succeed (see above).');
      return 1;
    }
    const ms = Number(process.hrtime.bigint() - started) / 1e6;
    const what = verb === 'destroy' ? 'Destroy' : 'Apply';
    ctx.out(`\n${what} complete: ${plan.changes.length} change(s), ${session.writes - writesBefore} kernel write(s), ${ms.toFixed(0)} ms. Verified: the kernel matches the desired state.`);
    // Where to look at the result (after it, so that an apply's errors come first on stderr).
    const where = destroying ? undefined : sandboxNote(session, desired.namespaces);
    if (where) ctx.err(where);
    if (confirmWithinMs !== undefined) {
      // Pending must be on disk before the watchdog starts; the journal stays until confirmed.
      writeTryPending(ctx.stateDir, { deadline: new Date(Date.now() + confirmWithinMs).toISOString(), confirmWithinMs, startedAt: new Date().toISOString() });
      const pid = spawnWatchdog(ctx.stateDir);
      lock.transfer(pid, `watchdog for ${lock.info.command}`);
      ctx.out(`Try mode: run \`voltron confirm${ctx.stateArgs}\` within ${tryWindow} to keep this; otherwise watchdog pid ${pid} reverts to the pre-apply state.`);
      return 0;
    }
    removeJournal(ctx.stateDir);
    return 0;
  } finally {
    session.close();
    lock.release();
  }
}

export const applyCommand: Command = {
  name: 'apply',
  needsRoot: true,
  summary: 'Plan, confirm, apply in dependency order, then verify by re-reading (rolls back on failure)',
  usage: 'voltron apply [--auto-approve] [--no-rollback] [--confirm-within DURATION]',
  globals: ['config', 'host', 'state-dir', 'sandbox', 'no-color', 'no-recover', 'allow-map-reset'],
  options: [
    { name: 'auto-approve', help: 'do not ask for confirmation' },
    { name: 'no-rollback', help: 'on failure keep the partial progress (for debugging) instead of restoring the pre-apply state' },
    { name: 'confirm-within', value: 'DURATION', help: 'try mode: revert automatically unless `voltron confirm` runs within DURATION (e.g. 60s)' },
  ],
  async run(ctx, p) {
    return applyDesired(ctx, p, () => loadDesired(ctx), 'apply');
  },
};

export const destroyCommand: Command = {
  name: 'destroy',
  needsRoot: true,
  summary: 'Remove everything Voltron owns (per its inventory); foreign objects are untouched',
  usage: 'voltron destroy [--auto-approve] [--no-rollback]',
  // Destroy reads no config: it removes what the inventory records.
  globals: ['state-dir', 'sandbox', 'no-color', 'no-recover', 'allow-map-reset'],
  options: [
    { name: 'auto-approve', help: 'do not ask for confirmation' },
    { name: 'no-rollback', help: 'on failure keep the partial progress instead of restoring the pre-destroy state' },
  ],
  async run(ctx, p) {
    // Nothing desired: every owned object goes (in a sandbox, its root namespace too), except
    // what the last apply's ignore patterns match. Read after recovery, which may rewrite it.
    const empty = (): DesiredState => ({ resources: new Map(), pools: new Map(), ignore: inventoryOf(ctx).ignore ?? [], namespaces: [''] });
    return applyDesired(ctx, p, empty, 'destroy');
  },
};
