// The fast YAML path (yamlfast.ts, for a plain subset) must read every document exactly as
// `yaml` does, and accept nothing `yaml` rejects: it decides what a valid config means, while
// `yaml` explains rejections with positions.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import fc from 'fast-check';
import { parseDocument } from 'yaml';
import { fastLoad } from '../../src/config/yamlfast';
import { YamlFile, withLfBreaks } from '../../src/config/yamlpos';

const REPO = path.resolve(__dirname, '../../..');
/** Runs per property; raise it (YAML_AGREEMENT_RUNS=200000) to hunt for divergences locally. */
const RUNS = Number(process.env.YAML_AGREEMENT_RUNS ?? 3000);

function viaYaml(text: string): { value: unknown } | { error: string } {
  const doc = parseDocument(text, { prettyErrors: false, logLevel: 'error' });
  if (doc.errors.length) return { error: doc.errors[0]!.message };
  try {
    return { value: doc.toJS({ maxAliasCount: 1000 }) ?? null };
  } catch (e) {
    return { error: (e as Error).message };
  }
}

/**
 * Where both accept, the values are equal; what yaml rejects the fast path never accepts.
 * The fast path may decline a valid document (tags, null keys): `yaml` then loads it.
 */
function agree(text: string, where: string, mustBeFast = false): void {
  // A lone CR is a line break in YAML 1.2, not in `yaml`: both paths read the text with LFs there.
  const slow = viaYaml(withLfBreaks(text));
  const fast = fastLoad(text, where);
  if ('error' in slow) {
    assert.equal(fast, undefined, `${where}: the fast path accepted what yaml rejects (${slow.error}):\n${text}`);
    return;
  }
  // The slow path builds the value itself (YamlFile.toJS, linear in aliases): as yaml does.
  const file = new YamlFile(where, text);
  if (file.syntaxErrors().length === 0) assert.deepStrictEqual(file.toJS() ?? null, slow.value, `${where}: YamlFile.toJS and yaml disagree:\n${text}`);
  if (mustBeFast) assert.ok(fast, `${where}: the fast path declined a plain valid file:\n${text}`);
  if (!fast) return;
  assert.deepStrictEqual(fast.value, slow.value, `${where}: the two parsers disagree:\n${text}`);
}

function yamlFiles(dir: string): string[] {
  const out: string[] = [];
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory() && e.name !== 'node_modules' && !e.name.startsWith('.')) out.push(...yamlFiles(p));
    else if (/\.ya?ml$/.test(e.name) && fs.existsSync(p)) out.push(p); // not a dangling link (bad-input cases)
  }
  return out;
}

test('every YAML file in the repository reads the same through both parsers', () => {
  const files = ['examples', 'test', 'policies'].flatMap((d) => (fs.existsSync(path.join(REPO, d)) ? yamlFiles(path.join(REPO, d)) : []));
  assert.ok(files.length > 100, `expected the example, golden and bad-input corpus, found ${files.length} files`);
  let fast = 0;
  for (const f of files) {
    const text = fs.readFileSync(f, 'utf8');
    agree(text, path.relative(REPO, f));
    if (fastLoad(text, f)) fast++;
  }
  assert.ok(fast > files.length * 0.7, `only ${fast} of ${files.length} files took the fast path`);
});

test('CRLF and CR-only (old Mac) line ends read as LF ones do, with the same lines', () => {
  const files = ['examples', 'test'].flatMap((d) => yamlFiles(path.join(REPO, d)));
  let compared = 0;
  for (const f of files) {
    const text = fs.readFileSync(f, 'utf8');
    if (text.includes('\r')) continue;
    const lf = new YamlFile(f, text).load();
    if (lf.errors) continue;
    compared++;
    for (const [eol, name] of [['\r\n', 'CRLF'], ['\r', 'CR']] as const) {
      const other = new YamlFile(f, text.replace(/\n/g, eol));
      const r = other.load();
      assert.ok(!r.errors, `${f} with ${name}: ${JSON.stringify(r.errors)}`);
      assert.deepStrictEqual(r.value, lf.value, `${f} with ${name} line ends reads differently`);
      // The last line's first character, placed on that line.
      const lines = text.split('\n');
      const last = lines.length - (lines[lines.length - 1] === '' ? 2 : 1);
      const at = lines.slice(0, last).reduce((n, l) => n + l.length + eol.length, 0);
      assert.deepStrictEqual(other.offsetPos(at), { line: last + 1, column: 1 }, `${f} with ${name}`);
    }
  }
  assert.ok(compared > 100, `only ${compared} files compared`);
});

