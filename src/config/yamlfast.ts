// Fast YAML → JS for the common case. `yaml`'s Document API is thorough but slow on a cold
// start (~0.5 s for a 3000-object file), so documents written in a plain subset of YAML are
// read by the small parser below; anything else (and every error) goes through `yaml`, which
// also provides all source positions (yamlpos.ts). Within the subset the value must be
// exactly `yaml`'s: YAML 1.2 core schema (same null/bool/int/float rules: no `1_000`, `0b1`,
// timestamps or `<<`), duplicate keys refused. Whenever this parser is unsure — a line
// outside the subset, an indentation it does not expect, a duplicate or null-like key — it
// declines and `yaml` decides. test/unit/yaml-agreement.test.ts checks both on every YAML
// file in the repository, on generated documents and on randomly edited ones.
//
// The subset. A line is blank, a comment, or: indent, at most one "- ", then a `key:`
// (optionally followed by a value) or a value; then an optional " # comment". A value is a
// plain scalar of tame characters (not starting with an indicator, not ending with ':'), a
// one-line quoted string without escapes, or a one-line flow collection of those. No tabs,
// tags, anchors, aliases, block scalars, multi-line scalars, complex keys, directives or
// document markers.

const FIRST = 'A-Za-z0-9_./+=~'; // may start a plain scalar or key ('@' and '%' are indicators)
const TAME = `${FIRST}@%`; // may follow
const QUOTED_SRC = `"[^"\\\\]*"|'(?:[^'\\n]|'')*'`;
/**
 * Plain scalar: tame characters, inner single spaces, ':' only when followed by a tame
 * character or another ':' (so IPv6 addresses like fc00::1/64 need no quotes).
 */
