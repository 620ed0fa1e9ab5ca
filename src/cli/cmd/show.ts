import { flag, str } from '../args';
import path from 'node:path';
import { inventoryOf, missingOverlayNote, openSession, type Context } from '../common';
import { loadConfig } from '../../config';
import type { Command } from '../main';
import { effectiveDesired, readCurrent, setAsideStale } from '../../apply/reconcile';
import { readNamespaces } from '../../kernel/namespace';
import { resourceKey } from '../../model/keys';
import type { DesiredState, Resource } from '../../model/types';
import { showState } from '../show';

export const showCommand: Command = {
  name: 'show',
  needsRoot: true,
  summary: 'Show live state in the config format (owned objects marked)',
  usage: 'voltron show [-n NS] [-o yaml|json] [--all]',
  // The config only for its ignore: list and which veth end declares a pair.
  globals: ['config', 'host', 'state-dir', 'sandbox'],
  options: [
    { name: 'namespace', short: 'n', value: 'NS', help: 'only this logical namespace (root: "")' },
    { name: 'output', short: 'o', value: 'FORMAT', help: 'yaml (default) or json' },
    { name: 'all', help: 'also show kernel-made objects (connected routes, default rules, link-local addresses, lo)' },
  ],
  async run(ctx, p) {
    const format = str(p, 'output') ?? 'yaml';
    if (format !== 'yaml' && format !== 'json') throw new Error(`-o ${format}: use yaml or json`);
    const only = str(p, 'namespace');
    const desired = desiredForShow(ctx);
    const session = openSession(ctx);
    try {
      const inventory = inventoryOf(ctx);
      const eff = new Map<string, Resource>(desired ? effectiveDesired(desired, session) : []);
      // Live state is every existing namespace, declared or not (a veth's peer may live in any).
      const existing = readNamespaces(session);
      for (const n of existing) if (!eff.has(resourceKey(n))) eff.set(resourceKey(n), n);
      if (only !== undefined && only !== '' && !existing.some((n) => n.name === only)) {
        const declared = desired?.namespaces.includes(only) === true;
        ctx.err(`Error: namespace '${only}' does not exist${declared ? ' (declared in the config but not created yet)' : ' and is not declared in the config'}`);
        return 1;
      }
      const current = readCurrent(session, eff, inventory, flag(p, 'all') ? 'show-all' : 'show');
      // A namesake someone else made after Voltron's went is not marked owned (as plans see it).
      setAsideStale(session, current, inventory);
      ctx.out(showState(current, inventory, { namespace: only, format, all: flag(p, 'all'), ignore: desired?.ignore ?? [] }));
      return 0;
    } finally {
      session.close();
    }
  },
};

/**
 * show reads the live state; the config only adds its ignore: list and which veth end created
 * a pair. One that does not load is one note, not its errors ending in "nothing was changed"
 * above a document printed with exit 0.
 */
function desiredForShow(ctx: Context): DesiredState | undefined {
  const r = loadConfig({ dir: ctx.configDir, host: ctx.host, cacheDir: path.join(ctx.stateDir, 'cache') });
  if (r.ok) {
    const note = missingOverlayNote(ctx);
    if (note) ctx.err(note);
    return r.desired;
  }
  const n = r.errors.length;
  ctx.err(`Note: the config in ${ctx.configDir} does not load (${n} error${n === 1 ? '' : 's'}: see \`voltron validate -c ${ctx.configDir}\`); showing the live state without it (no ignore: list applied).`);
  return undefined;
}
