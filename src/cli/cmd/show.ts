import { flag, str } from '../args';
import { inventoryOf, loadDesired, openSession } from '../common';
import type { Command } from '../main';
import { effectiveDesired, readCurrent } from '../../apply/reconcile';
import { showState } from '../show';

export const showCommand: Command = {
  name: 'show',
  summary: 'Show live state in the config format (owned objects marked)',
  usage: 'voltron show [-n NS] [-o yaml|json] [--all]',
  options: [
    { name: 'namespace', short: 'n', value: 'NS', help: 'only this logical namespace (root: "")' },
    { name: 'output', short: 'o', value: 'FORMAT', help: 'yaml (default) or json' },
    { name: 'all', help: 'also show kernel-made objects (connected routes, default rules, link-local addresses, lo)' },
  ],
  async run(ctx, p) {
    const format = str(p, 'output') ?? 'yaml';
    if (format !== 'yaml' && format !== 'json') throw new Error(`-o ${format}: use yaml or json`);
    const desired = loadDesired(ctx);
    const session = openSession(ctx);
    try {
      const inventory = inventoryOf(ctx);
      const eff = desired ? effectiveDesired(desired, session) : new Map();
      const current = readCurrent(session, eff, inventory, flag(p, 'all') ? 'show-all' : 'show');
      ctx.out(showState(current, inventory, { namespace: str(p, 'namespace'), format, all: flag(p, 'all') }));
      return 0;
    } finally {
      session.close();
    }
  },
};
