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

export type LoadResult = { ok: true; desired: DesiredState; files: string[] } | { ok: false; errors: ConfigError[]; files: string[] };

const isYaml = (n: string): boolean => /\.ya?ml$/.test(n);
const byName = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/** Load `dir`: top-level *.yaml/*.yml in name order, then hosts/<host>.yaml (or .yml). */
export function loadConfig(opts: { dir: string; host?: string; cacheDir?: string }): LoadResult {
  const host = opts.host ?? os.hostname();
  const fail = (message: string): LoadResult => ({ ok: false, errors: [{ file: opts.dir, line: 1, column: 1, path: '', message }], files: [] });
  if (!/^[A-Za-z0-9_][A-Za-z0-9_.-]*$/.test(host)) return fail(`bad host name '${host}' (used as hosts/<host>.yaml)`);
  let names: string[];
  try {
    names = fs
      .readdirSync(opts.dir, { withFileTypes: true })
      .filter((d) => d.isFile() && isYaml(d.name))
      .map((d) => d.name)
      .sort(byName);
  } catch (err) {
    return fail(`cannot read config directory: ${(err as Error).message}`);
  }
  const overlay = [`${host}.yaml`, `${host}.yml`].map((n) => path.join('hosts', n)).find((n) => fs.existsSync(path.join(opts.dir, n)));
  const rel = overlay ? [...names, overlay] : names;
  if (rel.length === 0) return fail(`no *.yaml files in config directory (refusing an empty desired state)`);
  const files: { name: string; text: string }[] = [];
  for (const n of rel) {
    const full = path.join(opts.dir, n);
    try {
      files.push({ name: full, text: fs.readFileSync(full, 'utf8') });
    } catch (err) {
      return fail(`cannot read ${full}: ${(err as Error).message}`);
    }
  }
  if (opts.cacheDir === undefined) return loadFiles(files, overlay ? path.join(opts.dir, overlay) : undefined, opts.dir);
  const key = configCacheKey(host, files, opts.dir);
  const hit = readCachedConfig(opts.cacheDir, key, host, opts.dir, files);
  if (hit) {
    registerSources(files);
    return { ok: true, desired: hit.desired, files: hit.files };
  }
  const r = loadFiles(files, overlay ? path.join(opts.dir, overlay) : undefined, opts.dir);
  if (r.ok) writeCachedConfig(opts.cacheDir, key, host, opts.dir, r.desired, r.files, files);
  return r;
}

/**
 * Same as loadConfig on in-memory files. Names without '/' are base files (merged in name
 * order); `hosts/<host>.yaml` is the overlay; other names are ignored.
 */
export function loadConfigFromStrings(files: { name: string; text: string }[], host: string = os.hostname()): LoadResult {
  const base = files.filter((f) => !f.name.includes('/') && isYaml(f.name)).sort((a, b) => byName(a.name, b.name));
  const overlay = files.find((f) => f.name === `hosts/${host}.yaml` || f.name === `hosts/${host}.yml`);
  return loadFiles(overlay ? [...base, overlay] : base, overlay?.name);
}

function loadFiles(files: { name: string; text: string }[], overlayName: string | undefined, baseDir?: string): LoadResult {
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
  const ctx = new Ctx(yamls, poison);
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
  return `${e.file}:${e.line}:${e.column}: ${e.path || '/'}: ${e.message}`;
}
