// YAML parsing with source positions: JSON pointer → line:column in the original text.
import type { Document, Node } from 'yaml';
import { ptrJoin, ptrSplit, type ConfigError } from './types';
import { fastLoad } from './yamlfast';

export interface Pos {
  line: number;
  column: number;
}

/** What the aliases of one file may repeat, in values (scalars and collections), before it is refused. */
export const MAX_ALIASED_VALUES = 1_000_000;

// Loaded on first use: a valid config (the common case) never needs it.
// eslint-disable-next-line @typescript-eslint/no-var-requires
const yaml = (): typeof import('yaml') => require('yaml') as typeof import('yaml');

/** Thrown by YamlFile.toJS where a node is not one it builds like `yaml`: `yaml` builds the value. */
class Fallback extends Error {}

export class YamlFile {
  private parsed: Document | undefined;
  private lineStarts: number[] | undefined;
  private targets: Map<Node, Node> | undefined;
  /** The text both parsers read: `text` with each lone CR (old Mac line end) an LF. */
  private readonly src: string;

  constructor(
    readonly name: string,
    readonly text: string,
  ) {
    this.src = withLfBreaks(text);
  }

  /** `yaml`'s Document, parsed on first use (positions and error reports only). */
  get doc(): Document {
    // uniqueKeys (default) makes duplicate mapping keys a syntax error with a position. The
    // core schema always (a `%YAML 1.1` directive would switch to 1.1's `yes`, octal `0755` and
    // `<<`), and no 1.1 tags: `!!omap`/`!!set` became a JS Map/Set, whose entries the schema
    // never saw (silently nothing). Such documents are refused in syntaxErrors.
    if (!this.parsed) {
      this.parsed = yaml().parseDocument(this.src, { prettyErrors: false, logLevel: 'error', schema: 'core', resolveKnownTags: false });
    }
    return this.parsed;
  }

  /**
   * The file's value (null for an empty document), or its positioned syntax errors. A valid
   * file takes the fast path; `yaml` runs only to explain a rejection.
   */
  load(): { value: unknown; errors?: undefined } | { errors: ConfigError[] } {
    const fast = fastLoad(this.src, this.name);
    if (fast) return fast;
    const errors = this.syntaxErrors();
    if (errors.length) return { errors };
    try {
      const bomb = this.aliasBomb();
      if (bomb) return { errors: [this.errorAt(bomb, `YAML: aliases repeat more than ${MAX_ALIASED_VALUES} values in this file (an alias bomb?): write fewer aliases of large anchors`)] };
      return { value: this.toJS() };
    } catch (err) {
      // Alias problems surface only when building the value (an unknown anchor); deep nesting too.
      return { errors: [this.aliasError(err as Error)] };
    }
  }

  /** A positioned error for a failed toJS: at the first alias that resolves to nothing, else the first alias. */
  private aliasError(err: Error): ConfigError {
    let dangling: Node | undefined;
    let first: Node | undefined;
    const targets = this.aliasTargets();
    yaml().visit(this.doc, {
      Alias: (_k, node) => {
        first ??= node;
        if (!targets.has(node)) {
          dangling = node;
          return yaml().visit.BREAK;
        }
        return undefined;
      },
    });
    const name = (dangling as { source?: string } | undefined)?.source;
    return this.errorAt(dangling ?? first, name !== undefined ? `YAML: alias '*${name}' has no anchor '&${name}' before it` : `YAML: ${err.message.split('\n')[0]}`);
  }

  private errorAt(node: Node | undefined, message: string): ConfigError {
    return { file: this.name, ...this.offsetPos(rangeStart(node) ?? 0), path: '', message };
  }

