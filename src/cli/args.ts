// Minimal argument parser: `--flag`, `--opt value`, `--opt=value`, `-x value`, `-xvalue`, positionals.

export interface OptionSpec {
  readonly name: string; // long name without dashes
  readonly short?: string;
  readonly value?: string; // placeholder when the option takes a value
  readonly help: string;
  readonly repeat?: boolean;
}

export interface Parsed {
  readonly opts: Map<string, string | true | string[]>;
  readonly positionals: string[];
}

export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

export function parseArgs(argv: readonly string[], specs: readonly OptionSpec[]): Parsed {
  const opts = new Map<string, string | true | string[]>();
  const positionals: string[] = [];
  const byLong = new Map(specs.map((s) => [s.name, s]));
  const byShort = new Map(specs.filter((s) => s.short).map((s) => [s.short!, s]));
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--') {
      positionals.push(...argv.slice(i + 1));
      break;
    }
    let spec: OptionSpec | undefined;
    let inline: string | undefined;
    if (a.startsWith('--')) {
      const eq = a.indexOf('=');
      const name = a.slice(2, eq < 0 ? undefined : eq);
      inline = eq < 0 ? undefined : a.slice(eq + 1);
      spec = byLong.get(name);
      if (!spec) throw new UsageError(`unknown option --${name}`);
    } else if (a.startsWith('-') && a.length > 1) {
      spec = byShort.get(a.slice(1));
      // A short option's value may be attached, as getopt and kubectl take it: -ojson, -o=json, -cDIR.
      const attached = spec ? undefined : byShort.get(a[1]!);
      if (attached?.value) {
        spec = attached;
        inline = a.slice(2).replace(/^=/, '');
      }
      if (!spec) throw new UsageError(`unknown option ${a}`);
    } else {
      positionals.push(a);
      continue;
    }
    if (spec.value) {
      const v = inline ?? valueAfter(argv[++i], spec);
      if (spec.repeat) opts.set(spec.name, [...((opts.get(spec.name) as string[]) ?? []), v]);
      else opts.set(spec.name, v);
    } else {
      if (inline !== undefined) throw new UsageError(`option --${spec.name} takes no value`);
      opts.set(spec.name, true);
    }
  }
  return { opts, positionals };
}

/**
 * The next argument as an option's value. One that looks like an option is not taken: a
 * forgotten value (`apply -c --auto-approve`) would otherwise become a config dir, state dir or
 * host named after the next option, and that option would be lost. No value Voltron takes
 * starts with '-' (a path that does is given as `--config=-dir` or `./-dir`).
 */
function valueAfter(v: string | undefined, spec: OptionSpec): string {
  if (v === undefined) throw new UsageError(`option --${spec.name} needs a value (${spec.value})`);
  if (v.length > 1 && v.startsWith('-')) throw new UsageError(`option --${spec.name} needs a value (${spec.value}), got the option '${v}' (a value starting with '-' is given as --${spec.name}=VALUE)`);
  return v;
}

export function str(p: Parsed, name: string): string | undefined {
  const v = p.opts.get(name);
  return typeof v === 'string' ? v : undefined;
}

export function flag(p: Parsed, name: string): boolean {
  return p.opts.get(name) === true;
}

export function formatOptions(specs: readonly OptionSpec[]): string {
  const rows = specs.map((s) => [`${s.short ? `-${s.short}, ` : '    '}--${s.name}${s.value ? ` ${s.value}` : ''}`, s.help] as const);
  const w = Math.max(...rows.map(([l]) => l.length));
  return rows.map(([l, h]) => `  ${l.padEnd(w)}  ${h}`).join('\n');
}
