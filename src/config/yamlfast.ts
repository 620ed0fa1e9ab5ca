// Fast YAML → JS for the common case. js-yaml parses a 3000-object file ~8x faster than
// `yaml`'s Document API on a cold start, but it is more lenient: it accepts some documents
// `yaml` rejects (a `#` glued to a value, badly indented multi-line quoted strings, `---x`)
// and reads a few exotic ones differently (tags, complex keys, compact nested sequences).
// So the fast path is taken only for documents written in a plain subset of YAML, checked
// line by line below; anything else (and every error) goes through `yaml`, which also
// provides all source positions (yamlpos.ts). js-yaml is given exactly the YAML 1.2 core
// schema `yaml` uses (same null/bool/int/float rules: no `1_000`, `0b1`, timestamps or `<<`).
// test/unit/yaml-agreement.test.ts checks both on every YAML file in the repository, on
// generated documents and on randomly edited ones.
import { FAILSAFE_SCHEMA, load, Type } from 'js-yaml';

const scalar = (tag: string, test: RegExp, construct: (s: string) => unknown, predicate: (v: unknown) => boolean): Type =>
  new Type(tag, { kind: 'scalar', resolve: (s: string | null) => test.test(s ?? ''), construct: (s: string | null) => construct(s ?? ''), predicate });

// Regular expressions and conversions as in yaml@2 dist/schema/{common/null,core/*}.js.
const CORE_1_2 = FAILSAFE_SCHEMA.extend({
  implicit: [
    scalar('tag:yaml.org,2002:null', /^(?:~|[Nn]ull|NULL)?$/, () => null, (v) => v === null),
    scalar('tag:yaml.org,2002:bool', /^(?:[Tt]rue|TRUE|[Ff]alse|FALSE)$/, (s) => s[0] === 't' || s[0] === 'T', (v) => typeof v === 'boolean'),
    scalar(
      'tag:yaml.org,2002:int',
      /^(?:0o[0-7]+|[-+]?[0-9]+|0x[0-9a-fA-F]+)$/,
      (s) => (s.startsWith('0o') ? parseInt(s.slice(2), 8) : s.startsWith('0x') ? parseInt(s.slice(2), 16) : parseInt(s, 10)),
      (v) => Number.isInteger(v),
    ),
    scalar(
      'tag:yaml.org,2002:float',
      /^(?:[-+]?\.(?:inf|Inf|INF)|\.nan|\.NaN|\.NAN|[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)[eE][-+]?[0-9]+|[-+]?(?:\.[0-9]+|[0-9]+\.[0-9]*))$/,
      (s) => (/nan$/i.test(s) ? NaN : /inf$/i.test(s) ? (s[0] === '-' ? -Infinity : Infinity) : parseFloat(s)),
      (v) => typeof v === 'number',
    ),
  ],
});

// ---- The plain subset -------------------------------------------------------------------
// A line is blank, a comment, or: indent, at most one "- ", then a `key:` (optionally
// followed by a value) or a value; then an optional " # comment". A value is a plain scalar
// of tame characters (not starting with an indicator, not ending with ':'), a one-line
// quoted string without escapes, or a one-line flow collection of those. No tabs, tags,
// anchors, aliases, block scalars, complex keys, directives or document markers.
const FIRST = '[A-Za-z0-9_./+@%=~]'; // may start a plain scalar or key
const QUOTED_SRC = `"[^"\\\\]*"|'(?:[^'\\n]|'')*'`;
/** Plain scalar: tame characters, inner single spaces, ':' only when not followed by a space. */
const plain = (more: string): RegExp => new RegExp(`^(?:${FIRST}|-(?=${FIRST}))(?:[${more}-]| (?=[${more}-])|:(?=[${more}-]))*`);
const PLAIN = plain('A-Za-z0-9_./+@%=~');
const PLAIN_BLOCK = plain('A-Za-z0-9_./+@%=~()'); // outside flow collections, parentheses too
const QUOTED = new RegExp(`^(?:${QUOTED_SRC})`);
const KEY = new RegExp(`^(?:${FIRST}[A-Za-z0-9_./+@%=~-]*|${QUOTED_SRC}):(?= |$)`);