  /**
   * Each alias's node, found as yaml does (the last anchor of that name before it), for the whole
   * file in one walk: `Alias.resolve` walks the document again for each alias (n² for thousands).
   */
  private aliasTargets(): Map<Node, Node> {
    if (this.targets) return this.targets;
    const Y = yaml();
    const anchors = new Map<string, Node>();
    const out = new Map<Node, Node>();
    Y.visit(this.doc, {
      Node: (_k, node) => {
        if (Y.isAlias(node)) {
          const t = anchors.get(node.source);
          if (t) out.set(node, t);
        } else if (node.anchor !== undefined) anchors.set(node.anchor, node);
      },
    });
    return (this.targets = out);
  }

  /**
   * The alias at which the file's aliases have repeated more than MAX_ALIASED_VALUES values,
   * if they do. yaml's own guard (maxAliasCount) counts uses of an anchor, so it refused 1000
   * routes sharing one `encap: *e`; what costs is the size of what aliases repeat: the JS value
   * shares it, but validation and normalisation walk every copy.
   */
  private aliasBomb(): Node | undefined {
    const Y = yaml();
    const targets = this.aliasTargets();
    if (targets.size === 0) return undefined;
    const size = new Map<Node, number>(); // values in a node, aliases expanded
    let repeated = 0;
    let bomb: Node | undefined;
    const walk = (n: unknown): number => {
      if (bomb || n === null || n === undefined) return 0;
      if (Y.isAlias(n)) {
        // No size yet: an alias inside its own anchor (a cycle, which the value shares as such).
        const t = targets.get(n);
        const s = (t && size.get(t)) ?? 1;
        repeated += s;
        if (repeated > MAX_ALIASED_VALUES) bomb = n;
        return s;
      }
      if (Y.isPair(n)) return walk(n.key) + walk(n.value);
      let s = 1;
      if (Y.isCollection(n)) for (const item of n.items) s += walk(item);
      if ((n as Node).anchor !== undefined) size.set(n as Node, s);
      return s;
    };
    walk(this.doc.contents);
    return bomb;
  }

  /** YAML syntax errors, positioned; also what would give the file another meaning than YAML 1.2 core. */
  syntaxErrors(): ConfigError[] {
    const seen = new Set<string>();
    const out: ConfigError[] = [];
    const version = this.versionDirective();
    if (version) out.push({ file: this.name, ...this.offsetPos(version.offset), path: '', message: `YAML: '%YAML ${version.version}' is not supported: a config file is YAML 1.2 (core schema), where 'yes' is text, 0755 is 755 and '<<' is a plain key; remove the directive` });
    // Warnings that change the meaning: an unresolved tag keeps its text as if untagged (an
    // `!include f.yaml` or `!vault` value would be taken literally), an unknown directive is skipped.
    const refused = this.doc.warnings.filter((w) => w.code === 'TAG_RESOLVE_FAILED' || w.code === 'BAD_DIRECTIVE');
    for (const e of [...this.doc.errors, ...refused]) {
      const dupKey = e.code === 'DUPLICATE_KEY' ? this.keyPathAt(e.pos[0]) : undefined;
      const tag = e.code === 'TAG_RESOLVE_FAILED';
      const err = dupKey
        ? { file: this.name, ...this.offsetPos(e.pos[0]), path: dupKey, message: `YAML: duplicate key '${ptrSplit(dupKey).pop()}' (keys of a mapping must be unique)` }
        : { file: this.name, ...this.offsetPos(e.pos[0]), path: (tag && this.taggedPathAt(e.pos[0])) || '', message: `YAML: ${tag ? this.tagMessage(e.pos[0]) : yamlMessage(e)}` };
      // One per line and message: deep nesting makes `yaml` repeat a message thousands of times.
      const id = `${err.line}\0${err.message}`;
      if (seen.has(id)) continue;
      seen.add(id);
      out.push(err);
    }
    return out;
  }

  /** A `%YAML` directive of another version than 1.2 (yaml itself honours 1.1), with its offset. */
  private versionDirective(): { version: string; offset: number } | undefined {
    const v = this.doc.directives?.yaml;
    if (!v?.explicit || v.version === '1.2') return undefined;
    const m = /^%YAML[ \t]/m.exec(this.src);
    return { version: v.version, offset: m?.index ?? 0 };
  }

