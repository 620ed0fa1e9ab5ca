import fs from 'node:fs';
import path from 'node:path';
import { formatConfigError, loadConfig } from '../../config';
import { isHostName, overlayHosts } from '../../config/load';
import type { Context } from '../common';
import type { Command } from '../main';
import { isPresent } from '../../util/fsx';
import { unsupportedFilters } from '../../apply/preflight';

export const validateCommand: Command = {
  name: 'validate',
  summary: 'Check the config (schema and semantics) without touching the kernel',
  usage: 'voltron validate [-c DIR] [--host NAME]',
  options: [],
  // The state dir holds the cache of valid configs; validate reads no kernel, inventory or journal.
  globals: ['config', 'host', 'state-dir'],
  globalHelp: { 'state-dir': 'where the cache of valid configs is kept (DIR/cache; default: $VOLTRON_STATE_DIR, else /var/lib/voltron)' },
  async run(ctx) {
    const r = loadConfig({ dir: ctx.configDir, host: ctx.host, cacheDir: path.join(ctx.stateDir, 'cache') });
    const shown = new Set<string>();
    if (r.ok) ctx.out(`Config in ${ctx.configDir} is valid: ${counted(r.desired.resources.size, 'object')} in ${counted(r.desired.namespaces.length, 'namespace')}.`);
    if (r.ok) for (const w of unsupportedFilters(r.desired.resources)) ctx.err(`Warning: ${w} (plan and apply refuse it)`);
    else for (const e of r.errors) ctx.err(remember(shown, formatConfigError(e)));
    // A mistyped --host silently means "base only": say which overlay was used (a dangling link counts).
    const overlay = ['yaml', 'yml'].map((ext) => path.join('hosts', `${ctx.host}.${ext}`)).find((f) => isPresent(path.join(ctx.configDir, f)));
    // A bad host name, or a config dir that cannot be listed, is an error of its own (above): no line about its overlay.
    if (isHostName(ctx.host) && isDirectory(ctx.configDir)) ctx.out(overlay ? `Host '${ctx.host}': overlay ${overlay} applied.` : `Host '${ctx.host}': no overlay (hosts/${ctx.host}.yaml): base files only.`);
    const others = checkOtherHosts(ctx, shown);
    const count = shown.size;
    if (count === 0) return 0;
    ctx.err(`${count} error${count === 1 ? '' : 's'} in ${ctx.configDir}${others ? ` (counting every host's overlay)` : ''}; nothing was changed.`);
    return 1;
  },
};

const counted = (n: number, what: string): string => `${n} ${what}${n === 1 ? '' : 's'}`;

function isDirectory(dir: string): boolean {
  try {
    return fs.statSync(dir).isDirectory();
  } catch {
    return false;
  }
}

function remember(shown: Set<string>, line: string): string {
  shown.add(line);
  return line;
}

/**
 * The overlays of the other hosts: a CI job validates the repository on a machine that is none
 * of its hosts, and a broken hosts/<other>.yaml must fail it there, not on that host's next plan.
 * Errors already reported for this host are not repeated. Returns whether there were any others.
 */
function checkOtherHosts(ctx: Context, shown: Set<string>): boolean {
  const hosts = otherHosts(ctx.configDir, ctx.host);
  if (hosts.length === 0) return false;
  const verdicts: string[] = [];
  for (const host of hosts) {
    const r = loadConfig({ dir: ctx.configDir, host });
    if (r.ok) {
      verdicts.push(`${host} (valid)`);
      continue;
    }
    // By the error's file: its message may name the overlay too ("removed by … hosts/h2.yaml").
    const own = new Set(['yaml', 'yml'].map((ext) => path.join(ctx.configDir, 'hosts', `${host}.${ext}`)));
    // An error in a base file that only this overlay causes names the overlay it came with.
    for (const e of r.errors) {
      const l = formatConfigError(e);
      if (shown.has(l)) continue;
      shown.add(l);
      const blame = ` (with hosts/${host}.yaml)`;
      ctx.err(own.has(e.file) || l.endsWith(blame) ? l : `${l}${blame}`);
    }
    verdicts.push(`${host} (${r.errors.length} error${r.errors.length === 1 ? '' : 's'})`);
  }
  ctx.out(`Other host overlays checked: ${verdicts.join(', ')}.`);
  return true;
}

/** Host names with an overlay in hosts/, other than `host`. */
function otherHosts(dir: string, host: string): string[] {
  return overlayHosts(dir).filter((h) => h !== host);
}
