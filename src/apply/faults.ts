// Test seam (not a feature): VOLTRON_FAULT makes executePlan fail or die at a chosen step so
// tests can prove rollback and crash recovery on the real kernel. Honoured only by executePlan.
//   VOLTRON_FAULT="step=K,errno=E"  step K (1-based) fails with NetlinkError(E) before its kernel write
//   VOLTRON_FAULT="step=K,kill=1"   the process SIGKILLs itself right after step K's kernel write,
//                                   before the journal marks the step done (with the netlink
//                                   pipeline, steps posted after K may have been written too:
//                                   K is confirmed when they are drained)
//   VOLTRON_FAULT="step=K,skip=1"   step K makes no kernel write yet counts as done (a kernel that
//                                   acted on another object: what verify must catch)
//   VOLTRON_FAULT="step=K,half=1,..."  with kill=1 or errno=E: the fault strikes between the two
//                                   kernel writes of step K, a rule replace made before it is
//                                   broken (the new rule added, the old one not yet deleted)
//   VOLTRON_FAULT="step=K,at=P,kill=1"  the process SIGKILLs itself at the named point P inside
//                                   step K's executor (bpf create: pending, maps, attach, pin,
//                                   meta; see src/kernel/bpf/exec.ts); a step without P ignores it
import { NetlinkError } from '../kernel/netlink/socket';
import type { Change } from '../plan/types';

export interface Fault {
  readonly step: number;
  readonly errno?: number;
  readonly kill?: boolean;
  readonly skip?: boolean;
  /** Between the two kernel writes of the step (see ExecContext.between), not before or after it. */
  readonly half?: boolean;
  /** A named point inside the step's executor (ExecContext.at), not before or after it. */
  readonly at?: string;
}

export function parseFault(spec: string | undefined): Fault | undefined {
  if (!spec) return undefined;
  const kv = new Map(spec.split(',').map((p) => p.trim().split('=') as [string, string]));
  const step = Number(kv.get('step'));
  if (!Number.isInteger(step) || step < 1) throw new Error(`VOLTRON_FAULT=${spec}: step must be a positive integer`);
  const half = kv.get('half') === '1' ? { half: true } : {};
  const at = kv.get('at');
  if (at !== undefined) {
    if (kv.get('kill') !== '1') throw new Error(`VOLTRON_FAULT=${spec}: at=P needs kill=1`);
    return { step, kill: true, at };
  }
  if (kv.get('kill') === '1') return { step, kill: true, ...half };
  if (kv.get('skip') === '1') return { step, skip: true };
  const errno = Number(kv.get('errno') ?? '5');
  if (!Number.isInteger(errno) || errno < 1) throw new Error(`VOLTRON_FAULT=${spec}: errno must be a positive integer`);
  return { step, errno, ...half };
}

export function faultFromEnv(): Fault | undefined {
  return parseFault(process.env.VOLTRON_FAULT);
}

/** Before the kernel write of step `index` (0-based): throw the injected error if chosen. */
export function faultBefore(f: Fault | undefined, index: number, c: Change): void {
  if (f && !f.kill && !f.skip && !f.half && f.step === index + 1) throw new NetlinkError(f.errno!, 'injected fault', `${c.action} ${c.label}`);
}

/** After the kernel write of step `index`, before its journal 'done' mark: die if chosen. */
export function faultAfter(f: Fault | undefined, index: number): void {
  if (f?.kill && !f.half && f.at === undefined && f.step === index + 1) process.kill(process.pid, 'SIGKILL');
}

/** At the named point `point` inside step `index` (0-based): die if chosen (`at`). */
export function faultAt(f: Fault | undefined, index: number, point: string): void {
  if (f?.at === point && f.step === index + 1) process.kill(process.pid, 'SIGKILL');
}

/** Whether step `index` (0-based) is to make no kernel write. */
export function faultSkips(f: Fault | undefined, index: number): boolean {
  return f?.skip === true && f.step === index + 1;
}

/** Between the two kernel writes of step `index` (0-based): die or throw if chosen (`half`). */
export function faultBetween(f: Fault | undefined, index: number, c: Change): void {
  if (!f?.half || f.step !== index + 1) return;
  if (f.kill) process.kill(process.pid, 'SIGKILL');
  else throw new NetlinkError(f.errno!, 'injected fault', `${c.action} ${c.label}`);
}
