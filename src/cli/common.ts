// Options and setup shared by commands: config loading, session, state dir, output.
import { setCapabilityCache } from '../kernel/capabilities';
import { setSysctlVerdictCache } from '../kernel/sysctl-verdicts';
import os from 'node:os';
import path from 'node:path';
import { loadConfig, formatConfigError } from '../config';
import { hasOverlay, overlayHosts } from '../config/load';
import type { DesiredState } from '../model/types';
import { KernelSession } from '../kernel/session';
import { loadInventory, stateDirFor } from '../apply/inventory';
import type { Inventory } from '../plan/types';
import { flag, str, UsageError, type OptionSpec, type Parsed } from './args';
import { setAllowMapReset } from '../kernel/bpf/exec';

export const GLOBAL_OPTIONS: OptionSpec[] = [
  { name: 'config', short: 'c', value: 'DIR', help: 'config directory (default: .)' },
  { name: 'host', value: 'NAME', help: 'host overlay hosts/<NAME>.yaml (default: this machine\'s hostname)' },
  { name: 'state-dir', value: 'DIR', help: 'inventory, journal and lock directory (default: $VOLTRON_STATE_DIR, else /var/lib/voltron; with --sandbox, DIR/sandbox/PREFIX)' },
  { name: 'sandbox', value: 'PREFIX', help: 'map the root and every declared namespace onto Voltron-owned namespaces named PREFIX<name> (default: $VOLTRON_SANDBOX, else none)' },
  { name: 'no-color', help: 'plain output even on a terminal (as does a non-empty NO_COLOR)' },
  { name: 'help', short: 'h', help: 'show help for this command' },
  { name: 'version', short: 'V', help: "print Voltron's version and exit" },
  { name: 'no-recover', help: 'do not roll back an unfinished apply found in the state dir (apply/destroy then refuse)' },
  { name: 'allow-map-reset', help: 'let a bpf update replace pinned maps whose type/key/value size changed (their contents are lost)' },
];

/** The global options a command may use (-h and -V apply to every one). */
export type GlobalOption = 'config' | 'host' | 'state-dir' | 'sandbox' | 'no-color' | 'no-recover' | 'allow-map-reset';

/**
 * What a command's --help lists of the global options: those it uses (with its own wording
 * where the global one would mislead), then -h and -V.
 */
export function globalsOf(names: readonly GlobalOption[], help: Partial<Record<GlobalOption, string>> = {}): OptionSpec[] {
  const used = new Set<string>(names);
  const own = GLOBAL_OPTIONS.filter((o) => used.has(o.name)).map((o) => ({ ...o, help: help[o.name as GlobalOption] ?? o.help }));
  return [...own, ...GLOBAL_OPTIONS.filter((o) => o.name === 'help' || o.name === 'version')];
}

export interface Context {
  readonly configDir: string;
  readonly host: string;
  readonly stateDir: string;
  readonly sandbox: string | undefined;
  /** The command-line options that chose this state dir (` --sandbox P --state-dir D`, or ''), for commands we tell the user to run. */
  readonly stateArgs: string;
  readonly color: boolean;
  readonly out: (s: string) => void;
  readonly err: (s: string) => void;
}

/** An environment variable set to '' counts as unset (as NO_COLOR does). */
const envValue = (name: string): string | undefined => process.env[name] || undefined;

/** A directory option given as '' is refused: it would be the current directory, unnoticed. */
function dirOption(p: Parsed, name: string): string | undefined {
  const v = str(p, name);
  if (v === '') throw new UsageError(`--${name}: an empty directory name (use . for the current directory)`);
  return v;
}