  private tagMessage(offset: number): string {
    const tag = /^![^\s,[\]{}]*/.exec(this.src.slice(offset))?.[0] ?? '!';
    return `tag '${tag}' is not supported (a config file is plain YAML 1.2: only the core schema's !!str, !!int, !!float, !!bool, !!null, !!seq, !!map)`;
  }

  /** JSON pointer of the mapping key starting at `offset` (a duplicate key), if there is one. */
  private keyPathAt(offset: number): string | undefined {
    const Y = yaml();
    let found: string | undefined;
    Y.visit(this.doc, {
      Pair: (_k, pair, ancestors) => {
        if (rangeStart(pair.key) !== offset) return undefined;
        found = pathOf([...ancestors, pair]);
        return Y.visit.BREAK;
      },
    });
    return found;
  }

  /** JSON pointer of the first tagged node at or after `offset` (the tag precedes its node's range). */
  private taggedPathAt(offset: number): string | undefined {
    const Y = yaml();
    let found: string | undefined;
    Y.visit(this.doc, {
      Node: (_k, node, ancestors) => {
        if (!(node as { tag?: string }).tag || (rangeStart(node) ?? -1) < offset) return undefined;
        found = pathOf([...ancestors, node]);
        return Y.visit.BREAK;
      },
    });
    return found;
  }

  /**
   * The plain JS value, as `yaml`'s toJS builds it (null for an empty document): an alias is
   * the very value of its anchor. Built here because toJS looks each alias up by a scan of the
   * document's anchors and aliases (n², 200 s for 64000 aliases); what aliases may repeat is
   * bounded by aliasBomb (load).
   */
  toJS(): unknown {
    const Y = yaml();
    const targets = this.aliasTargets();
    const anchored = new Map<unknown, unknown>();
    const value = (n: unknown): unknown => {
      if (n === null || n === undefined) return null;
      if (Y.isAlias(n)) {
        const t = targets.get(n);
        if (!t) throw new ReferenceError(`Unresolved alias (the anchor must be set before the alias): ${n.source}`);
        return anchored.has(t) ? anchored.get(t) : value(t);
      }
      const anchor = (n as Node).anchor !== undefined;
      if (Y.isScalar(n)) {
        if (anchor) anchored.set(n, n.value);
        return n.value;
      }
      if (Y.isSeq(n)) {
        const out: unknown[] = [];
        if (anchor) anchored.set(n, out); // before the items: an alias inside is the list itself
        for (const item of n.items) out.push(value(item));
        return out;
      }
      if (Y.isMap(n)) {
        const out: Record<string, unknown> = {};
        if (anchor) anchored.set(n, out);
        for (const pair of n.items) {
          if (!Y.isScalar(pair.key) && pair.key !== null) throw new Fallback(); // a collection key: yaml stringifies it
          const k = pair.key === null ? null : pair.key.value;
          const key = k === null ? '' : typeof k === 'object' ? JSON.stringify(k) : String(k);
          const v = value(pair.value);
          // As yaml does: a key already in the object (inherited too: `__proto__`, `constructor`) is an own property.
          if (key in out) Object.defineProperty(out, key, { value: v, writable: true, enumerable: true, configurable: true });
          else out[key] = v;
        }
        return out;
      }
      throw new Fallback();
    };
    try {
      return value(this.doc.contents);
    } catch (err) {
      if (!(err instanceof Fallback)) throw err;
      return this.doc.toJS({ maxAliasCount: -1 });
    }
  }

