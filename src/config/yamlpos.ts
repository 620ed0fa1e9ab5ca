// YAML parsing with source positions: JSON pointer → line:column in the original text.
import { isAlias, isMap, isPair, isScalar, isSeq, LineCounter, parseDocument } from 'yaml';
import type { Document, Node } from 'yaml';
import { ptrSplit, type ConfigError } from './types';

export interface Pos {
  line: number;
  column: number;
}

export class YamlFile {
  readonly doc: Document;
  private readonly lines = new LineCounter();

  constructor(
    readonly name: string,
    readonly text: string,
  ) {
    // uniqueKeys (default) makes duplicate mapping keys a syntax error with a position.
    this.doc = parseDocument(text, { lineCounter: this.lines, prettyErrors: false });
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

  /** The plain JS value (null for an empty document). */
  toJS(): unknown {
    return this.doc.toJS({ maxAliasCount: 1000 });
  }

  offsetPos(offset: number): Pos {
    const p = this.lines.linePos(offset);
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
      if (isAlias(node)) node = node.resolve(this.doc);
      let next: unknown;
      let keyNode: unknown;
      if (isMap(node)) {
        const pair = node.items.find((p) => isPair(p) && keyString(p.key) === seg);
        if (pair) {
          keyNode = pair.key;
          next = pair.value ?? undefined;
        }
      } else if (isSeq(node) && /^[0-9]+$/.test(seg)) {
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
  if (isScalar(k)) return String(k.value);
  return undefined;
}

function rangeStart(n: unknown): number | undefined {
  const r = (n as Node | null | undefined)?.range;
  return r ? r[0] : undefined;
}
