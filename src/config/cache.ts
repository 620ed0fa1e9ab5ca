// A cache of successfully loaded configs, keyed by a hash of everything that determines the
// result (Voltron version, schema, host, file names and contents). The file name is a cheap
// hash of a sample of those; a hit compares them all exactly (a cache file records them), so
// two configs that share a name only evict each other, never mix. A no-op plan of a large
// config then skips YAML parsing, schema validation and normalisation (~1 s at 3000 objects).
// Only valid configs are cached: errors are always recomputed with their positions.
import fs from 'node:fs';
import path from 'node:path';
import type { DesiredState, Resource, SrhPool } from '../model/types';
import { configSchemaJson } from './schema-json';
import { hash64, sampleOf } from '../util/hash';
import { ensureDir, removeQuietly } from '../util/fsx';
import { VERSION } from '../util/version';

const KEEP = 4;

type Source = { readonly name: string; readonly text: string };

/**
 * This build of the loader: a rebuild with the same version (a git pull, development) may check
 * configs differently, so a cache written by another build is not trusted. One stat per load.
 */
let build: string | undefined;
function buildId(): string {
  if (build === undefined) {
    try {
      const st = fs.statSync(__filename);
      build = `${st.mtimeMs}:${st.size}`;
    } catch {
      build = '';
    }
  }
  return build;
}

/** What, besides the files, determines the loaded result. */
function stampOf(host: string, baseDir: string | undefined): string {
  return JSON.stringify([VERSION, buildId(), host, baseDir ? path.resolve(baseDir) : '']) + configSchemaJson();
}

export function configCacheKey(host: string, files: readonly Source[], baseDir: string | undefined): string {
  const parts = [VERSION, buildId(), host, baseDir ? path.resolve(baseDir) : '', sampleOf(configSchemaJson())];
  for (const f of files) parts.push(f.name, sampleOf(f.text));
  return hash64(parts);
}

interface Serialised {
  resources: [string, Resource][];
  pools: [string, SrhPool][];
  ignore: string[];
  namespaces: string[];
  files: string[];
  /** What it was loaded from (stampOf, and the files), compared on a hit. */
  stamp: string;
  sources: [string, string][];
}

export function readCachedConfig(cacheDir: string, key: string, host: string, baseDir: string | undefined, sources: readonly Source[]): { desired: DesiredState; files: string[] } | undefined {
  try {
    const s = JSON.parse(fs.readFileSync(path.join(cacheDir, `config-${key}.json`), 'utf8')) as Serialised;
    if (s.stamp !== stampOf(host, baseDir) || s.sources.length !== sources.length || s.sources.some(([n, t], i) => n !== sources[i]!.name || t !== sources[i]!.text)) return undefined;
    return { desired: { resources: new Map(s.resources), pools: new Map(s.pools), ignore: s.ignore, namespaces: s.namespaces }, files: s.files };
  } catch {
    return undefined;
  }
}

export function writeCachedConfig(cacheDir: string, key: string, host: string, baseDir: string | undefined, desired: DesiredState, files: string[], sources: readonly Source[]): void {
  try {
    ensureDir(cacheDir, 0o700);
    const s: Serialised = { resources: [...desired.resources], pools: [...desired.pools], ignore: [...desired.ignore], namespaces: [...desired.namespaces], files, stamp: stampOf(host, baseDir), sources: sources.map((f) => [f.name, f.text]) };
    const target = path.join(cacheDir, `config-${key}.json`);
    const tmp = `${target}.${process.pid}.tmp`;
    try {
      fs.writeFileSync(tmp, JSON.stringify(s));
    } catch (e) {
      removeQuietly(tmp); // a partial file (disk full) would stay and take the space
      throw e;
    }
    fs.renameSync(tmp, target);
    const old = fs
      .readdirSync(cacheDir)
      .filter((n) => /^config-[0-9a-f]+\.json$/.test(n))
      .map((n) => ({ n, t: fs.statSync(path.join(cacheDir, n)).mtimeMs }))
      .sort((a, b) => b.t - a.t)
      .slice(KEEP);
    for (const o of old) fs.rmSync(path.join(cacheDir, o.n), { force: true });
  } catch {
    // a cache is an optimisation: failing to write one is not an error
  }
}
