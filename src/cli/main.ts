// voltron CLI entry: dispatch to commands; every command has --help.
import { UsageError, formatOptions, parseArgs, str, type OptionSpec, type Parsed } from './args';
import { GLOBAL_OPTIONS, globalsOf, makeContext, type Context, type GlobalOption } from './common';
import { COMMANDS } from './commands';
import { versionLine } from './cmd/version';
import { privilegeError } from './privileges';
import { PlanRefused } from '../apply/reconcile';
import '../kernel/tc/register';
import { mark } from '../util/timing';

export interface Command {
  readonly name: string;
  readonly summary: string;
  readonly usage: string;
  readonly options: readonly OptionSpec[];
  /**
   * The global options that change what this command does (its --help lists those, with
   * -h and -V); the others are accepted and ignored, so one set of options serves every command.
   */
  readonly globals: readonly GlobalOption[];
  /** This command's wording of a global option's help, where the global one would mislead. */
  readonly globalHelp?: Partial<Record<GlobalOption, string>>;
  readonly needsConfig?: boolean;
  /** Reads or changes the kernel: refused up front without the capabilities for it. */
  readonly needsRoot?: boolean;
  run(ctx: Context, args: Parsed): Promise<number>;
}

function topHelp(): string {
  const w = Math.max(...COMMANDS.map((c) => c.name.length));
  return [
    'voltron: declarative reconciler for Linux host networking (namespaces, links, addresses, routes, rules, sysctls, SRv6, tc, BPF)',
    '',
    'Usage: voltron <command> [options]',
    '',
    'Commands:',
    ...COMMANDS.map((c) => `  ${c.name.padEnd(w)}  ${c.summary}`),
    '',
    'Global options:',
    formatOptions(GLOBAL_OPTIONS),
    '',
    'Run `voltron <command> --help` for a command\'s options.',
  ].join('\n');
}

/**
 * Options may come before the command: `voltron -c DIR --sandbox P plan`. The values of every
 * command's options are skipped too: `voltron -o json plan` took `json` for the command.
 */
function splitCommand(argv: readonly string[]): [string | undefined, string[]] {
  const specs = [...GLOBAL_OPTIONS, ...COMMANDS.flatMap((c) => c.options)];
  const takesValue = new Set(specs.filter((o) => o.value).flatMap((o) => [`--${o.name}`, ...(o.short ? [`-${o.short}`] : [])]));
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (!a.startsWith('-')) return [a, [...argv.slice(0, i), ...argv.slice(i + 1)]];
    if (takesValue.has(a)) i++;
  }
  return [argv.find((a) => HELP.has(a) || VERSION_FLAGS.has(a)), []];
}

const HELP = new Set(['--help', '-h']);
const VERSION_FLAGS = new Set(['--version', '-V']);

/** Edit distance, for "did you mean": commands are short, so the quadratic table is nothing. */
function distance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) row.push(Math.min(prev[j]! + 1, row[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1)));
    prev = row;
  }
  return prev[b.length]!;
}

/**
 * A usage error without a command: one line saying what was wrong and where help is, as git
 * and terraform do, not the whole help (the reason scrolled off above it). A mistyped command
 * gets the nearest one.
 */
function noCommandError(reason: string, typed?: string): string {
  const near = typed === undefined ? undefined : COMMANDS.map((c) => c.name).find((n) => distance(typed, n) <= 2 || (typed.length >= 3 && n.startsWith(typed)));
  const hint = near ? ` (did you mean '${near}'?)` : '';
  return `voltron: ${reason}${hint}\nRun 'voltron --help' for the list of commands and options.\n`;
}

/** Why a command line names no command: an option no command has, or none given at all. */
function noCommandReason(argv: readonly string[]): string {
  const known = new Set([...GLOBAL_OPTIONS, ...COMMANDS.flatMap((c) => c.options)].flatMap((o) => [`--${o.name}`, ...(o.short ? [`-${o.short}`] : [])]));
  const unknown = argv.find((a) => a.startsWith('-') && !known.has(a.split('=')[0]!));
  if (unknown !== undefined) return `unknown option ${unknown.split('=')[0]}`;
  return 'no command given';
}

