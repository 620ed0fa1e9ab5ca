// Output helpers shared by commands.
import { planToJson, renderMarkdown, renderText } from '../plan';
import type { Plan } from '../plan/types';
import type { Context } from './common';

export function printPlan(ctx: Context, plan: Plan, format: string): void {
  if (format === 'json') ctx.out(JSON.stringify(planToJson(plan), null, 2));
  else if (format === 'markdown') ctx.out(renderMarkdown(plan));
  else ctx.out(renderText(plan, { color: ctx.color }));
}

/** Ask on the terminal; only the word `yes` approves (as Terraform). */
export async function confirm(question: string): Promise<boolean> {
  // Required here: only an interactive apply asks, and readline costs every start ~1 ms.
  // eslint-disable-next-line @typescript-eslint/no-var-requires
  const readline = require('node:readline') as typeof import('node:readline');
  const rl = readline.createInterface({ input: process.stdin, output: process.stdout });
  try {
    const answer = await new Promise<string>((resolve) => rl.question(question, resolve));
    return answer.trim() === 'yes';
  } finally {
    rl.close();
  }
}