  /**
   * Line and column of a text offset. Counted here, not by yaml's LineCounter: that one misses
   * the line breaks inside the multi-line tokens of a broken document, placing later errors
   * on an earlier line, past its end. Columns count characters (code points, as rustc does),
   * not UTF-16 units: a `🚀` before the error is one column, not two.
   */
  offsetPos(offset: number): Pos {
    const starts = (this.lineStarts ??= lineStartsOf(this.src));
    let lo = 0;
    let hi = starts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (starts[mid]! <= offset) lo = mid;
      else hi = mid - 1;
    }
    // A leading BOM is no column: editors do not show it.
    const bom = lo === 0 && offset > 0 && this.src.charCodeAt(0) === 0xfeff ? 1 : 0;
    return { line: lo + 1, column: codePoints(this.src, starts[lo]! + bom, offset) + 1 };
  }

  /**
   * Position of the node at `ptr`; with `key`, of the mapping key naming the last segment
   * (for unknown keys). Falls back to the deepest node that exists.
   */
  pos(ptr: string, key = false): Pos {
    let node: unknown = this.doc.contents;
    let at: number | undefined = rangeStart(node);
    const segs = ptrSplit(ptr);
    for (let i = 0; i < segs.length; i++) {
      const seg = segs[i]!;
      if (yaml().isAlias(node)) node = this.aliasTargets().get(node);
      let next: unknown;
      let keyNode: unknown;
      if (yaml().isMap(node)) {
        const pair = node.items.find((p) => yaml().isPair(p) && keyString(p.key) === seg);
        if (pair) {
          keyNode = pair.key;
          next = pair.value ?? undefined;
        }
      } else if (yaml().isSeq(node) && /^[0-9]+$/.test(seg)) {
        next = node.items[Number(seg)];
      }
      if (key && i === segs.length - 1 && keyNode !== undefined) return this.offsetPos(rangeStart(keyNode) ?? at ?? 0);
      if (next === undefined) {
        // A key without a value (`mtu:`) still has a key position.
        if (keyNode !== undefined) at = rangeStart(keyNode) ?? at;
        break;
      }
      node = next;
      at = rangeStart(node) ?? rangeStart(keyNode) ?? at;
    }
    return this.offsetPos(at ?? 0);
  }
}

/** `yaml`'s message, first line, reworded where it speaks of its own API. */
function yamlMessage(e: { code: string; message: string }): string {
  if (e.code === 'MULTIPLE_DOCS') return `a config file holds one YAML document (this one has another after '---' or '...')`;
  return e.message.split('\n')[0]!;
}

/** JSON pointer of the last node of a visitor's ancestor chain. */
function pathOf(chain: readonly unknown[]): string {
  const Y = yaml();
  const segs: string[] = [];
  chain.forEach((a, i) => {
    if (Y.isSeq(a) && i + 1 < chain.length) segs.push(String(a.items.indexOf(chain[i + 1] as never)));
    else if (Y.isPair(a)) segs.push(keyString(a.key) ?? '?');
  });
  return ptrJoin('', ...segs);
}

function keyString(k: unknown): string | undefined {
  if (yaml().isScalar(k)) return String(k.value);
  return undefined;
}

/**
 * `text` with each lone CR an LF. YAML 1.2 breaks lines at CR, LF and CRLF; `yaml` knows only
 * the last two: it read a CR-only file as one line ("Nested mappings are not allowed ..." at
 * 1:7), or, first line a comment, as an empty file. Same length: every offset stays the text's.
 */
export function withLfBreaks(text: string): string {
  return text.includes('\r') ? text.replace(/\r(?!\n)/g, '\n') : text;
}

/** Code points in text[from, to): a surrogate pair is one. */
function codePoints(text: string, from: number, to: number): number {
  let n = to - from;
  for (let i = from; i + 1 < to; i++) {
    const c = text.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff) {
      const d = text.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        n--;
        i++;
      }
    }
  }
  return n;
}

function lineStartsOf(text: string): number[] {
  const out = [0];
  for (let i = text.indexOf('\n'); i >= 0; i = text.indexOf('\n', i + 1)) out.push(i + 1);
  return out;
}

function rangeStart(n: unknown): number | undefined {
  const r = (n as Node | null | undefined)?.range;
  return r ? r[0] : undefined;
}
