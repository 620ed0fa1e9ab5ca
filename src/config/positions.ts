// Source positions of loaded resources, resolved on demand. A resource carries only its
// file and JSON path; line and column come from `yaml` when a message needs them, so a
// valid config is never parsed twice.
import fs from 'node:fs';
import type { SourceRef } from '../model/types';
import type { YamlFile } from './yamlpos';

const files = new Map<string, YamlFile>();
const texts = new Map<string, string>();

/** Remember the texts a config was loaded from (the cache path registers them too). */
export function registerSources(loaded: readonly { name: string; text: string }[]): void {
  for (const t of loaded) {
    if (files.get(t.name)?.text !== t.text) files.delete(t.name);
    texts.set(t.name, t.text);
  }
}

export function registerYaml(y: YamlFile): void {
  files.set(y.name, y);
}

export function sourcePos(ref: SourceRef): { line: number; column: number } {
  let y = files.get(ref.file);
  if (!y) {
    // Loaded here, not at the top: a valid config from the cache never needs a YAML parser.
    // eslint-disable-next-line @typescript-eslint/no-var-requires
    const { YamlFile: Y } = require('./yamlpos') as typeof import('./yamlpos');
    try {
      y = new Y(ref.file, texts.get(ref.file) ?? fs.readFileSync(ref.file, 'utf8'));
      files.set(ref.file, y);
    } catch {
      return { line: 1, column: 1 };
    }
  }
  return y.pos(ref.path, ref.key === true);
}

/** `file:line:col` of a resource's declaration. */
export function sourceWhere(ref: SourceRef): string {
  const p = sourcePos(ref);
  return `${ref.file}:${p.line}:${p.column}`;
}
