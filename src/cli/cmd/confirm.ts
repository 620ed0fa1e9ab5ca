import type { Command } from '../main';
import { readJournal, removeJournal } from '../../apply/journal';
import { Lock, acquireLock, LockBusy, isStale, readLock } from '../../apply/lock';
import { TRY_CONFIRMED, TRY_REVERTING, clearTryFiles, tryFile } from '../../apply/recover';
import { claimPending, lastRevert, noteConfirmed, readTryPending } from '../../apply/watchdog';
import fs from 'node:fs';
import path from 'node:path';
import { fromEarlierBoot } from '../../util/boot';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export const confirmCommand: Command = {
  name: 'confirm',
  needsRoot: true,
  summary: 'Keep the state applied by `apply --confirm-within` (stops its automatic revert)',
  usage: 'voltron confirm',
  options: [],
  globals: ['state-dir', 'sandbox'],
  async run(ctx) {
    const pending = readTryPending(ctx.stateDir);
    const j = readJournal(ctx.stateDir);
    if (!pending || !j || j.begin.confirmWithinMs === undefined) {
      const reverted = lastRevert(ctx.stateDir);
      if (reverted) {
        const outcome = reverted.action === 'rolledback' ? 'reverted it to the pre-apply state' : `tried to revert it (outcome: ${reverted.action})`;
        ctx.err(`Error: too late: the last apply --confirm-within was not confirmed in time; its watchdog ${outcome} at ${reverted.at} (see ${path.join(ctx.stateDir, 'watchdog.log')}).`);
      } else ctx.err('Error: nothing to confirm: no apply --confirm-within is pending.');
      return 1;
    }
    if (fromEarlierBoot(j.begin.bootId)) {
      ctx.err('Error: nothing to confirm: that apply --confirm-within ran before the last reboot, and the state it applied did not survive it (the next apply discards its journal).');
      return 1;
    }
    if (fs.existsSync(tryFile(ctx.stateDir, TRY_REVERTING))) {
      ctx.err('Error: too late: the deadline passed and the watchdog is reverting to the pre-apply state.');
      return 1;
    }
    const holder = readLock(ctx.stateDir);
    // The lock belongs to the watchdog of this try; any other live holder means something else runs.
    if (holder && !isStale(holder) && !holder.command.startsWith('watchdog')) {
      ctx.err(`Error: ${new LockBusy(holder, ctx.stateDir).message}`);
      return 1;
    }
    if (Date.now() > Date.parse(pending.deadline) && !(holder && !isStale(holder))) {
      ctx.err('Error: too late: the deadline passed (the next command reverts this apply).');
      return 1;
    }
    if (!fs.existsSync(tryFile(ctx.stateDir, TRY_CONFIRMED)) && !claimPending(ctx.stateDir, TRY_CONFIRMED)) {
      ctx.err('Error: too late: the watchdog is reverting to the pre-apply state.');
      return 1;
    }
    // Confirmed (the rename is the commit point). Let the watchdog finalise; if it is gone, do it here.
    for (let i = 0; i < 50 && readJournal(ctx.stateDir); i++) {
      const h = readLock(ctx.stateDir);
      if (!h || isStale(h)) break;
      await sleep(100);
    }
    if (readJournal(ctx.stateDir)) {
      let lock: Lock | undefined;
      try {
        lock = acquireLock(ctx.stateDir, 'voltron confirm');
        removeJournal(ctx.stateDir);
        clearTryFiles(ctx.stateDir);
        // In the watchdog's log, as it would have said it: its last word was an older try's revert.
        noteConfirmed(ctx.stateDir);
      } catch (e) {
        if (!(e instanceof LockBusy)) throw e;
      } finally {
        lock?.release();
      }
    }
    ctx.out('Confirmed: the applied state stands; the automatic revert is cancelled.');
    return 0;
  },
};
