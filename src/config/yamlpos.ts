// YAML parsing with source positions: JSON pointer → line:column in the original text.
import type { Document, Node } from 'yaml';
import { ptrJoin, ptrSplit, type ConfigError } from './types';
import { fastLoad } from './yamlfast';

export interface Pos {
  line: number;
  column: number;
}

// Loaded on first use: a valid config (the common case) never needs it.
// eslint-disable-next-line @typescript-eslint/no-var-requires
const yaml = (): typeof import('yaml') => require('yaml') as typeof import('yaml');

export class YamlFile {
  private parsed: Document | undefined;
  private lineStarts: number[] | undefined;

  constructor(
    readonly name: string,
    readonly text: string,
  ) {}

  /** `yaml`'s Document, parsed on first use (positions and error reports only). */
  get doc(): Document {
    // uniqueKeys (default) makes duplicate mapping keys a syntax error with a position. The
    // core schema always (a `%YAML 1.1` directive would switch to 1.1's `yes`, octal `0755` and
    // `<<`), and no 1.1 tags: `!!omap`/`!!set` became a JS Map/Set, whose entries the schema
    // never saw (silently nothing). Such documents are refused in syntaxErrors.
    if (!this.parsed) {
      this.parsed = yaml().parseDocument(this.text, { prettyErrors: false, logLevel: 'error', schema: 'core', resolveKnownTags: false });
    }
    return this.parsed;
  }

  /**
   * The file's value (null for an empty document), or its positioned syntax errors. A valid
   * file takes the fast path; `yaml` runs only to explain a rejection.
   */
  load(): { value: unknown; errors?: undefined } | { errors: ConfigError[] } {
    const fast = fastLoad(this.text, this.name);
    if (fast) return fast;
    const errors = this.syntaxErrors();
    if (errors.length) return { errors };
    try {
      return { value: this.toJS() };
    } catch (err) {
      // Alias problems surface only when building the value (an unknown anchor, an alias bomb).
      return { errors: [this.aliasError(err as Error)] };
    }
  }

  /** A positioned error for a failed toJS: at the first alias that resolves to nothing, else the first alias. */
  private aliasError(err: Error): ConfigError {
    let dangling: Node | undefined;
    let first: Node | undefined;
    yaml().visit(this.doc, {
      Alias: (_k, node) => {
        first ??= node;
        if (node.resolve(this.doc) === undefined) {
          dangling = node;
          return yaml().visit.BREAK;
        }
        return undefined;
      },
    });
    const at = dangling ?? first;
    const name = (dangling as { source?: string } | undefined)?.source;
    const message = name !== undefined ? `YAML: alias '*${name}' has no anchor '&${name}' before it` : `YAML: ${err.message.split('\n')[0]}`;
    return { file: this.name, ...this.offsetPos(rangeStart(at) ?? 0), path: '', message };
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
    const m = /^%YAML[ \t]/m.exec(this.text);
    return { version: v.version, offset: m?.index ?? 0 };
  }

  private tagMessage(offset: number): string {
    const tag = /^![^\s,[\]{}]*/.exec(this.text.slice(offset))?.[0] ?? '!';
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

  /** The plain JS value through `yaml` (null for an empty document). */
  toJS(): unknown {
    return this.doc.toJS({ maxAliasCount: 1000 });
  }

  /**
   * Line and column of a text offset. Counted here, not by yaml's LineCounter: that one misses
   * the line breaks inside the multi-line tokens of a broken document, placing later errors
   * on an earlier line, past its end.
   */
  offsetPos(offset: number): Pos {
    const starts = (this.lineStarts ??= lineStartsOf(this.text));
    let lo = 0;
    let hi = starts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (starts[mid]! <= offset) lo = mid;
      else hi = mid - 1;
    }
    // A leading BOM is no column: editors do not show it.
    const bom = lo === 0 && offset > 0 && this.text.charCodeAt(0) === 0xfeff ? 1 : 0;
    return { line: lo + 1, column: offset - starts[lo]! + 1 - bom };
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
      if (yaml().isAlias(node)) node = node.resolve(this.doc);
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

function lineStartsOf(text: string): number[] {
  const out = [0];
  for (let i = text.indexOf('\n'); i >= 0; i = text.indexOf('\n', i + 1)) out.push(i + 1);
  return out;
}

function rangeStart(n: unknown): number | undefined {
  const r = (n as Node | null | undefined)?.range;
  return r ? r[0] : undefined;
}
