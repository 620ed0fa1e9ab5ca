// Loader fuzzing: the example configs, the docs' example and the bad-input corpus, mutated at
// the text and at the YAML level (lines deleted or duplicated, scalars turned into other types,
// huge/negative/unicode/empty values, names swapped, `state: absent` added, nodes nested
// wrongly). Every result must be a valid config or errors that each carry file:line:col and a
// field path; no exception escapes and no load takes long. Seeded: every run is the same.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { isMap, isPair, isScalar, isSeq, parseDocument, visit, type Document, type Node } from 'yaml';
import { loadConfigFromStrings, type LoadResult } from '../../src/config';

const REPO = path.resolve(__dirname, '../../..');
/** Mutated documents per run; FUZZ_RUNS=100000 (and FUZZ_SEED) hunt further locally. */
const RUNS = Number(process.env.FUZZ_RUNS ?? 1000);
const SEED = Number(process.env.FUZZ_SEED ?? 20240611);
const SLOW_MS = 2000;

/** mulberry32: small, seedable, good enough to pick mutations. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function yamlFiles(dir: string): string[] {
  if (!fs.existsSync(dir)) return [];
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((d) => {
    const full = path.join(dir, d.name);
    if (d.isDirectory()) return yamlFiles(full);
    return /\.ya?ml$/.test(d.name) && d.isFile() ? [full] : [];
  });
}

function corpus(): string[] {
  const files = [...yamlFiles(path.join(REPO, 'examples')), ...yamlFiles(path.join(REPO, 'test', 'bad-inputs'))];
  const texts = files.map((f) => fs.readFileSync(f, 'utf8')).filter((t) => !t.includes('\uFFFD'));
  const doc = fs.readFileSync(path.join(REPO, 'docs', 'config.md'), 'utf8');
  const example = /```yaml\n([\s\S]*?)```/.exec(doc);
  if (example) texts.push(example[1]!);
  return texts;
}

const WEIRD: unknown[] = [
  '', ' ', 'ä', '名前', '\u202e', 'x'.repeat(300), '-1', '0', 'null', '~', 'true', '1e400', '0x10', '::', '0.0.0.0/0',
  -1, 0, 1, 2 ** 31, 2 ** 32, 2 ** 53, -(2 ** 53), 1.5, 1e300, Number.NaN, Infinity, true, false, null,
  [], {}, [1, 'a'], { a: 1 }, { state: 'absent' }, [[[]]], 'absent', 'up', 'lo', 'default', 'main',
];

type Pick = <T>(xs: readonly T[]) => T;

/** Text-level mutations: they may break the YAML itself. */
function mutateText(text: string, r: () => number, pick: Pick): string {
  const lines = text.split('\n');
  const i = Math.floor(r() * lines.length);
  switch (Math.floor(r() * 6)) {
    case 0:
      lines.splice(i, 1);
      break;
    case 1:
      lines.splice(i, 0, lines[i] ?? '');
      break;
    case 2:
      lines[i] = '  ' + (lines[i] ?? '');
      break;
    case 3:
      lines[i] = (lines[i] ?? '').replace(/^\s{1,2}/, '');
      break;
    case 4: {
      const j = Math.floor(r() * lines.length);
      [lines[i], lines[j]] = [lines[j] ?? '', lines[i] ?? ''];
      break;
    }
    default:
      lines[i] = (lines[i] ?? '').replace(/: .*$/, `: ${String(pick(WEIRD as string[]))}`);
  }
  return lines.join('\n');
}

/** Every node of the document with the collection holding it. */
function nodes(doc: Document): { node: Node; parent: unknown }[] {
  const out: { node: Node; parent: unknown }[] = [];
  visit(doc, {
    Node(_k, node, p) {
      out.push({ node, parent: p[p.length - 1] });
    },
  });
  return out;
}

