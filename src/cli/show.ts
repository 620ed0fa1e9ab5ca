// Live state rendered in the config format, so it can be used as a config file (it validates and
// plans empty against the same kernel). Owned objects (in the inventory) carry an `# owned`
// comment (YAML; owned sysctls too, on their key) or `owned: true` on list entries (JSON, for
// tools: strip it before using the JSON as a config). The document itself is built in show-doc.ts.
import type YAMLType from 'yaml';
import type { StateMap } from '../model/types';
import type { Inventory } from '../plan/types';
import { buildShowDoc, type ShowDoc, type ShowFilter } from './show-doc';

export interface ShowOptions extends ShowFilter {
  readonly format: 'yaml' | 'json';
}

/** Top-level key for links the config cannot declare; `x-` keys are ignored by the loader. */
export const UNMANAGED_KEY = 'x-unmanaged-links';

/** The document as plain data in config order; `markOwned` adds `owned: true` to owned list entries. */
export function showData(doc: ShowDoc, markOwned: boolean): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (doc.ignore.length > 0) out.ignore = [...doc.ignore];
  const list = (k: string) => doc.sections.get(k)?.map((x) => (markOwned && x.owned ? { ...x.item, owned: true } : x.item));
  if (doc.sections.has('namespaces')) out.namespaces = list('namespaces');
  if (Object.keys(doc.sysctls.item).length > 0) out.sysctls = doc.sysctls.item;
  for (const k of doc.sections.keys()) if (k !== 'namespaces') out[k] = list(k);
  if (doc.unmanaged.length > 0) out[UNMANAGED_KEY] = doc.unmanaged;
  return out;
}

function markKeys(map: unknown, owned: ReadonlySet<string>, YAML: typeof YAMLType): void {
  if (!YAML.isMap(map)) return;
  for (const pair of map.items) {
    if (YAML.isScalar(pair.key) && owned.has(String(pair.key.value))) pair.key.commentBefore = ' owned';
  }
}

function renderYaml(doc: ShowDoc): string {
  // eslint-disable-next-line @typescript-eslint/no-var-requires
  const YAML = require('yaml') as typeof YAMLType; // lazily: only `show` needs the YAML writer
  const y = new YAML.Document(showData(doc, false));
  for (const [k, v] of doc.sections) {
    const seq = y.get(k) as YAMLType.YAMLSeq;
    v.forEach((x, i) => {
      const node = seq.items[i] as YAMLType.YAMLMap;
      if (x.owned) node.commentBefore = ' owned';
      if (x.ownedSysctls.size > 0) markKeys(node.get('sysctls', true), x.ownedSysctls, YAML);
      if (x.ownedSeg6) markKeys(node, new Set(['seg6']), YAML);
    });
  }
  if (doc.sysctls.ownedSysctls.size > 0) markKeys(y.get('sysctls', true), doc.sysctls.ownedSysctls, YAML);
  if (doc.unmanaged.length > 0) {
    const pair = (y.contents as YAMLType.YAMLMap).items.find((p) => YAML.isScalar(p.key) && p.key.value === UNMANAGED_KEY);
    if (pair && YAML.isScalar(pair.key)) pair.key.commentBefore = ' links of kinds the config cannot declare (never managed; the loader ignores x- keys)';
  }
  return y.toString({ lineWidth: 0 });
}

export function showState(current: StateMap, inventory: Inventory, opts: ShowOptions): string {
  const doc = buildShowDoc(current, inventory, opts);
  if (opts.format === 'json') return JSON.stringify(showData(doc, true), null, 2);
  return renderYaml(doc);
}
