// A cache of successfully loaded configs, keyed by a hash of everything that determines the
// result (Voltron version, schema, host, file names and contents). A no-op plan of a large
// config then skips YAML parsing, schema validation and normalisation (~1 s at 3000 objects).
// Only valid configs are cached: errors are always recomputed with their positions.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { DesiredState, Resource, SrhPool } from '../model/types';
import { CONFIG_SCHEMA } from './schema-json';

// eslint-disable-next-line @typescript-eslint/no-var-requires
const VERSION: string = (require('../../../package.json') as { version: string }).version;
const SCHEMA_HASH = crypto.createHash('sha256').update(JSON.stringify(CONFIG_SCHEMA)).digest('hex');
const KEEP = 4;

export function configCacheKey(host: string, files: readonly { name: string; text: string }[], baseDir: string | undefined): string {
  const h = crypto.createHash('sha256').update(`${VERSION}\0${SCHEMA_HASH}\0${host}\0${baseDir ? path.resolve(baseDir) : ''}\0`);
  for (const f of files) h.update(`${f.name}\0${f.text.length}\0`).update(f.text);
  return h.digest('hex').slice(0, 40);
}

interface Serialised {
  resources: [string, Resource][];
  pools: [string, SrhPool][];
  ignore: string[];
  namespaces: string[];
  files: string[];
}

export function readCachedConfig(cacheDir: string, key: string): { desired: DesiredState; files: string[] } | undefined {
  try {
    const s = JSON.parse(fs.readFileSync(path.join(cacheDir, `config-${key}.json`), 'utf8')) as Serialised;
    return { desired: { resources: new Map(s.resources), pools: new Map(s.pools), ignore: s.ignore, namespaces: s.namespaces }, files: s.files };
  } catch {
    return undefined;
  }
}

export function writeCachedConfig(cacheDir: string, key: string, desired: DesiredState, files: string[]): void {
  try {
    fs.mkdirSync(cacheDir, { recursive: true, mode: 0o700 });
    const s: Serialised = { resources: [...desired.resources], pools: [...desired.pools], ignore: [...desired.ignore], namespaces: [...desired.namespaces], files };
    const target = path.join(cacheDir, `config-${key}.json`);
    const tmp = `${target}.${process.pid}.tmp`;
    fs.writeFileSync(tmp, JSON.stringify(s));
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
