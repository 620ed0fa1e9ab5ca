// Crash recovery: an unfinished journal in the state dir means an apply died (SIGKILL, OOM)
// or a try-mode apply was never confirmed. One from before a reboot is discarded: the kernel
// state it changed is gone. Recovery restores the pre-apply state (the
// journal's restore target) and the pre-apply inventory, verifies by re-reading, and only
// then removes the journal. It is idempotent: if recovery itself dies, the next run redoes it.
// The one case resolved forward is a journal marked 'applied' (verified, inventory saved) that
// was not a try-mode apply, or whose try was confirmed: the crash hit between the final
// marker and the unlink, and the declared state is fully in place.
import fs from 'node:fs';
import path from 'node:path';
import { KernelSession } from '../kernel/session';
import { deleteNetns, isNetnsStub, netnsPath } from '../kernel/netns';
import type { NamespaceRes } from '../model/types';
import { InventoryBuilder, saveInventory, saveInventoryIfChanged } from './inventory';
import { journalPath, markJournal, readJournal, removeJournal, type JournalState } from './journal';
import { restore, type RestoreOutcome, type RestoreTarget } from './rollback';
import { SETTING_KINDS, withIdentities } from './reconcile';
import type { Inventory } from '../plan/types';
import { madeBeforeBroken } from '../plan/handover';
import { fromEarlierBoot } from '../util/boot';

export interface Log {
  readonly out: (s: string) => void;
  readonly err: (s: string) => void;
}

export type RecoverResult =
  | { readonly action: 'none' }
  | { readonly action: 'completed' }
  | { readonly action: 'discarded' }
  | { readonly action: 'rolledback'; readonly outcome: RestoreOutcome }
  | { readonly action: 'failed'; readonly outcome: RestoreOutcome };

// Try-mode files: confirm and the watchdog race by renaming `pending`; exactly one wins.
export const TRY_PENDING = 'try-pending.json';
export const TRY_CONFIRMED = 'try-confirmed.json';
export const TRY_REVERTING = 'try-reverting.json';

export function tryFile(stateDir: string, name: string): string {
  return path.join(stateDir, name);
}

export function clearTryFiles(stateDir: string): void {
  for (const f of [TRY_PENDING, TRY_CONFIRMED, TRY_REVERTING]) fs.rmSync(tryFile(stateDir, f), { force: true });
}

/** Describe a journal for messages: who, when, how far. */
export function describeJournal(j: JournalState): string {
  const b = j.begin;
  const last = j.steps.length ? j.steps[j.steps.length - 1]! : undefined;
  const progress = j.applied ? `all ${b.steps} step(s) applied` : `at least ${j.done.size} of ${b.steps} step(s) done (done marks are group-committed)${last && !j.done.has(last.i) ? `, journalled up to step ${last.i + 1} (${last.change.action} ${last.change.label})` : ''}`;
  return `${b.command} by pid ${b.pid} on ${b.host} at ${b.startedAt}: ${progress}`;
}

/** Whether the journal's apply stands as fully applied (see the header comment). */
export function resolvesForward(stateDir: string, j: JournalState): boolean {
  if (!j.applied || j.rolledback) return false;
  return j.begin.confirmWithinMs === undefined || fs.existsSync(tryFile(stateDir, TRY_CONFIRMED));
}

/**
 * The journal's restore target, with the keys its apply never created counted as someone else's:
 * after a failed step (journal `failed`), the creates after it (never sent) and its own create
 * if the kernel refused it because the object exists. The plan saw those keys free, so a live
 * object under one was made by another process while the apply ran: the restore used to remove
 * it as the apply's own. Settings are not objects anyone makes: left as they were.
 */
export function restoreTargetOfJournal(j: JournalState): RestoreTarget {
  const f = j.failed;
  const t = j.begin.target;
  if (!f) return t;
  const made = new Set<string>();
  for (const s of j.steps) if (s.i < f.i || (s.i === f.i && !f.refused)) made.add(s.change.key);
  // A veth end comes with its pair: made if the change creating the pair may have run.
  for (const s of j.steps) if (s.change.createdBy !== undefined && made.has(s.change.createdBy)) made.add(s.change.key);
  const never = Object.entries(t.scope)
    .filter(([k, r]) => !made.has(k) && t.objects[k] === undefined && !SETTING_KINDS.has(r.kind))
    .map(([k]) => k);
  return never.length === 0 ? t : { ...t, notOurs: [...(t.notOurs ?? []), ...never] };
}

/**
 * Remove the /run/netns files of namespaces the apply was creating when it was killed between
 * the file and the mount on it (isNetnsStub): no namespace, yet every read of it fails. Only the
 * journal's own creates that may have run (a refused one is someone else's create in progress).
 * Returns the paths removed.
 */
function removeNamespaceStubs(session: KernelSession, j: JournalState, target: RestoreTarget): string[] {
  const notOurs = new Set(target.notOurs ?? []);
  const out: string[] = [];
  for (const st of j.steps) {
    const c = st.change;
    if (c.kind !== 'namespace' || c.action !== 'create' || notOurs.has(c.key)) continue;
    const p = session.physical((c.after as NamespaceRes).name);
    if (p === null || !isNetnsStub(p)) continue;
    deleteNetns(p);
    out.push(netnsPath(p));
  }
  return out;
}

