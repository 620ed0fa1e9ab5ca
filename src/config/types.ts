// Internal types of the config layer (the public ones are re-exported by index.ts).

export interface ConfigError {
  file: string;
  line: number; // 1-based
  column: number; // 1-based
  path: string; // JSON pointer inside `file`, e.g. /links/3/mtu
  message: string;
}

/** A parsed, schema-valid object and where it came from. */
export interface Entry<T = Raw> {
  readonly file: string;
  readonly ptr: string; // JSON pointer of the object in `file`
  readonly value: T;
}

/** Schema-validated YAML data: shape guaranteed by the schema, read field by field. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Raw = any;

/** Escape one JSON pointer segment (RFC 6901). */
export function ptrSeg(s: string | number): string {
  return String(s).replace(/~/g, '~0').replace(/\//g, '~1');
}

export function ptrJoin(base: string, ...segs: (string | number)[]): string {
  return base + segs.map((s) => '/' + ptrSeg(s)).join('');
}

export function ptrSplit(ptr: string): string[] {
  if (ptr === '') return [];
  return ptr
    .slice(1)
    .split('/')
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
}

/** A pointer and each one above it, up to the document's ('/links/3/vxlan' → '/links/3', '/links', ''). */
export function ptrAndAncestors(p: string): string[] {
  const out = [p];
  for (let i = p.lastIndexOf('/'); i >= 0; i = i === 0 ? -1 : p.lastIndexOf('/', i - 1)) out.push(p.slice(0, i));
  return out;
}