/** YAML-level mutations: the result is well-formed YAML of the wrong shape or values. */
function mutateTree(text: string, r: () => number, pick: Pick): string {
  const doc = parseDocument(text, { logLevel: 'silent' });
  if (doc.errors.length || !doc.contents) return text;
  const all = nodes(doc);
  if (all.length === 0) return text;
  const { node, parent } = pick(all);
  const kind = Math.floor(r() * 7);
  const weird = pick(WEIRD);
  if (kind === 0 && isScalar(node) && (weird === null || typeof weird !== 'object')) node.value = weird;
  else if (kind === 1 && isSeq(node) && node.items.length > 0) node.items.push(pick(node.items)); // duplicate an entry
  else if (kind === 2 && (isSeq(node) || isMap(node)) && node.items.length > 0) node.items.splice(Math.floor(r() * node.items.length), 1);
  else if (kind === 3 && isMap(node)) node.set('state', 'absent');
  else if (kind === 4 && isPair(parent)) parent.value = doc.createNode([pick(WEIRD), node]); // nest wrongly
  else if (kind === 5 && all.some((n) => isScalar(n.node))) {
    // swap two scalars (names, addresses, numbers)
    const scalars = all.map((n) => n.node).filter(isScalar);
    const a = pick(scalars);
    const b = pick(scalars);
    [a.value, b.value] = [b.value, a.value];
  } else if (isPair(parent)) parent.value = doc.createNode(weird);
  try {
    return doc.toString();
  } catch {
    return text; // a mutation `yaml` cannot print (an alias moved before its anchor)
  }
}

function mutate(text: string, r: () => number, pick: Pick): string {
  let t = text;
  const n = 1 + Math.floor(r() * 3);
  for (let k = 0; k < n; k++) t = r() < 0.3 ? mutateText(t, r, pick) : mutateTree(t, r, pick);
  return t;
}

/** The load result is a config, or errors that each name a file, a position in it and a path. */
function checkResult(res: LoadResult, files: Map<string, string>, shown: string): void {
  if (res.ok) return;
  assert.ok(res.errors.length > 0, `no config and no errors:\n${shown}`);
  for (const e of res.errors) {
    const text = files.get(e.file);
    assert.ok(text !== undefined, `error names an unknown file '${e.file}': ${e.message}\n${shown}`);
    const lines = text.split(/\r\n|\r|\n/); // YAML 1.2's line breaks (a lone CR is one)
    assert.ok(Number.isInteger(e.line) && e.line >= 1 && e.line <= lines.length + 1, `bad line ${e.line}: ${e.message}\n${shown}`);
    assert.ok(Number.isInteger(e.column) && e.column >= 1 && e.column <= [...(lines[e.line - 1] ?? '')].length + 1, `bad column ${e.line}:${e.column}: ${e.message}\n${shown}`);
    assert.ok(e.path === '' || e.path.startsWith('/'), `bad path '${e.path}': ${e.message}\n${shown}`);
    assert.ok(typeof e.message === 'string' && e.message.length > 0 && !/\bundefined\b|\[object /.test(e.message), `bad message '${e.message}'\n${shown}`);
  }
}

test(`loader fuzzing: ${RUNS} mutated configs load or fail cleanly`, () => {
  const texts = corpus();
  assert.ok(texts.length > 50, `corpus too small: ${texts.length}`);
  const r = rng(SEED);
  const pick: Pick = (xs) => xs[Math.floor(r() * xs.length)]!;
  for (let i = 0; i < RUNS; i++) {
    const base = mutate(pick(texts), r, pick);
    // Now and then a second file as the host overlay, to exercise merging.
    const inputs = r() < 0.2 ? [{ name: 'a.yaml', text: base }, { name: 'hosts/h1.yaml', text: mutate(pick(texts), r, pick) }] : [{ name: 'a.yaml', text: base }];
    const shown = inputs.map((f) => `--- ${f.name} (run ${i}, seed ${SEED})\n${f.text}`).join('\n');
    const t0 = Date.now();
    let res: LoadResult;
    try {
      res = loadConfigFromStrings(inputs, 'h1');
    } catch (err) {
      assert.fail(`loader threw ${(err as Error).stack}\n${shown}`);
    }
    assert.ok(Date.now() - t0 < SLOW_MS, `load took ${Date.now() - t0} ms\n${shown}`);
    checkResult(res, new Map(inputs.map((f) => [f.name, f.text])), shown);
  }
});
