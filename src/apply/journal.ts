// The apply journal: an append-only NDJSON file in the state dir, one fsync'd record per
// event, so that a process killed at any instant leaves enough on disk to undo its work.
//   begin  — who/when, the pre-apply inventory and the restore target (pre-apply snapshot)
//   step   — written before step i's kernel write: the change and the object's before-state
//   done   — written after step i's kernel write succeeded
//   failed — step i failed and nothing after it was sent (and whether its create was refused)
//   applied/rolledback — terminal markers (the file is then removed; a marker survives only a crash
//            between writing it and the unlink, and recovery treats it accordingly)
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Resource } from '../model/types';
import type { Change, Inventory } from '../plan/types';
import type { Journal } from './reconcile';
import type { RestoreTarget } from './rollback';
import { bootId } from '../util/boot';
import { legacyVnis } from '../util/ranges';
import { stateDirError } from './statedir';
import { ensureDir, removeQuietly, writeAll } from '../util/fsx';

export interface JournalBegin {
  readonly t: 'begin';
  readonly version: 1;
  readonly pid: number;
  readonly host: string;
  readonly command: string;
  readonly startedAt: string;
  readonly sandbox: string | null;
  readonly steps: number;
  readonly preInventory: Inventory;
  readonly target: RestoreTarget;
  /** Try mode: the apply stands only if confirmed within this many ms. */
  readonly confirmWithinMs?: number;
  /** The kernel boot it ran in (util/boot): a journal from an earlier boot describes nothing live. */
  readonly bootId?: string;
}

export interface JournalStep {
  readonly t: 'step';
  readonly i: number;
  readonly change: Change;
  /** The object's live state before this step (null: it did not exist). */
  readonly before: Resource | null;
}

/**
 * Step `i` failed and the apply stopped there: no later step was sent. `refused`: its create was
 * refused because the object exists, so it made nothing. Recovery then knows which keys the
 * apply never created (a crash leaves no such record: every journaled step may have run).
 */
export interface JournalFailed {
  readonly t: 'failed';
  readonly i: number;
  readonly refused: boolean;
}

export type JournalRecord =
  | JournalBegin
  | JournalStep
  | { readonly t: 'done'; readonly i: number }
  | JournalFailed
  | { readonly t: 'applied'; readonly at: string }
  | { readonly t: 'rolledback'; readonly at: string };

export interface JournalState {
  readonly begin: JournalBegin;
  readonly steps: readonly JournalStep[];
  readonly done: ReadonlySet<number>;
  readonly failed?: JournalFailed;
  readonly applied: boolean;
  readonly rolledback: boolean;
}

export function journalPath(stateDir: string): string {
  return path.join(stateDir, 'journal.ndjson');
}

