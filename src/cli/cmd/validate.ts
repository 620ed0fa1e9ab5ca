import fs from 'node:fs';
import path from 'node:path';
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
    // A mistyped --host silently means "base only": say which overlay was used.
    const overlay = ['yaml', 'yml'].map((ext) => path.join('hosts', `${ctx.host}.${ext}`)).find((f) => fs.existsSync(path.join(ctx.configDir, f)));
    ctx.out(overlay ? `Host '${ctx.host}': overlay ${overlay} applied.` : `Host '${ctx.host}': no overlay (hosts/${ctx.host}.yaml): base files only.`);
    return 0;
  },
};