/**
 * A reader that goes away (`voltron plan -o json | head -c 100`, a closed SSH pipe) must not
 * crash the command with an unhandled EPIPE, least of all an apply or a rollback mid-way: the
 * rest of the output is dropped and the command finishes with its own exit code.
 */
function ignoreBrokenPipes(): void {
  for (const stream of [process.stdout, process.stderr]) {
    stream.on('error', (e: NodeJS.ErrnoException) => {
      if (e.code !== 'EPIPE' && e.code !== 'ERR_STREAM_DESTROYED') throw e;
    });
  }
}

export async function main(argv: readonly string[]): Promise<number> {
  mark('start-up and module loading');
  ignoreBrokenPipes();
  const [given, rest] = splitCommand(argv);
  // `voltron help plan` is `voltron plan --help`.
  const helpFor = given === 'help' ? COMMANDS.find((c) => c.name === rest[0]) : undefined;
  // `voltron help bogus` is an unknown command, as `voltron bogus` is.
  const name = helpFor?.name ?? (given === 'help' && rest[0] !== undefined && !rest[0].startsWith('-') ? rest[0] : given);
  if (name !== undefined && VERSION_FLAGS.has(name)) {
    process.stdout.write(`${versionLine()}\n`);
    return 0;
  }
  if (!name || HELP.has(name) || name === 'help') {
    // Asked for: help on stdout, exit 0. A bare `voltron`: the help on stderr, exit 1. Options
    // but no command: a usage error saying what was wrong.
    if (name) process.stdout.write(`${topHelp()}\n`);
    else if (argv.length === 0) process.stderr.write(`${topHelp()}\n`);
    else process.stderr.write(noCommandError(noCommandReason(argv)));
    return name ? 0 : 1;
  }
  const cmd = COMMANDS.find((c) => c.name === name);
  if (!cmd) {
    process.stderr.write(noCommandError(`unknown command "${name}"`, name));
    return 1;
  }
  const specs = [...cmd.options, ...GLOBAL_OPTIONS];
  let parsed: Parsed;
  try {
    parsed = helpFor ? parseArgs(['--help'], specs) : parseArgs(rest, specs);
    // No command takes arguments: `voltron plan ./cfg` would otherwise plan the current
    // directory's config (and an apply prune what ./cfg declares).
    const [extra] = parsed.positionals;
    if (extra !== undefined) throw new UsageError(`unexpected argument '${extra}' (the config directory is given with -c DIR)`);
  } catch (e) {
    if (e instanceof UsageError) {
      process.stderr.write(`voltron ${cmd.name}: ${e.message}\nUsage: ${cmd.usage}\nRun 'voltron ${cmd.name} --help' for its options.\n`);
      return 1;
    }
    throw e;
  }
  if (parsed.opts.get('help')) {
    process.stdout.write(`${cmd.summary}\n\nUsage: ${cmd.usage}\n\nOptions:\n${formatOptions([...cmd.options, ...globalsOf(cmd.globals, cmd.globalHelp)])}\n`);
    return 0;
  }
  if (parsed.opts.get('version')) {
    process.stdout.write(`${versionLine()}\n`);
    return 0;
  }
  const sandbox = (str(parsed, 'sandbox') ?? process.env.VOLTRON_SANDBOX ?? '') !== '';
  const unprivileged = cmd.needsRoot ? privilegeError(cmd.name, sandbox) : undefined;
  if (unprivileged) {
    process.stderr.write(`${unprivileged}\n`);
    return 1;
  }
  let ctx: Context;
  try {
    ctx = makeContext(parsed);
  } catch (e) {
    if (e instanceof UsageError) {
      process.stderr.write(`voltron ${cmd.name}: ${e.message}\n`);
      return 1;
    }
    throw e;
  }
  try {
    return await cmd.run(ctx, parsed);
  } catch (e) {
    const err = e as Error;
    // A refused plan is a verdict, not a crash: its message lists the problems as is.
    if (e instanceof PlanRefused) {
      ctx.err(err.message);
      return 1;
    }
    ctx.err(`Error: ${err.message}`);
    if (process.env.VOLTRON_DEBUG) ctx.err(err.stack ?? '');
    return 1;
  }
}
