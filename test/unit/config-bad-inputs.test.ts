// Bad-input corpus: every test/bad-inputs/<case>(.yaml | /) must fail with exactly the errors
// listed in <case>.expected ("file:line:col: path: message-substring", '#' comments allowed).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { formatConfigError, loadConfig, loadConfigFromStrings, type ConfigError } from '../../src/config';

function repoRoot(): string {
  let d = __dirname;
  while (!fs.existsSync(path.join(d, 'package.json'))) {
    const up = path.dirname(d);
    if (up === d) throw new Error('package.json not found above ' + __dirname);
    d = up;
  }
  return d;
}

const DIR = path.join(repoRoot(), 'test', 'bad-inputs');
const cases = fs
  .readdirSync(DIR)
  .filter((n) => !n.endsWith('.expected'))
  .sort();

interface Expect {
  file: string;
  line: number;
  column: number;
  path: string;
  message: string;
  raw: string;
}

function parseExpected(text: string): Expect[] {
  return text
    .split('\n')
    .filter((l) => l.trim() !== '' && !l.startsWith('#'))
    .map((raw) => {
      const m = /^(.+?):(\d+):(\d+): (\S+): (.+)$/.exec(raw);
      assert.ok(m, `bad expectation line: ${raw}`);
      return { file: m[1]!, line: Number(m[2]), column: Number(m[3]), path: m[4] === '/' ? '' : m[4]!, message: m[5]!, raw };
    });
}

function load(name: string): ConfigError[] {
  const full = path.join(DIR, name);
  if (fs.statSync(full).isDirectory()) {
    const r = loadConfig({ dir: full, host: 'h1' });
    assert.equal(r.ok, false, `${name} loaded without errors`);
    return r.ok ? [] : r.errors.map((e) => ({ ...e, file: path.relative(full, e.file) }));
  }
  const r = loadConfigFromStrings([{ name, text: fs.readFileSync(full, 'utf8') }], 'h1');
  assert.equal(r.ok, false, `${name} loaded without errors`);
  return r.ok ? [] : r.errors;
}

test('bad-input corpus has at least 45 cases, each with an expectation file', () => {
  assert.ok(cases.length >= 45, `only ${cases.length} cases`);
  for (const c of cases) {
    const base = c.replace(/\.ya?ml$/, '');
    assert.ok(fs.existsSync(path.join(DIR, `${base}.expected`)), `${base}.expected missing`);
  }
});

for (const c of cases) {
  test(`bad input ${c}`, () => {
    const expected = parseExpected(fs.readFileSync(path.join(DIR, `${c.replace(/\.ya?ml$/, '')}.expected`), 'utf8'));
    const errors = load(c);
    const shown = errors.map(formatConfigError).join('\n');
    const unused = [...errors];
    for (const x of expected) {
      const i = unused.findIndex(
        (e) => e.file === x.file && e.line === x.line && e.column === x.column && e.path === x.path && e.message.includes(x.message),
      );
      assert.ok(i >= 0, `expected error not reported:\n  ${x.raw}\nactual:\n${shown}`);
      unused.splice(i, 1);
    }
    assert.equal(errors.length, expected.length, `error count differs; actual:\n${shown}`);
  });
}
