// SIGINT, SIGTERM and SIGHUP while a command holds the state dir's lock (apply, destroy,
// recover). Kernel writes, the journal and rollback run synchronously, so with a listener
// installed a signal is handled only once they are done: an apply is never cut between two
// steps by Ctrl-C or a service stop (only SIGKILL does that: the crash path of `recover`).
// With the default action the process died wherever it was, leaving the lock, the journal and
// a temporary inventory behind, and the next command (even `plan`) rolled the whole apply back.
// At the confirmation prompt, the one place such a command waits, a signal cancels.

const SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;
type HeldSignal = (typeof SIGNALS)[number];
const NUMBER: Readonly<Record<HeldSignal, number>> = { SIGHUP: 1, SIGINT: 2, SIGTERM: 15 };

export class SignalGuard {
  /** The first signal received, if any. */
  received: HeldSignal | undefined;
  private waiting: (() => void) | undefined;
  private readonly listeners = SIGNALS.map((s) => {
    const l = () => {
      this.received ??= s;
      this.waiting?.();
    };
    process.on(s, l);
    return [s, l] as const;
  });

  /** While the command waits (the prompt), a signal calls `cancel`. */
  onSignalWhileWaiting(cancel: (() => void) | undefined): void {
    this.waiting = cancel;
  }

  /**
   * Let the event loop deliver a signal that arrived during synchronous work, then restore the
   * default actions. Returns the exit code a received signal calls for (128 + its number).
   */
  async release(): Promise<number | undefined> {
    await new Promise((r) => setImmediate(r));
    for (const [s, l] of this.listeners) process.off(s, l);
    return this.received === undefined ? undefined : 128 + NUMBER[this.received];
  }
}

/**
 * Run a locking command with signals held; if one came, say how it was handled and exit
 * 128 + its number whatever the command's outcome (printed above it).
 */
export async function withSignalsHeld(err: (s: string) => void, what: string, run: (guard: SignalGuard) => Promise<number> | number): Promise<number> {
  const guard = new SignalGuard();
  let code: number;
  try {
    code = await run(guard);
  } finally {
    const interrupted = await guard.release();
    if (interrupted !== undefined) {
      err(`${guard.received} received: handled once ${what} reached a safe point (its outcome is above).`);
      code = interrupted;
    }
  }
  return code;
}