/** Length of a flow collection starting at s[i] ('[' or '{'), or -1. */
function flowLength(s: string, i: number): number {
  const open = s[i];
  const close = open === '[' ? ']' : '}';
  let j = i + 1;
  const spaces = (): void => {
    while (s[j] === ' ') j++;
  };
  spaces();
  if (s[j] === close) return j + 1 - i;
  for (;;) {
    if (open === '{') {
      const k = KEY.exec(s.slice(j));
      if (!k) return -1;
      j += k[0].length;
      if (s[j] !== ' ') return -1;
      spaces();
    }
    const n = flowValueLength(s, j);
    if (n < 0) return -1;
    j += n;
    spaces();
    if (s[j] === close) return j + 1 - i;
    if (s[j] !== ',') return -1;
    j++;
    if (s[j] !== ' ') return -1;
    spaces();
  }
}

function flowValueLength(s: string, j: number): number {
  if (s[j] === '[' || s[j] === '{') return flowLength(s, j);
  const m = QUOTED.exec(s.slice(j)) ?? PLAIN.exec(s.slice(j));
  return m ? m[0].length : -1;
}

/** A value at the end of a block line (after `key: ` or `- `), with an optional comment. */
function blockValueOk(s: string): boolean {
  let n: number;
  if (s[0] === '[' || s[0] === '{') n = flowLength(s, 0);
  else {
    const m = QUOTED.exec(s) ?? PLAIN_BLOCK.exec(s);
    n = m ? m[0].length : -1;
  }
  if (n < 0) return false;
  const rest = s.slice(n);
  return rest === '' || /^ +(#.*)?$/.test(rest);
}

function lineOk(line: string): boolean {
  if (line.startsWith('---') || line.startsWith('...')) return false;
  let s = line.replace(/^ */, '');
  if (s === '' || s[0] === '#') return true;
  if (s.startsWith('- ')) s = s.slice(2).replace(/^ */, '');
  else if (s === '-') return true;
  if (s === '' || s[0] === '#') return false;
  const k = KEY.exec(s);
  if (k) {
    const rest = s.slice(k[0].length);
    if (rest === '' || /^ +(#.*)?$/.test(rest)) return true;
    return blockValueOk(rest.replace(/^ +/, ''));
  }
  return blockValueOk(s);
}

export function inPlainSubset(text: string): boolean {
  if (/[\t\r]/.test(text)) return false;
  let start = 0;
  while (start < text.length) {
    let end = text.indexOf('\n', start);
    if (end < 0) end = text.length;
    if (!lineOk(text.slice(start, end))) return false;
    start = end + 1;
  }
  return true;
}

/** Keys `yaml` and js-yaml spell differently (a null key is '' in one, 'null' in the other). */
const DOUBTFUL_KEYS = new Set(['', 'null', 'Null', 'NULL', '~']);

function noDoubtfulKeys(v: unknown): boolean {
  if (v === null || typeof v !== 'object') return true;
  if (Array.isArray(v)) return v.every(noDoubtfulKeys);
  for (const k in v as Record<string, unknown>) if (DOUBTFUL_KEYS.has(k) || !noDoubtfulKeys((v as Record<string, unknown>)[k])) return false;
  return true;
}

/**
 * The file's value, or undefined when the fast path cannot vouch for it (outside the plain
 * subset, or js-yaml rejects it): the caller then uses `yaml`, which reports any error.
 */
export function fastLoad(text: string, filename: string): { value: unknown } | undefined {
  if (!inPlainSubset(text)) return undefined;
  let value: unknown;
  try {
    value = load(text, { schema: CORE_1_2, filename });
  } catch {
    return undefined;
  }
  if (!noDoubtfulKeys(value)) return undefined;
  return { value: value === undefined ? null : value };
}
