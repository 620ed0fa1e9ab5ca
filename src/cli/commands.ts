// The command registry. Each command lives in src/cli/cmd/<name>.ts.
import type { Command } from './main';
import { validateCommand } from './cmd/validate';
import { planCommand } from './cmd/plan';
import { applyCommand, destroyCommand } from './cmd/apply';
import { showCommand } from './cmd/show';

export const COMMANDS: Command[] = [validateCommand, planCommand, applyCommand, destroyCommand, showCommand];
