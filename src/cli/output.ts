// Output helpers shared by commands.
import { planToJson, renderMarkdown, renderText } from '../plan';
import type { Plan } from '../plan/types';
import type { Context } from './common';
import type { SignalGuard } from './signals';

export function printPlan(ctx: Context, plan: Plan, format: string): void {
  if (format === 'json') ctx.out(JSON.stringify(planToJson(plan), null, 2));
  else if (format === 'markdown') ctx.out(renderMarkdown(plan));
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
  const rl = readline.createInterface({ input: process.stdin, output: process.stdout });
  try {
    const answer = await new Promise<string | undefined>((resolve) => {
      rl.on('close', () => resolve(undefined));
      rl.on('SIGINT', () => resolve(undefined));
      signals?.onSignalWhileWaiting(() => rl.close());
      rl.question(question, resolve);
    });
    signals?.onSignalWhileWaiting(undefined);
    if (answer === undefined) process.stdout.write('\n');
    return answer?.trim() === 'yes';
  } finally {
    rl.close();
  }
}
