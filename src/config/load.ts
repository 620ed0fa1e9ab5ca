// Config directory → files → YAML → schema → merge → semantic checks → DesiredState.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { DesiredState } from '../model/types';
import type { FileInput } from './merge';
import type { ConfigError } from './types';
import type { YamlFile } from './yamlpos';
import { configCacheKey, readCachedConfig, writeCachedConfig } from './cache';
import { registerSources } from './positions';
import { visible } from '../util/visible';
import { isPresent } from '../util/fsx';

/** A file's text; `badUtf8` where it is not UTF-8, `unreadable` (why) where it cannot be read (then `text` is empty). */
type SourceFile = { name: string; text: string; badUtf8?: { line: number; column: number }; unreadable?: string };

export type LoadResult = { ok: true; desired: DesiredState; files: string[] } | { ok: false; errors: ConfigError[]; files: string[] };

// Hidden files are not config, as for the shell's `*.yaml`: a repository's `.pre-commit-config.yaml`
// or `.sops.yaml`, an editor's temporary or lock file (Emacs leaves a dangling `.#net.yaml` link).
const isConfigName = (n: string): boolean => !n.startsWith('.') && /\.ya?ml$/.test(n);
// Byte order of the UTF-8 names, as `ls` in the C locale and git list them (a JavaScript string
// comparison orders UTF-16 code units, which differs for characters beyond the BMP).
const byName = (a: string, b: string): number => Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));

/** A host name usable as hosts/<host>.yaml. */
export function isHostName(host: string): boolean {
  return /^[A-Za-z0-9_][A-Za-z0-9_.-]*$/.test(host);
}

/** The hosts with an overlay in `dir`/hosts (sorted, each once); none without that directory. */
export function overlayHosts(dir: string): string[] {
  let names: string[];
  try {
    names = fs.readdirSync(path.join(dir, 'hosts'));
  } catch {
    return [];
  }
  const hosts = names.map((n) => /^(.+)\.ya?ml$/.exec(n)?.[1]).filter((h): h is string => h !== undefined && isHostName(h));
  return [...new Set(hosts)].sort();
}

/** Whether `dir` has an overlay for `host` (a dangling link counts: it is an overlay that cannot be read). */
export function hasOverlay(dir: string, host: string): boolean {
  return [`${host}.yaml`, `${host}.yml`].some((n) => isPresent(path.join(dir, 'hosts', n)));
}

/** Why the config directory cannot be listed, and what to do: the first error a new user meets. */
function unreadableDirMessage(dir: string, err: NodeJS.ErrnoException): string {
  if (err.code === 'ENOENT') return `cannot read config directory: '${dir}' does not exist (give the config directory with -c DIR; default: the current directory)`;
  if (err.code === 'ENOTDIR') return `cannot read config directory: '${dir}' is a file, not a directory (-c takes the directory holding the *.yaml files: ${path.dirname(dir)})`;
  return `cannot read config directory: ${err.message}`;
}

/** What to do about a config dir without YAML: a subdirectory that has some is likely the one meant. */
function emptyDirHint(dir: string): string {
  let subs: string[] = [];
  try {
    subs = fs
      .readdirSync(dir, { withFileTypes: true })
      .filter((d) => d.isDirectory() && d.name !== 'hosts' && !d.name.startsWith('.'))
      .map((d) => d.name)
      .filter((n) => {
        try {
          return fs.readdirSync(path.join(dir, n)).some(isConfigName);
        } catch {
          return false;
        }
      })
      .sort(byName);
  } catch {
    // unreadable: no hint
  }
  if (subs.length === 1) return `${subs[0]}/ has some: use -c ${path.join(dir, subs[0]!)}`;
  if (subs.length > 1) return `${subs.map((n) => `${n}/`).join(', ')} have some: give one of them with -c DIR`;
  return 'give the config directory with -c DIR (default: the current directory)';
}

/** Load `dir`: top-level *.yaml/*.yml in name order, then hosts/<host>.yaml (or .yml). */

