import { flag, type Parsed } from '../args';
import type { Context } from '../common';
import { fromEarlierBoot } from '../../util/boot';
import type { Command } from '../main';
import { discardStubJournal, readJournal } from '../../apply/journal';
import { readLock, isStale } from '../../apply/lock';
import { abandonJournal, describeJournal, recoverJournal } from '../../apply/recover';
import { lockOrExplain } from './apply';
import { withSignalsHeld } from '../signals';

export const recoverCommand: Command = {
  name: 'recover',
  needsRoot: true,
  summary: 'Finish an interrupted apply: restore the pre-apply state recorded in the journal',
  usage: 'voltron recover [--abandon]',
  // A restore may reload a BPF program over maps its update reset.
  globals: ['state-dir', 'sandbox', 'allow-map-reset'],
  options: [{ name: 'abandon', help: 'do not restore: leave the kernel as it is, keep ownership of what the apply made, set the journal aside' }],
  async run(ctx, p) {
    return withSignalsHeld(ctx.err, 'the recovery', () => recoverLocked(ctx, p));
  },
};

function recoverLocked(ctx: Context, p: Parsed): number {
  const lock = lockOrExplain(ctx, 'voltron recover');
  if (!lock) return 1;
  try {
    const j = readJournal(ctx.stateDir);
    if (!j) {
      if (discardStubJournal(ctx.stateDir)) ctx.out('Removed an empty journal (an apply killed before its first record: it changed nothing).');
      ctx.out('Nothing to recover: no unfinished apply in the state dir.');
      return 0;
    }
    if (flag(p, 'abandon')) {
      abandonJournal(ctx.stateDir, ctx, j);
      return 0;
    }
    ctx.out(`Recovering an unfinished apply (${describeJournal(j)}).`);
    return recoverJournal(ctx.stateDir, ctx, j).action === 'failed' ? 1 : 0;
  } finally {
    lock.release();
  }
}

/**
 * Wrap a read-only command (plan, later watch) so that it first recovers an unfinished apply,
 * as apply does. If a live process holds the lock (an apply in progress, a try-mode watchdog),
 * the journal is theirs: only say so and go on reading.
 */
export function withRecovery(cmd: Command): Command {
  return {
    ...cmd,
    async run(ctx: Context, p: Parsed) {
      const j = readJournal(ctx.stateDir);
      if (j) {
        const holder = readLock(ctx.stateDir);
        if (holder && !isStale(holder)) {
          ctx.err(`Note: ${holder.command} (pid ${holder.pid}) is in progress; showing the live state as it is now.`);
        } else if (flag(p, 'no-recover')) {
          ctx.err(`Note: an unfinished apply is recorded (${describeJournal(j)}); not recovering (--no-recover).`);
        } else {
          const code = await withSignalsHeld(ctx.err, 'the recovery', () => recoverBeforeReading(ctx, cmd.name));
          if (code !== 0) return code;
        }
      }
      return cmd.run(ctx, p);
    },
  };
}

/** With the lock: restore the pre-apply state of an unfinished apply. 0: go on reading. */
function recoverBeforeReading(ctx: Context, name: string): number {
  const lock = lockOrExplain(ctx, `voltron ${name} (recovery)`);
  if (!lock) return 1;
  try {
    const again = readJournal(ctx.stateDir);
    if (again) {
      if (!fromEarlierBoot(again.begin.bootId)) ctx.err(`Recovering an unfinished apply (${describeJournal(again)}): restoring the pre-apply state first.`);
      if (recoverJournal(ctx.stateDir, { out: ctx.err, err: ctx.err }, again).action === 'failed') return 1;
    }
    return 0;
  } finally {
    lock.release();
  }
}
