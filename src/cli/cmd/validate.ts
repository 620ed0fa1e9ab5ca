import { loadDesired } from '../common';
import type { Command } from '../main';

export const validateCommand: Command = {
  name: 'validate',
  summary: 'Check the config (schema and semantics) without touching the kernel',
  usage: 'voltron validate [-c DIR] [--host NAME]',
  options: [],
  async run(ctx) {
    const d = loadDesired(ctx);
    if (!d) return 1;
    ctx.out(`Config in ${ctx.configDir} is valid: ${d.resources.size} objects in ${d.namespaces.length} namespace(s).`);
    return 0;
  },
};
