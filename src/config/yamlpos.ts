// YAML parsing with source positions: JSON pointer → line:column in the original text.
import type { Document, LineCounter, Node } from 'yaml';
import { ptrSplit, type ConfigError } from './types';
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
  private lines: LineCounter | undefined;

  constructor(
    readonly name: string,
    readonly text: string,
  ) {}

  /** `yaml`'s Document, parsed on first use (positions and error reports only). */
  get doc(): Document {
    // uniqueKeys (default) makes duplicate mapping keys a syntax error with a position.
    if (!this.parsed) {
      const Y = yaml();
      this.lines = new Y.LineCounter();
      this.parsed = Y.parseDocument(this.text, { lineCounter: this.lines, prettyErrors: false, logLevel: 'error' });
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
    return errors.length ? { errors } : { value: this.toJS() };
  }

  /** YAML syntax errors, positioned. */
  syntaxErrors(): ConfigError[] {
    return this.doc.errors.map((e) => ({
      file: this.name,
      ...this.offsetPos(e.pos[0]),
      path: '',
      message: `YAML: ${e.message.split('\n')[0]}`,
    }));
  }

  /** The plain JS value through `yaml` (null for an empty document). */
  toJS(): unknown {
    return this.doc.toJS({ maxAliasCount: 1000 });
  }

  offsetPos(offset: number): Pos {
    void this.doc; // the line counter is filled by the parse
    const p = this.lines!.linePos(offset);
    return { line: p.line, column: p.col };
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

function keyString(k: unknown): string | undefined {
  if (yaml().isScalar(k)) return String(k.value);
  return undefined;
}

function rangeStart(n: unknown): number | undefined {
  const r = (n as Node | null | undefined)?.range;
  return r ? r[0] : undefined;
}