export function loadConfig(opts: { dir: string; host?: string; cacheDir?: string }): LoadResult {
  const host = opts.host ?? os.hostname();
  const fail = (message: string): LoadResult => ({ ok: false, errors: [{ file: opts.dir, line: 1, column: 1, path: '', message }], files: [] });
  if (!isHostName(host)) return fail(`bad host name '${host}' (used as hosts/<host>.yaml)`);
  let names: string[];
  const dangling: string[] = [];
  try {
    names = fs
      .readdirSync(opts.dir, { withFileTypes: true })
      .filter((d) => {
        if (!isConfigName(d.name)) return false;
        if (d.isFile()) return true;
        if (!d.isSymbolicLink()) return false;
        const behind = fileBehindLink(path.join(opts.dir, d.name));
        if (behind === 'missing') dangling.push(d.name);
        return behind === 'file';
      })
      .map((d) => d.name)
      .sort(byName);
  } catch (err) {
    return fail(unreadableDirMessage(opts.dir, err as NodeJS.ErrnoException));
  }
  // Skipped, what the file declares would be pruned: refuse instead.
  if (dangling.length > 0) return { ok: false, errors: dangling.sort(byName).map((n) => danglingError(path.join(opts.dir, n))), files: [] };
  // lstat, not exists: a dangling hosts/<host>.yaml link is an overlay that cannot be read, not none.
  const overlays = [`${host}.yaml`, `${host}.yml`].map((n) => path.join('hosts', n)).filter((n) => isPresent(path.join(opts.dir, n)));
  // Two overlays for one host would leave one silently unused.
  if (overlays.length > 1)
    return { ok: false, errors: [{ file: path.join(opts.dir, overlays[1]!), line: 1, column: 1, path: '', message: `${overlays[0]} exists too: keep one overlay for host '${host}'` }], files: [] };
  const overlay = overlays[0];
  const rel = overlay ? [...names, overlay] : names;
  // An empty desired state would delete everything owned: refused, and the way to do that named.
  if (rel.length === 0) return fail(`no *.yaml or *.yml files in config directory ${opts.dir}: ${emptyDirHint(opts.dir)}; to remove everything Voltron owns, run 'voltron destroy'`);
  const files: SourceFile[] = [];
  for (const n of rel) {
    const full = path.join(opts.dir, n);
    let bytes: Buffer;
    try {
      bytes = fs.readFileSync(full);
    } catch (err) {
      if (fileBehindLink(full) === 'missing') return { ok: false, errors: [danglingError(full)], files: [] };
      // An error of that file (not of the directory), reported with the other files' errors.
      files.push({ name: full, text: '', unreadable: `cannot read this file: ${(err as Error).message}` });
      continue;
    }
    const text = decodeUtf8(bytes);
    files.push(typeof text === 'string' ? { name: full, text } : { name: full, text: '', badUtf8: text });
  }
  const overlayPath = overlay ? path.join(opts.dir, overlay) : undefined;
  // A file that is not UTF-8 (or not read) has no text to match a cached config by.
  if (opts.cacheDir === undefined || files.some((f) => f.badUtf8 || f.unreadable)) return withOverlayBlame(loadFiles(files, overlayPath, opts.dir), files, overlayPath, opts.dir);
  const key = configCacheKey(host, files, opts.dir);
  const hit = readCachedConfig(opts.cacheDir, key, host, opts.dir, files);
  if (hit) {
    registerSources(files);
    return { ok: true, desired: hit.desired, files: hit.files };
  }
  const r = loadFiles(files, overlayPath, opts.dir);
  if (r.ok) writeCachedConfig(opts.cacheDir, key, host, opts.dir, r.desired, r.files, files);
  return withOverlayBlame(r, files, overlayPath, opts.dir);
}

const errorId = (e: ConfigError): string => `${e.file}:${e.line}:${e.column}:${e.path}:${e.message}`;

/**
 * An error in a base file that the base files alone do not have comes from the overlay (it
 * replaced or removed what the base file refers to): say so, as `validate` does for the other
 * hosts' overlays. Otherwise `master 'br0' is a macvlan` points at a base file declaring br0 a bridge.
 */
function withOverlayBlame(r: LoadResult, files: SourceFile[], overlayPath: string | undefined, dir: string): LoadResult {
  if (r.ok || overlayPath === undefined) return r;
  const base = loadFiles(files.filter((f) => f.name !== overlayPath), undefined, dir);
  const alone = new Set(base.ok ? [] : base.errors.map(errorId));
  const blame = ` (with ${path.relative(dir, overlayPath)})`;
  const named = (e: ConfigError): boolean => e.file === overlayPath || e.message.includes(overlayPath); // "(removed by … hosts/h1.yaml:2:5)"
  const errors = r.errors.map((e) => (named(e) || alone.has(errorId(e)) ? e : { ...e, message: `${e.message}${blame}` }));
  return { ...r, errors };
}

/** A symlinked config file counts like a plain one (skipping it would prune what it declares). */
function fileBehindLink(p: string): 'file' | 'other' | 'missing' {
  try {
    return fs.statSync(p).isFile() ? 'file' : 'other';
  } catch {
    return 'missing';
  }
}

function danglingError(p: string): ConfigError {
  let target = '?';
  try {
    target = fs.readlinkSync(p);
  } catch {
    // raced away: the message still names the link
  }
  return { file: p, line: 1, column: 1, path: '', message: `symbolic link to '${target}', which does not exist: skipping it would leave what it declares undeclared (and pruned)` };
}

const UTF8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
/** Decodes the text before a bad byte on its line: a leading BOM is no column (editors do not show it). */
const COLUMNS = new TextDecoder('utf-8');

/** The text of a UTF-8 file (a BOM is kept: YAML skips it), or the position of its first bad byte. */
function decodeUtf8(b: Buffer): string | { line: number; column: number } {
  try {
    return UTF8.decode(b);
  } catch {
    return firstBadUtf8(b);
  }
}

