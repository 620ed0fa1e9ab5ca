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

/** Top-level key for objects of a kind the config cannot declare; `x-` keys are ignored by the loader. */
export const unmanagedKey = (kind: string): string => `x-unmanaged-${kind}`;

const UNMANAGED_COMMENT: Record<string, string> = {
  links: ' links of kinds, or with options (vxlan gbp, ...), the config cannot declare (never managed; the loader ignores x- keys)',
  qdiscs: ' qdiscs the config cannot declare (other kinds, under a class of one, on a link it cannot declare): never managed',
  filters: ' tc filters whose program is not a declared bpf program: never managed',
  routes: ' routes the config cannot declare (multipath, throw, tos, from, onlink, other metrics, seg6 without mtu, on a link it cannot declare): never managed',
  addresses: ' addresses the config cannot declare (peer, noprefixroute, another scope, a lifetime, a metric, on a link it cannot declare): never managed',
  rules: ' rules the config cannot declare (not, goto, uidrange, suppress_prefixlength, ...): never managed',
  classes: ' classes on a link the config cannot declare: never managed',
};

/** The list of a section inside the document: `bpf` programs live under `bpf.programs`. */
const sectionPath = (k: string): string[] => (k === 'bpf' ? ['bpf', 'programs'] : [k]);

/** The document as plain data in config order; `markOwned` adds `owned: true` to owned list entries. */
export function showData(doc: ShowDoc, markOwned: boolean): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (doc.ignore.length > 0) out.ignore = [...doc.ignore];
  const list = (k: string) => doc.sections.get(k)?.map((x) => (markOwned && x.owned ? { ...x.item, owned: true } : x.item));
  if (doc.sections.has('namespaces')) out.namespaces = list('namespaces');
  if (Object.keys(doc.sysctls.item).length > 0) out.sysctls = doc.sysctls.item;
  if (doc.seg6) out.seg6 = { tunsrc: doc.seg6.tunsrc };
  for (const k of doc.sections.keys()) if (k !== 'namespaces') out[k] = k === 'bpf' ? { programs: list(k) } : list(k);
  for (const [k, v] of doc.unmanaged) out[unmanagedKey(k)] = v;
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
    const seq = y.getIn(sectionPath(k)) as YAMLType.YAMLSeq;
    v.forEach((x, i) => {
      const node = seq.items[i] as YAMLType.YAMLMap;
      if (x.owned) node.commentBefore = ' owned';
      if (x.ownedSysctls.size > 0) markKeys(node.get('sysctls', true), x.ownedSysctls, YAML);
      if (x.ownedSeg6) markKeys(node, new Set(['seg6']), YAML);
    });
  }
  // tc ids are strings: quote them like the docs do ("1:10"), a YAML 1.1 reader would take 1:10 for a number.
  for (const k of ['qdiscs', 'classes', unmanagedKey('qdiscs')]) {
    YAML.visit((y.get(k, true) as YAMLType.Node | undefined) ?? null, {
      Pair(_, pair) {
        if (YAML.isScalar(pair.key) && ['parent', 'classid', 'handle'].includes(String(pair.key.value)) && YAML.isScalar(pair.value) && String(pair.value.value).includes(':'))
          pair.value.type = 'QUOTE_DOUBLE';
      },
    });
  }
  if (doc.sysctls.ownedSysctls.size > 0) markKeys(y.get('sysctls', true), doc.sysctls.ownedSysctls, YAML);
  if (doc.seg6?.owned) markKeys(y.contents, new Set(['seg6']), YAML);
  for (const k of doc.unmanaged.keys()) {
    const pair = (y.contents as YAMLType.YAMLMap).items.find((p) => YAML.isScalar(p.key) && p.key.value === unmanagedKey(k));
    if (pair && YAML.isScalar(pair.key)) pair.key.commentBefore = UNMANAGED_COMMENT[k] ?? ' not declarable in the config (never managed; the loader ignores x- keys)';
  }
  return y.toString({ lineWidth: 0 });
}

export function showState(current: StateMap, inventory: Inventory, opts: ShowOptions): string {
  const doc = buildShowDoc(current, inventory, opts);
  if (opts.format === 'json') return JSON.stringify(showData(doc, true), null, 2);
  return renderYaml(doc);
}
