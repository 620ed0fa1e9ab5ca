// Try mode's watchdog: a detached process (it outlives the CLI) that reverts an apply to its
// pre-apply state unless `voltron confirm` arrives before the deadline. It holds the state
// dir's lock (handed over by the apply), polls for the confirmation, and always exits: after
// finalising a confirmation, after reverting, or when the journal is gone (handled elsewhere).
// Run as: node dist/src/apply/watchdog.js STATE_DIR
import fs from 'node:fs';
import path from 'node:path';
import { readJournal, removeJournal } from './journal';
import { Lock, readLock } from './lock';
import { TRY_CONFIRMED, TRY_PENDING, TRY_REVERTING, clearTryFiles, recoverJournal, tryFile } from './recover';
import { distDir } from '../util/paths';
import { writeAll } from '../util/fsx';

export interface TryPending {
  readonly deadline: string; // ISO time
  readonly confirmWithinMs: number;
  readonly startedAt: string;
}

/** Longest try window accepted (the watchdog must be bounded in time). */
export const MAX_CONFIRM_MS = 24 * 3600 * 1000;
const POLL_MS = 100;

/** `60s`, `2m`, `1h`, `500ms`, or a bare number of seconds. */
export function parseDuration(s: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(s.trim());
  if (!m) throw new Error(`bad duration '${s}' (use e.g. 60s, 2m, 1h)`);
  const n = Number(m[1]) * { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[(m[2] ?? 's') as 'ms' | 's' | 'm' | 'h'];
  if (n < 1000 || n > MAX_CONFIRM_MS) throw new Error(`--confirm-within ${s}: must be between 1s and 24h`);
  return Math.round(n);
}

export function writeTryPending(stateDir: string, p: TryPending): void {
  const f = tryFile(stateDir, TRY_PENDING);
  const tmp = `${f}.tmp-${process.pid}`;
  const fd = fs.openSync(tmp, 'w', 0o600);
  try {
    writeAll(fd, JSON.stringify(p));
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  fs.renameSync(tmp, f);
}

export function readTryPending(stateDir: string): TryPending | undefined {
  for (const f of [TRY_PENDING, TRY_CONFIRMED, TRY_REVERTING]) {
    try {
      return JSON.parse(fs.readFileSync(tryFile(stateDir, f), 'utf8')) as TryPending;
    } catch {
      // next
    }
  }
  return undefined;
}

/** Atomically claim the pending try (rename); false if someone else (confirm/watchdog) already did. */
export function claimPending(stateDir: string, as: typeof TRY_CONFIRMED | typeof TRY_REVERTING): boolean {
  try {
    fs.renameSync(tryFile(stateDir, TRY_PENDING), tryFile(stateDir, as));
    return true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw e;
  }
}

/**
 * How the last try in this state dir ended when its watchdog reverted it: the time and outcome
 * of the watchdog's last `revert` line, unless a later line of it says confirmed. A `confirm`
 * that comes after the revert finished finds no try files left: without this it could only say
 * "nothing pending", which reads as if the applied state had stood.
 */
export function lastRevert(stateDir: string): { at: string; action: string } | undefined {
  let text: string;
  try {
    const fd = fs.openSync(path.join(stateDir, 'watchdog.log'), 'r');
    try {
      // The log only grows: its tail holds the last try.
      const size = fs.fstatSync(fd).size;
      const buf = Buffer.alloc(Math.min(size, 64 * 1024));
      fs.readSync(fd, buf, 0, buf.length, size - buf.length);
      text = buf.toString('utf8');
    } finally {
      fs.closeSync(fd);
    }
  } catch {
    return undefined;
  }
  for (const line of text.split('\n').reverse()) {
    const m = /^(\S+) (?:watchdog|confirm)\[\d+\]: (?:revert (\w+)$|confirmed: )/.exec(line);
    if (m) return m[2] === undefined ? undefined : { at: m[1]!, action: m[2] };
  }
  return undefined;
}

/** Log a confirmation the watchdog did not see (it had died), so `lastRevert` does not look past it. */
export function noteConfirmed(stateDir: string): void {
  try {
    fs.appendFileSync(path.join(stateDir, 'watchdog.log'), `${new Date().toISOString()} confirm[${process.pid}]: confirmed: the applied state stands\n`, { mode: 0o600 });
  } catch {
    // a log line: its absence only makes a later `confirm` name an older revert
  }
}

/** Start the detached watchdog; returns its pid. */
export function spawnWatchdog(stateDir: string): number {
  // Required here: child_process (with net and dgram) costs every CLI start ~2.5 ms.
  // eslint-disable-next-line @typescript-eslint/no-var-requires
  const { spawn } = require('node:child_process') as typeof import('node:child_process');
  const log = fs.openSync(path.join(stateDir, 'watchdog.log'), 'a', 0o600);
  const child = spawn(process.execPath, [path.join(distDir(), 'src/apply/watchdog.js'), stateDir], {
    detached: true,
    stdio: ['ignore', log, log],
    env: { ...process.env, VOLTRON_FAULT: '' },
  });
  fs.closeSync(log);
  child.unref();
  if (child.pid === undefined) throw new Error('could not start the confirmation watchdog');
  return child.pid;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function stamp(s: string): void {
  process.stdout.write(`${new Date().toISOString()} watchdog[${process.pid}]: ${s}\n`);
}

function releaseIfMine(stateDir: string): void {
  const l = readLock(stateDir);
  if (l && l.pid === process.pid) new Lock(stateDir, l).release();
}

/** The watchdog's main loop. Returns the exit code. */
export async function runWatchdog(stateDir: string): Promise<number> {
  const pending = readTryPending(stateDir);
  if (!pending) {
    stamp('no pending try; nothing to do');
    return 0;
  }
  const deadline = Date.parse(pending.deadline);
  const hardStop = Date.now() + MAX_CONFIRM_MS + 60_000;
  stamp(`waiting for \`voltron confirm\` until ${pending.deadline}`);
  const log = { out: stamp, err: stamp };
  try {
    while (Date.now() < Math.min(deadline, hardStop)) {
      if (fs.existsSync(tryFile(stateDir, TRY_CONFIRMED))) break;
      if (!readJournal(stateDir)) {
        stamp('journal gone (handled by another process); exiting');
        return 0;
      }
      await sleep(POLL_MS);
    }
    if (fs.existsSync(tryFile(stateDir, TRY_CONFIRMED)) || !claimPending(stateDir, TRY_REVERTING)) {
      if (fs.existsSync(tryFile(stateDir, TRY_CONFIRMED))) {
        removeJournal(stateDir);
        clearTryFiles(stateDir);
        stamp('confirmed: the applied state stands');
      }
      return 0;
    }
    stamp('not confirmed in time: reverting to the pre-apply state');
    const r = recoverJournal(stateDir, log);
    stamp(`revert ${r.action}`);
    return r.action === 'failed' ? 1 : 0;
  } finally {
    releaseIfMine(stateDir);
  }
}

if (require.main === module) {
  const dir = process.argv[2];
  if (!dir) {
    process.stderr.write('usage: watchdog.js STATE_DIR\n');
    process.exit(2);
  }
  runWatchdog(dir).then(
    (code) => process.exit(code),
    (e) => {
      stamp(`error: ${(e as Error).stack ?? String(e)}`);
      releaseIfMine(dir);
      process.exit(1);
    },
  );
}