function firstBadUtf8(b: Buffer): { line: number; column: number } {
  let line = 1;
  let start = 0; // byte offset of the current line
  for (let i = 0; i < b.length; ) {
    // Lines end at LF, CRLF or a lone CR, as YAML's (yamlpos.ts).
    if (b[i] === 0x0a || (b[i] === 0x0d && b[i + 1] !== 0x0a)) {
      line++;
      start = ++i;
      continue;
    }
    const n = utf8SeqLength(b, i);
    // Columns count characters (code points), as every other error's (yamlpos.ts).
    if (n === 0) return { line, column: [...COLUMNS.decode(b.subarray(start, i))].length + 1 };
    i += n;
  }
  return { line: 1, column: 1 };
}

/** Length of the well-formed UTF-8 sequence at `i` (RFC 3629: no overlongs or surrogates), or 0. */
function utf8SeqLength(b: Buffer, i: number): number {
  const c = b[i]!;
  if (c < 0x80) return 1;
  const cont = (k: number, lo = 0x80, hi = 0xbf): boolean => i + k < b.length && b[i + k]! >= lo && b[i + k]! <= hi;
  if (c >= 0xc2 && c <= 0xdf) return cont(1) ? 2 : 0;
  if (c >= 0xe0 && c <= 0xef) {
    const [lo, hi] = c === 0xe0 ? [0xa0, 0xbf] : c === 0xed ? [0x80, 0x9f] : [0x80, 0xbf];
    return cont(1, lo, hi) && cont(2) ? 3 : 0;
  }
  if (c >= 0xf0 && c <= 0xf4) {
    const [lo, hi] = c === 0xf0 ? [0x90, 0xbf] : c === 0xf4 ? [0x80, 0x8f] : [0x80, 0xbf];
    return cont(1, lo, hi) && cont(2) && cont(3) ? 4 : 0;
  }
  return 0;
}

/**
 * Same as loadConfig on in-memory files. Names without '/' (and not hidden) are base files (merged in name
 * order); `hosts/<host>.yaml` is the overlay; other names are ignored.
 */
export function loadConfigFromStrings(files: { name: string; text: string }[], host: string = os.hostname()): LoadResult {
  const base = files.filter((f) => !f.name.includes('/') && isConfigName(f.name)).sort((a, b) => byName(a.name, b.name));
  const overlay = files.find((f) => f.name === `hosts/${host}.yaml` || f.name === `hosts/${host}.yml`);
  return loadFiles(overlay ? [...base, overlay] : base, overlay?.name);
}

function loadFiles(files: SourceFile[], overlayName: string | undefined, baseDir?: string): LoadResult {
  // Required here, not at the top: a cached config never loads yaml and ajv (~250 ms of startup).
  /* eslint-disable @typescript-eslint/no-var-requires */
  const { Ctx } = require('./ctx') as typeof import('./ctx');
  const { mergeFiles, newPoison } = require('./merge') as typeof import('./merge');
  const { normalise } = require('./normalise') as typeof import('./normalise');
  const { validateSchema } = require('./schema') as typeof import('./schema');
  const { YamlFile } = require('./yamlpos') as typeof import('./yamlpos');
  const { registerYaml } = require('./positions') as typeof import('./positions');
  /* eslint-enable @typescript-eslint/no-var-requires */
  const errors: ConfigError[] = [];
  const poison = newPoison();
  const inputs: FileInput[] = [];
  const yamls = new Map<string, YamlFile>();
  for (const f of files) {
    if (f.badUtf8 || f.unreadable) {
      const message = f.unreadable ?? 'not valid UTF-8 (a config file must be UTF-8 text)';
      errors.push({ file: f.name, ...(f.badUtf8 ?? { line: 1, column: 1 }), path: '', message });
      poison.all = true;
      continue;
    }
    const y = new YamlFile(f.name, f.text);
    yamls.set(f.name, y);
    registerYaml(y);
    const loaded = y.load();
    if (loaded.errors) {
      // The file's content is unknown: report its syntax errors, keep checking the others,
      // and stop reference checks from blaming things it may have declared.
      errors.push(...loaded.errors);
      poison.all = true;
      continue;
    }
    const data = loaded.value ?? {};
    const { errors: schemaErrors, bad } = validateSchema(y, data);
    errors.push(...schemaErrors);
    if (bad.includes('')) {
      poison.all = true;
      continue;
    }
    inputs.push({ yaml: y, data, bad, overlay: f.name === overlayName });
  }
  const merged = mergeFiles(inputs, poison, errors);
  const ctx = new Ctx(yamls, poison, merged.removed);
  const desired = normalise(ctx, merged, baseDir);
  errors.push(...ctx.errors);
  const names = files.map((f) => f.name);
  if (errors.length === 0) return { ok: true, desired, files: names };
  const order = new Map(names.map((n, i) => [n, i]));
  errors.sort((a, b) => (order.get(a.file) ?? 0) - (order.get(b.file) ?? 0) || a.line - b.line || a.column - b.column);
  return { ok: false, errors, files: names };
}

/** `file:line:col: path: message`; the document itself (path '') shows as `/`. */
export function formatConfigError(e: ConfigError): string {
  return visible(`${e.file}:${e.line}:${e.column}: ${e.path || '/'}: ${e.message}`);
}