function fsyncDir(dir: string): void {
  const fd = fs.openSync(dir, 'r');
  try {
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

function strip(r: Resource | undefined): Resource | null {
  if (!r) return null;
  const { source: _s, ...rest } = r as Resource & { source?: unknown };
  return rest as Resource;
}

function stripChange(c: Change): Change {
  const out: Record<string, unknown> = { ...c };
  // Recovery never orders by it, and it is quadratic (every rule depends on every route of its
  // namespace: 2000 rules × 13 000 routes made a journal batch over V8's longest string).
  out.dependsOn = [];
  if (c.before) out.before = strip(c.before);
  if (c.after) out.after = strip(c.after);
  if (c.restore) out.restore = strip(c.restore);
  return out as unknown as Change;
}

/**
 * A journal being written by this process, with group commit: `prepare()` writes the step
 * records of a batch of upcoming steps in one write and one fsync, so every step's record and
 * before-state is on disk before its kernel write (write-ahead), without an fsync per step
 * (at 3000 steps, two fsyncs per step cost ~20 s). `done` marks are buffered and flushed with
 * the next batch or on close: recovery does not rely on them (it restores the pre-apply
 * snapshot of the begin record, treating a step without `done` as maybe executed).
 */
export class JournalWriter implements Journal {
  private fd: number;
  private readonly prepared = new Set<number>();
  /** Bytes of whole records on disk: a failed write is cut back to it (no torn record mid-file). */
  private size = 0;
  private pendingDone: string[] = [];

  private constructor(readonly file: string) {
    // O_EXCL: an existing journal means an unfinished apply; it must be recovered first.
    this.fd = fs.openSync(file, fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL | fs.constants.O_APPEND, 0o600);
  }

  /**
   * Before the first kernel write. A begin record that cannot be written (disk full) is an error
   * naming the state dir, and its stub is removed at once: nothing was changed.
   */
  static start(stateDir: string, begin: Omit<JournalBegin, 't' | 'version' | 'pid' | 'host' | 'startedAt' | 'bootId'>): JournalWriter {
    let w: JournalWriter | undefined;
    try {
      ensureDir(stateDir);
      discardStubJournal(stateDir);
      w = new JournalWriter(journalPath(stateDir));
      w.append({ t: 'begin', version: 1, pid: process.pid, host: os.hostname(), startedAt: new Date().toISOString(), bootId: bootId(), ...begin });
      fsyncDir(stateDir);
      return w;
    } catch (e) {
      if (w) {
        w.closeQuietly();
        removeQuietly(w.file);
      }
      throw stateDirError(stateDir, e, 'write the journal (nothing was changed)');
    }
  }

  append(rec: JournalRecord): void {
    this.write(rec.t !== 'done' && this.pendingDone.length ? [...this.pendingDone.splice(0), JSON.stringify(rec)] : [JSON.stringify(rec)]);
  }

  /**
   * Write and fsync `lines`. A failure (disk full) is an error naming the state dir: it comes
   * before the kernel write of the step it records, so that step is never sent.
   */
  private write(lines: readonly string[]): void {
    const buf = Buffer.from(`${lines.join('\n')}\n`);
    try {
      // Whole: a short write (disk filling up) left a torn begin record that read as no journal.
      writeAll(this.fd, buf);
      fs.fsyncSync(this.fd);
      this.size += buf.length;
    } catch (e) {
      try {
        fs.ftruncateSync(this.fd, this.size);
      } catch {
        // a torn last record is ignored by readJournal
      }
      throw stateDirError(path.dirname(this.file), e, 'write the journal');
    }
  }

  private closeQuietly(): void {
    try {
      fs.closeSync(this.fd);
    } catch {
      // already closed
    }
    this.fd = -1;
  }

  /** Persist (one fsync) the step records of `changes`, numbered from `first`. */
  prepare(first: number, changes: readonly Change[]): void {
    const lines = [...this.pendingDone];
    this.pendingDone = [];
    changes.forEach((c, k) => lines.push(JSON.stringify({ t: 'step', i: first + k, change: stripChange(c), before: strip(c.before) } satisfies JournalStep)));
    this.write(lines);
    changes.forEach((_, k) => this.prepared.add(first + k));
  }

  begin(index: number, change: Change): void {
    if (this.prepared.has(index)) return;
    this.append({ t: 'step', i: index, change: stripChange(change), before: strip(change.before) });
  }

  done(index: number): void {
    this.pendingDone.push(JSON.stringify({ t: 'done', i: index }));
  }

  /** Best effort: recovery never relies on `done` marks (a full disk must not fail a finished apply). */
  private flushDone(): void {
    if (this.pendingDone.length === 0 || this.fd < 0) return;
    try {
      this.write(this.pendingDone.splice(0));
    } catch {
      // the marks are lost; recovery restores the pre-apply snapshot either way
    }
  }

  /**
   * Record where the apply stopped. Best effort: without it recovery treats every journaled step
   * as maybe executed, which is safe for what the apply made, only blind to what others made.
   */
  failed(index: number, refused: boolean): void {
    if (this.fd < 0) return;
    try {
      this.append({ t: 'failed', i: index, refused });
    } catch {
      // see above
    }
  }

  close(): void {
    this.flushDone();
    if (this.fd >= 0) fs.closeSync(this.fd);
    this.fd = -1;
  }
}

/** What a user can do with a journal Voltron cannot read: every command stops at it. */
function asideHint(p: string): string {
  return `check the kernel (\`ip -d link\`, \`ip route\`...), then move the journal aside (\`mv ${p} ${p}.broken\`): commands then work from the kernel as it is and the inventory as it was saved.`;
}

/** Parse a journal; a torn last line (crash during a write) is ignored. Undefined if none. */
export function readJournal(stateDir: string): JournalState | undefined {
  const p = journalPath(stateDir);
  let text: string;
  try {
    text = fs.readFileSync(p, 'utf8');
  } catch (e) {
    // ENOTDIR: the state dir is a file, which holds no journal.
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
    throw stateDirError(stateDir, e, 'read the journal');
  }
  const recs: JournalRecord[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const l = lines[i]!;
    if (l.trim() === '') continue;
    try {
      recs.push(JSON.parse(l, legacyVnis) as JournalRecord);
    } catch {
      if (i < lines.length - 2) throw new Error(`${p}: corrupt record on line ${i + 1}: the interrupted apply cannot be undone from it: ${asideHint(p)}`);
    }
  }
  const begin = recs[0];
  if (begin?.t !== 'begin') {
    // Killed before the begin record reached the disk: nothing was executed (steps come after it).
    return undefined;
  }
  if (begin.version !== 1) throw new Error(`${p}: unsupported journal version ${String(begin.version)} (written by another Voltron version): run \`recover\` with that version, or ${asideHint(p)}`);
  const failed = recs.find((r): r is JournalFailed => r.t === 'failed');
  return {
    begin,
    steps: recs.filter((r): r is JournalStep => r.t === 'step'),
    done: new Set(recs.flatMap((r) => (r.t === 'done' ? [r.i] : []))),
    ...(failed ? { failed } : {}),
    applied: recs.some((r) => r.t === 'applied'),
    rolledback: recs.some((r) => r.t === 'rolledback'),
  };
}

/**
 * Remove a journal that has no begin record: its apply died (SIGKILL, ENOSPC) between creating
 * the file and the begin record reaching the disk, and every step is recorded after that record,
 * so it executed nothing. Left in place, it failed every later apply's O_EXCL open with EEXIST
 * while `recover` found nothing to recover. Only with the state dir's lock held (an apply
 * holding it may be between the two). Returns whether a stub was removed.
 */
export function discardStubJournal(stateDir: string): boolean {
  if (!fs.existsSync(journalPath(stateDir)) || readJournal(stateDir) !== undefined) return false;
  removeJournal(stateDir);
  return true;
}

export function removeJournal(stateDir: string): void {
  fs.rmSync(journalPath(stateDir), { force: true });
  if (fs.existsSync(stateDir)) fsyncDir(stateDir);
}

/** Append a terminal marker to an existing journal (used by recovery and the watchdog). */
export function markJournal(stateDir: string, rec: JournalRecord): void {
  const fd = fs.openSync(journalPath(stateDir), fs.constants.O_WRONLY | fs.constants.O_APPEND);
  try {
    writeAll(fd, `${JSON.stringify(rec)}\n`);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}