// Scalars whose meaning differs between YAML 1.1, js-yaml's own schemas and YAML 1.2 core.
const TRICKY = [
  '1_000', '0b101', '0o17', '0o8', '0x1F', '0X1F', '+12', '-0', '012', '08', '0777', '.5', '1.', '1e3', '1E-3', '+1.5e+2', '1.0', '-.inf', '.Inf',
  '.NaN', '.nan', 'nan', 'inf', 'yes', 'no', 'on', 'off', 'y', 'n', 'True', 'TRUE', 'tRue', 'false', 'FALSE', '~', 'null', 'Null', 'NULL', 'nUll',
  '2001-12-14', '2001-12-14t21:59:43.10-05:00', '12:30:00', '1:20', '<<', '=', '!', '&a', '*a', '"q"', "'q'", '#', 'a # b', 'a: b', '- x',
  '1.2.3', '10.0.0.1/24', 'fc00::1', '2001:db8::/64', 'fe80::1:2', 'a::', '::1', '1::', 'a:::b', '02:00:00:00:00:01', '9007199254740993', '-9007199254740993', '0x', '0o', '00', '+0', '-', '+', '.', 'e3',
];
const key = fc.oneof(fc.constantFrom(...TRICKY, 'name', 'mtu', 'links', 'net.ipv4.ip_forward'), fc.stringMatching(/^[a-z][a-z0-9_.-]{0,8}$/));
const scalarText = fc.oneof(fc.constantFrom(...TRICKY), fc.stringMatching(/^[A-Za-z0-9_.:+\/-]{1,10}$/), fc.integer().map(String), fc.double({ noNaN: true }).map(String));
type Doc =
  | { t: 'scalar'; s: string; style: 'plain' | 'single' | 'double' }
  | { t: 'seq'; items: Doc[]; flow: boolean; compact: boolean }
  | { t: 'map'; entries: [string, Doc][]; flow: boolean; compact: boolean; comment: boolean };
const { doc } = fc.letrec<{ doc: Doc }>((tie) => ({
  doc: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.record({ t: fc.constant('scalar' as const), s: scalarText, style: fc.constantFrom('plain' as const, 'single' as const, 'double' as const) }),
    fc.record({ t: fc.constant('seq' as const), items: fc.array(tie('doc'), { maxLength: 4 }), flow: fc.boolean(), compact: fc.boolean() }),
    fc.record({ t: fc.constant('map' as const), entries: fc.array(fc.tuple(key, tie('doc')), { maxLength: 4 }), flow: fc.boolean(), compact: fc.boolean(), comment: fc.boolean() }),
  ),
}));

function scalar(s: string, style: 'plain' | 'single' | 'double'): string {
  if (style === 'single') return `'${s.replace(/'/g, "''")}'`;
  if (style === 'double') return JSON.stringify(s);
  return s;
}

const isBlock = (d: Doc): boolean => (d.t === 'seq' && !d.flow && d.items.length > 0) || (d.t === 'map' && !d.flow && d.entries.length > 0);

/** A scalar or a flow collection (inside flow, everything is flow). */
function inline(d: Doc): string {
  if (d.t === 'scalar') return scalar(d.s, d.style);
  if (d.t === 'seq') return `[${d.items.map(inline).join(', ')}]`;
  return `{${d.entries.map(([k, v]) => `${k}: ${inline(v)}`).join(', ')}}`;
}

/**
 * Block style where the generator chose it, in the shapes hand-written configs use: a mapping
 * starting on its sequence entry's line ("- name: x" then "  type: y"), a sequence at its
 * key's own column ("key:" then "- item"), a lone "-" over a nested block, trailing comments.
 */
function blockLines(d: Doc, indent: string): string[] {
  if (d.t === 'seq' && isBlock(d)) {
    return d.items.flatMap((x) => {
      if (!isBlock(x)) return [`${indent}- ${inline(x)}`];
      const inner = blockLines(x, `${indent}  `);
      if (x.t === 'map' && d.compact) return [`${indent}- ${inner[0]!.slice(indent.length + 2)}`, ...inner.slice(1)];
      return [`${indent}-`, ...inner];
    });
  }
  if (d.t === 'map' && isBlock(d)) {
    return d.entries.flatMap(([k, v]) => {
      if (!isBlock(v)) return [`${indent}${k}: ${inline(v)}${d.comment ? ' # note' : ''}`];
      if (v.t === 'seq' && d.compact) return [`${indent}${k}:`, ...blockLines(v, indent)];
      return [`${indent}${k}:${d.comment ? '  # nested' : ''}`, ...blockLines(v, `${indent}  `)];
    });
  }
  return [`${indent}${inline(d)}`];
}