const plain = (more: string): RegExp => new RegExp(`(?:[${FIRST}]|-(?=[${FIRST}]))(?:[${more}-]| (?=[${more}-])|:(?=[${more}:-]))*`, 'y');
const PLAIN_FLOW = plain(TAME);
const PLAIN_BLOCK = plain(`${TAME}()`); // outside flow collections, parentheses too
const QUOTED = new RegExp(QUOTED_SRC, 'y');
const KEY = new RegExp(`(?:[${FIRST}][${TAME}-]*|${QUOTED_SRC}):(?= |$)`, 'y');
const TRAILER = / *(?:#.*)?$/y; // what may follow a value: spaces, then a comment

// Core schema resolution, as in yaml@2 dist/schema/{common/null,core/*}.js.
const NULL = /^(?:~|[Nn]ull|NULL)?$/;
const BOOL = /^(?:[Tt]rue|TRUE|[Ff]alse|FALSE)$/;
const INT = /^(?:0o[0-7]+|[-+]?[0-9]+|0x[0-9a-fA-F]+)$/;
const FLOAT = /^(?:[-+]?\.(?:inf|Inf|INF)|\.nan|\.NaN|\.NAN|[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)[eE][-+]?[0-9]+|[-+]?(?:\.[0-9]+|[0-9]+\.[0-9]*))$/;

function resolvePlain(s: string): unknown {
  if (NULL.test(s)) return null;
  if (BOOL.test(s)) return s[0] === 't' || s[0] === 'T';
  if (INT.test(s)) return s.startsWith('0o') ? parseInt(s.slice(2), 8) : s.startsWith('0x') ? parseInt(s.slice(2), 16) : parseInt(s, 10);
  if (FLOAT.test(s)) return /nan$/i.test(s) ? NaN : /inf$/i.test(s) ? (s[0] === '-' ? -Infinity : Infinity) : parseFloat(s);
  return s;
}

function unquote(s: string): string {
  const body = s.slice(1, -1);
  return s[0] === "'" ? body.replace(/''/g, "'") : body;
}

/** Thrown (and caught in fastLoad) wherever the parser declines: `yaml` takes over. */
class Decline extends Error {}
const DECLINE = new Decline();

/** Keys `yaml` spells differently from a naive reading (a null key is ''), or stores specially. */
const DOUBTFUL_KEYS = new Set(['', 'null', 'Null', 'NULL', '~', '__proto__']);

/** A mapping key as `yaml` turns it into a JS property name (resolved, then String()). */
function keyName(raw: string): string {
  const k = raw[0] === '"' || raw[0] === "'" ? unquote(raw) : String(resolvePlain(raw));
  // yaml refuses implicit keys over 1024 characters.
  if (DOUBTFUL_KEYS.has(k) || raw.length > 1000) throw DECLINE;
  return k;
}

function setKey(obj: Record<string, unknown>, raw: string, value: unknown): void {
  const k = keyName(raw);
  if (Object.prototype.hasOwnProperty.call(obj, k)) throw DECLINE; // duplicate: yaml's error
  obj[k] = value;
}

function match(re: RegExp, s: string, at: number): number {
  re.lastIndex = at;
  return re.test(s) ? re.lastIndex : -1;
}

function skipSpaces(s: string, i: number): number {
  while (s.charCodeAt(i) === 32) i++;
  return i;
}

/** A flow collection starting at s[i]; returns its value and end. */
function flow(s: string, i: number): [unknown, number] {
  const open = s[i];
  const close = open === '[' ? ']' : '}';
  const out: unknown[] | Record<string, unknown> = open === '[' ? [] : {};
  let j = skipSpaces(s, i + 1);
  if (s[j] === close) return [out, j + 1];
  for (;;) {
    let rawKey: string | undefined;
    if (open === '{') {
      const k = match(KEY, s, j);
      if (k < 0 || s[k] !== ' ') throw DECLINE;
      rawKey = s.slice(j, k - 1);
      j = skipSpaces(s, k);
    }
    let value: unknown;
    if (s[j] === '[' || s[j] === '{') [value, j] = flow(s, j);
    else {
      let e = match(QUOTED, s, j);
      if (e >= 0) value = unquote(s.slice(j, e));
      else {
        e = match(PLAIN_FLOW, s, j);
        if (e < 0) throw DECLINE;
        value = resolvePlain(s.slice(j, e));
      }
      j = e;
    }
    if (rawKey === undefined) (out as unknown[]).push(value);
    else setKey(out as Record<string, unknown>, rawKey, value);
    j = skipSpaces(s, j);
    if (s[j] === close) return [out, j + 1];
    if (s[j] !== ',' || s[j + 1] !== ' ') throw DECLINE;
    j = skipSpaces(s, j + 1);
  }
}

/** A value at s[i] running to the end of the line (an optional comment aside). */
function lineValue(s: string, i: number): unknown {
  let value: unknown;
  let e: number;
  if (s[i] === '[' || s[i] === '{') [value, e] = flow(s, i);
  else {
    e = match(QUOTED, s, i);
    if (e >= 0) value = unquote(s.slice(i, e));
    else {
      e = match(PLAIN_BLOCK, s, i);
      if (e < 0) throw DECLINE;
      value = resolvePlain(s.slice(i, e));
    }
  }
  // A value ends the line: spaces then a comment at most (`a#b` and `a  b` are not ours).
  if (e < s.length && (s.charCodeAt(e) !== 32 || match(TRAILER, s, e) < 0)) throw DECLINE;
  return value;
}

/** One significant line. */
interface Line {
  /** Column of the first non-space character (the dash, on a sequence line). */
  readonly indent: number;
  /** A sequence entry ("- "). */
  readonly dash: boolean;
  /** Column of what follows the dash (or of the line's content). */
  readonly col: number;
  /** A `key:` at `col`, raw (quotes kept). */
  readonly key: string | undefined;
  /** Whether a value follows (the key's, or the bare value of the line). */
  readonly hasValue: boolean;
  readonly value: unknown;
}

function lex(text: string): Line[] {
  if (/[\t\r]/.test(text)) throw DECLINE;
  const lines: Line[] = [];
  let start = 0;
  while (start < text.length) {
    let end = text.indexOf('\n', start);
    if (end < 0) end = text.length;
    const s = text.slice(start, end);
    start = end + 1;
    if (s.startsWith('---') || s.startsWith('...')) throw DECLINE;
    const indent = skipSpaces(s, 0);
    if (indent === s.length || s[indent] === '#') continue;
    let col = indent;
    let dash = false;
    if (s[indent] === '-' && indent + 1 === s.length) {
      lines.push({ indent, dash: true, col: -1, key: undefined, hasValue: false, value: undefined });
      continue;
    }
    if (s[indent] === '-' && s[indent + 1] === ' ') {
      dash = true;
      col = skipSpaces(s, indent + 2);
      if (col === s.length || s[col] === '#') throw DECLINE;
    }
    const k = match(KEY, s, col);
    if (k >= 0) {
      const v = skipSpaces(s, k);
      const bare = v === s.length || s[v] === '#';
      if (!bare && v === k) throw DECLINE;
      lines.push({ indent, dash, col, key: s.slice(col, k - 1), hasValue: !bare, value: bare ? undefined : lineValue(s, v) });
    } else {
      lines.push({ indent, dash, col, key: undefined, hasValue: true, value: lineValue(s, col) });
    }
  }
  return lines;
}

/** Block structure over the lexed lines: indentation decides, strictly. */
class Blocks {
  private p = 0;
  constructor(private readonly lines: readonly Line[]) {}

  document(): unknown {
    if (this.lines.length === 0) return null;
    if (this.lines[0]!.indent !== 0) throw DECLINE;
    const v = this.node();
    if (this.p !== this.lines.length) throw DECLINE;
    return v;
  }

  /** The node starting at the current line. */
  private node(): unknown {
    const l = this.lines[this.p]!;
    if (l.dash) return this.sequence(l.indent);
    if (l.key !== undefined) return this.mapping(l.col);
    this.p++;
    return l.value;
  }

  /** The value of an entry with nothing after its `key:` or dash (`col`: the entry's column). */
  private nested(col: number, compactSequence: boolean): unknown {
    const next = this.lines[this.p];
    if (next && next.indent > col) return this.node();
    // `key:` followed by "- item" lines at the key's own column is a sequence value.
    if (compactSequence && next && next.indent === col && next.dash) return this.sequence(col);
    return null;
  }

  private sequence(d: number): unknown[] {
    const out: unknown[] = [];
    for (;;) {
      const l = this.lines[this.p];
      if (!l || l.indent < d) return out;
      if (l.indent > d) throw DECLINE;
      if (!l.dash) return out; // a key at the sequence's column ends it (compact value)
      if (l.col < 0) {
        this.p++;
        out.push(this.nested(d, false));
      } else if (l.key !== undefined) {
        out.push(this.mapping(l.col));
      } else {
        this.p++;
        out.push(l.value);
      }
    }
  }

  /** A mapping whose keys are at column `m`; its first line may be a sequence entry's. */
  private mapping(m: number): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    for (let first = true; ; first = false) {
      const l = this.lines[this.p];
      if (!first) {
        if (!l || l.indent < m) return out;
        if (l.indent > m || l.dash || l.key === undefined) throw DECLINE;
      }
      this.p++;
      setKey(out, l!.key!, l!.hasValue ? l!.value : this.nested(m, true));
      // What follows an entry is at the mapping's column or less (more: a multi-line scalar).
      const next = this.lines[this.p];
      if (next && next.indent > m) throw DECLINE;
    }
  }
}

/**
 * The file's value, or undefined when the fast path cannot vouch for it (outside the plain
 * subset, or anything unexpected): the caller then uses `yaml`, which reports any error.
 */
export function fastLoad(text: string, _filename?: string): { value: unknown } | undefined {
  try {
    return { value: new Blocks(lex(text)).document() };
  } catch (e) {
    // A stack overflow (thousands of nested flow collections) is a decline too: `yaml` reports it.
    if (e instanceof Decline || e instanceof RangeError) return undefined;
    throw e;
  }
}

/** Whether a document is written in the plain subset read here. */
export function inPlainSubset(text: string): boolean {
  return fastLoad(text) !== undefined;
}