/** A word as the shell reads it back: quoted only when it needs to be. */
const shellWord = (w: string): string => (/^[\w./:=+-]+$/.test(w) ? w : `'${w.replace(/'/g, `'\\''`)}'`);

/**
 * The options a follow-up command (`voltron confirm`) needs to find the same state dir. Only
 * those given on the command line: VOLTRON_SANDBOX / VOLTRON_STATE_DIR are in the user's shell.
 */
function stateArgsOf(p: Parsed): string {
  const args: string[] = [];
  for (const name of ['sandbox', 'state-dir']) {
    const v = str(p, name);
    if (v !== undefined) args.push(` --${name} ${shellWord(v)}`);
  }
  return args.join('');
}

export function makeContext(p: Parsed): Context {
  setAllowMapReset(flag(p, 'allow-map-reset'));
  const sandbox = str(p, 'sandbox') ?? envValue('VOLTRON_SANDBOX');
  // Not starting with '.' or '-', like namespace names: the prefix starts every namespace name,
  // and its state dir is <state-dir>/sandbox/PREFIX ('..' would be the host's own state dir).
  if (sandbox !== undefined && !/^[A-Za-z0-9_][A-Za-z0-9_.-]{0,39}$/.test(sandbox)) {
    throw new UsageError(`--sandbox '${sandbox}': a prefix of 1 to 40 letters, digits, '-', '_' or '.', not starting with '.' or '-' (namespaces are named PREFIX<name>)`);
  }
  // An empty state dir would put the inventory and its cache in the current directory.
  const base = dirOption(p, 'state-dir') ?? envValue('VOLTRON_STATE_DIR') ?? '/var/lib/voltron';
  return {
    configDir: dirOption(p, 'config') ?? '.',
    host: str(p, 'host') ?? os.hostname(),
    stateDir: stateDirFor(base, sandbox),
    sandbox,
    stateArgs: stateArgsOf(p),
    // A terminal that says it has no capabilities (TERM=dumb: Emacs shells, some CI consoles) gets none.
    color: !flag(p, 'no-color') && !process.env.NO_COLOR && process.env.TERM !== 'dumb' && process.stdout.isTTY === true,
    out: (s) => process.stdout.write(s.endsWith('\n') ? s : `${s}\n`),
    err: (s) => process.stderr.write(s.endsWith('\n') ? s : `${s}\n`),
  };
}

/** Load and validate the config; on errors print every one and return undefined. */
export function loadDesired(ctx: Context): DesiredState | undefined {
  const r = loadConfig({ dir: ctx.configDir, host: ctx.host, cacheDir: path.join(ctx.stateDir, 'cache') });
  if (r.ok) {
    const note = missingOverlayNote(ctx);
    if (note) ctx.err(note);
    return r.desired;
  }
  for (const e of r.errors) ctx.err(formatConfigError(e));
  ctx.err(`${r.errors.length} error${r.errors.length === 1 ? '' : 's'} in ${ctx.configDir}; nothing was changed.`);
  return undefined;
}

/**
 * Other hosts have overlays, this one none: most likely a mistyped --host (or a renamed
 * machine), and the plan then deletes what its overlay declared. Said on stderr, as validate says it.
 */
export function missingOverlayNote(ctx: Pick<Context, 'configDir' | 'host'>): string | undefined {
  if (hasOverlay(ctx.configDir, ctx.host)) return undefined;
  const hosts = overlayHosts(ctx.configDir);
  if (hosts.length === 0) return undefined;
  const shown = hosts.length > 10 ? `${hosts.slice(0, 10).join(', ')}, …` : hosts.join(', ');
  return `Note: host '${ctx.host}' has no overlay (hosts/${ctx.host}.yaml); using the base files only. Overlays exist for: ${shown}.`;
}

export function openSession(ctx: Context): KernelSession {
  // What the kernel supports is asked once per boot, not at every plan (/proc/kallsyms is slow).
  setCapabilityCache(path.join(ctx.stateDir, 'cache', 'kernel-features.json'));
  // What a new namespace says of declared sysctls, per boot: a plan need not make one each time.
  setSysctlVerdictCache(path.join(ctx.stateDir, 'cache', 'sysctl-verdicts.json'));
  return new KernelSession(ctx.sandbox === undefined ? {} : { sandbox: ctx.sandbox });
}

export function inventoryOf(ctx: Context): Inventory {
  return loadInventory(ctx.stateDir);
}