function render(d: Doc): string {
  return `${blockLines(d, '').join('\n')}\n`;
}

/** Small edits that make documents odd or invalid: what a hand-edited file may contain. */
const mutation = fc.tuple(fc.nat(), fc.constantFrom('#', ' #', ':', ': ', '-', '- ', '\n', '\n  ', '  ', '\t', '[', ']', '{', '}', ',', '"', "'", '---', '...', '%', '@', '`', '|', '>', ''));

function mutate(text: string, edits: [number, string][]): string {
  let t = text;
  for (const [at, ins] of edits) {
    const i = at % (t.length + 1);
    t = t.slice(0, i) + ins + t.slice(i);
  }
  return t;
}

test('generated documents (tricky scalars, keys, flow and block styles) read the same or are rejected by both', () => {
  let runs = 0;
  let fast = 0;
  fc.assert(
    fc.property(doc, (d) => {
      const text = render(d);
      agree(text, 'generated');
      runs++;
      if (fastLoad(text, 'generated')) fast++;
    }),
    { numRuns: RUNS },
  );
  // Not vacuous: most generated documents are in the subset and were compared value for value.
  assert.ok(fast > runs * 0.4, `only ${fast} of ${runs} generated documents took the fast path`);
  if (process.env.YAML_AGREEMENT_RUNS) process.stderr.write(`fast path: ${fast} of ${runs}\n`);
});

test('edited (often invalid) documents: the fast path never accepts what yaml rejects, nor reads it differently', () => {
  fc.assert(
    fc.property(doc, fc.array(mutation, { minLength: 1, maxLength: 3 }), (d, edits) => {
      agree(mutate(render(d), edits), 'edited');
    }),
    { numRuns: RUNS },
  );
});

test('configs written the usual ways take the fast path and read the same', () => {
  const docs = [
    'links:\n  - name: br0\n    type: bridge\n    mtu: 9000 # jumbo\n  - { name: vx0, type: vxlan, master: br0, vxlan: { vni: 100, dstport: 4789 } }\n',
    'addresses:\n- { dev: br0, address: 10.0.0.1/24 }\n- dev: br0\n  address: 2001:db8:1::1/64\n',
    'routes:\n  - to: 2001:db8:21::/64\n    via: fe80::1\n    dev: h1-r0\n  - { to: fc00:2::e/128, dev: r2-r0, encap: { type: seg6local, action: End } }\n',
    '# comment only header\nnamespaces:\n  - name: a\n    sysctls:\n      net.ipv6.conf.all.forwarding: 1\n      net.ipv4.ip_forward: "1"\n',
    'srv6:\n  pools:\n    p:\n      paths:\n        via-r1: { segments: [fc00:1::e, 2001:db8:21::2] }\n',
    'ignore:\n-\n  eth0\n- "docker*"\n',
  ];
  for (const [i, d] of docs.entries()) agree(d, `usual ${i}`, true);
});

test('aliases: same value, and a billion-laughs document is left to yaml (which refuses it)', () => {
  agree('a: &x { b: 1 }\nc: *x\n', 'alias');
  // Anchors redefined, on scalars and keys, inside themselves (a cycle), odd keys.
  agree('a: &x 1\nb: *x\nc: &x [2]\nd: *x\n*x : 3\n', 'redefined');
  agree('a: &s [1, *s, { k: *s }]\nb: *s\n', 'cycle');
  agree('__proto__: &p { constructor: 1, toString: *p, ~: 2, 3: 4, true: 5, 0x10: 6 }\nq: [*p, *p]\n', 'odd keys');
  agree('- &e !!str 10\n- *e\n- &n\n- *n\n- { ? &k a : *k }\n', 'tagged, null, key anchors');
  for (const text of ['a: *x\n', 'a: &x 1\nb: *y\n', 'a: [*a]\n']) {
    assert.throws(() => new YamlFile('d', text).toJS(), /Unresolved alias/, text);
    assert.throws(() => parseDocument(text).toJS(), /Unresolved alias/, text);
  }
  const lines = ['a0: &a0 [x, x, x, x, x, x, x, x, x, x]'];
  for (let i = 1; i < 9; i++) lines.push(`a${i}: &a${i} [${Array(10).fill(`*a${i - 1}`).join(', ')}]`);
  const bomb = `${lines.join('\n')}\n`;
  assert.equal(fastLoad(bomb, 'bomb'), undefined);
  assert.throws(() => parseDocument(bomb).toJS({ maxAliasCount: 1000 }), /alias/i);
});
