// The command registry. Each command lives in src/cli/cmd/<name>.ts.
import type { Command } from './main';
import { validateCommand } from './cmd/validate';
import { planCommand } from './cmd/plan';
import { applyCommand, destroyCommand } from './cmd/apply';
import { showCommand } from './cmd/show';

export const COMMANDS: Command[] = [validateCommand, planCommand, applyCommand, destroyCommand, showCommand];
// Safe apply (issue 4): recover/confirm commands; plan first recovers an unfinished apply.
import { recoverCommand, withRecovery } from './cmd/recover';
import { confirmCommand } from './cmd/confirm';
import { versionCommand } from './cmd/version';
COMMANDS.push(recoverCommand, confirmCommand, versionCommand);
COMMANDS.splice(COMMANDS.indexOf(planCommand), 1, withRecovery(planCommand));

// Side-effect import: registers the bpf global reader and executor (bpf.programs[]).
import '../kernel/bpf';