/** Finish what the journal says. The caller holds the state dir's lock. */
export function recoverJournal(stateDir: string, log: Log, j: JournalState | undefined = readJournal(stateDir)): RecoverResult {
  if (!j) {
    clearTryFiles(stateDir);
    return { action: 'none' };
  }
  if (fromEarlierBoot(j.begin.bootId)) {
    // A reboot undid whatever it did (and its before-states describe a kernel that is gone):
    // rolling back now would act on objects created since, by the boot or by others.
    removeJournal(stateDir);
    clearTryFiles(stateDir);
    log.out(`Recovery: the interrupted ${j.begin.command} ran before the last reboot; the kernel state it changed did not survive it, so there is nothing to roll back (journal discarded).`);
    return { action: 'discarded' };
  }
  if (resolvesForward(stateDir, j)) {
    removeJournal(stateDir);
    clearTryFiles(stateDir);
    log.out(`Recovery: the interrupted ${j.begin.command} had completed and verified; kept as applied.`);
    return { action: 'completed' };
  }
  const session = new KernelSession(j.begin.sandbox === null ? {} : { sandbox: j.begin.sandbox });
  let outcome: RestoreOutcome;
  let restored: Inventory;
  try {
    const target = restoreTargetOfJournal(j);
    for (const p of removeNamespaceStubs(session, j, target)) log.out(`  rollback: removed ${p}, an empty file left by the interrupted create of that namespace`);
    outcome = restore(session, target, j.begin.preInventory);
    // Links and namespaces the restore recreated have new ifindexes and cookies: record the live ones.
    restored = withIdentities(j.begin.preInventory, outcome.current, session);
  } finally {
    session.close();
  }
  for (const c of outcome.executed) log.out(`  rollback: ${c.action} ${c.label}`);
  for (const e of outcome.errors) log.err(`  rollback error: ${e.change.action} ${e.change.label}: ${e.error.message}`);
  if (outcome.foreignGone.length) {
    const show = outcome.foreignGone.slice(0, 5).join(', ');
    log.err(`  note: ${outcome.foreignGone.length} foreign object(s) inside containers the plan removed are not recreated (${show}${outcome.foreignGone.length > 5 ? ', ...' : ''}); the kernel regenerates its own (lo, link-local addresses, kernel routes)`);
  }
  for (const k of outcome.kept) log.err(`  note: ${k}`);
  if (outcome.remaining.changes.length > 0) {
    log.err(
      `Rollback incomplete: still different from the pre-apply state:\n  ${outcome.remaining.changes.map((c) => `${c.action} ${c.label}: ${c.reason}`).join('\n  ')}\n` +
        `The journal is kept in ${stateDir}; fix the cause and run \`voltron recover\` again, or \`voltron recover --abandon\` to leave the kernel as it is now.`,
    );
    return { action: 'failed', outcome };
  }
  saveInventoryIfChanged(stateDir, restored);
  markRolledBack(stateDir);
  removeJournal(stateDir);
  clearTryFiles(stateDir);
  log.out(`Rollback complete: ${outcome.executed.length} change(s); verified: the owned live state equals the pre-apply state${outcome.kept.length ? ' but what the note(s) above say' : ''}.`);
  return { action: 'rolledback', outcome };
}

/**
 * The `rolledback` marker only covers a crash between writing it and removing the journal, and
 * without it that crash just makes the next command run the (idempotent) restore again: a disk
 * too full to take it does not fail a completed rollback.
 */
function markRolledBack(stateDir: string): void {
  try {
    markJournal(stateDir, { t: 'rolledback', at: new Date().toISOString() });
  } catch {
    // see above
  }
}

/**
 * Give up on restoring the pre-apply state: the kernel stays as it is and the journal is set
 * aside (kept as journal.abandoned-<time>.ndjson). Ownership is the union of the pre-apply
 * inventory and what the journaled steps created or changed — never less — so a later plan can
 * still prune or destroy it. The caller holds the state dir's lock.
 */
export function abandonJournal(stateDir: string, log: Log, j: JournalState): void {
  const inv = new InventoryBuilder(j.begin.preInventory);
  // A delete may have been undone by the failed rollback: its object stays owned (prune clears
  // ownership of what is gone).
  // A rule replace cut between its add and its delete leaves both rules: own both (recordHalf).
  for (const st of j.steps) {
    if (st.change.action === 'delete') continue;
    if (!j.done.has(st.i) && madeBeforeBroken(st.change)) inv.recordHalf(st.change);
    else inv.record(st.change);
  }
  // What the journaled steps and the failed rollback recreated has unknown ifindexes and netns
  // cookies: recorded ones would make Voltron's own objects look like someone else's. Trust the
  // names until the next verified apply records them again.
  saveInventory(stateDir, { ...inv.result(), ifindex: {}, netnsCookie: {} });
  const aside = path.join(stateDir, `journal.abandoned-${new Date().toISOString().replace(/[:.]/g, '-')}.ndjson`);
  fs.renameSync(journalPath(stateDir), aside);
  clearTryFiles(stateDir);
  log.out(`Abandoned the unfinished ${j.begin.command} (${j.steps.length} step(s) journaled, ${j.done.size} done): the kernel is left as it is; the journal is kept as ${aside}.`);
  log.out('Run `voltron plan` to see how the kernel differs from the config.');
}
