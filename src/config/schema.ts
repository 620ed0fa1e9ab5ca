// JSON Schema validation (ajv, strict, all errors) with errors mapped to YAML positions.
import type AjvType from 'ajv';
import type { ErrorObject, ValidateFunction } from 'ajv';
import { CONFIG_SCHEMA, configSchemaJson } from './schema-json';
import { ptrAndAncestors, ptrJoin, ptrSplit, type ConfigError } from './types';
import type { YamlFile } from './yamlpos';

export { CONFIG_SCHEMA };

let compiled: ValidateFunction | undefined;

/** The validator precompiled at build time (scripts/build-schema.js), if it matches the schema.
 *  A static relative require, so the CLI bundle carries it (and its V8 code cache). */
function precompiled(): ValidateFunction | undefined {
  try {
    // eslint-disable-next-line @typescript-eslint/no-var-requires
    const mod = require('../../schema-validator.js') as { default?: ValidateFunction; schemaJson?: string };
    return mod.schemaJson === configSchemaJson() ? mod.default : undefined;
  } catch {
    return undefined;
  }
}

/** The compiled validator (compiled once; strict mode rejects a sloppy schema at startup). */
export function schemaValidator(): ValidateFunction {
  // verbose: errors carry parentSchema, whose `description` words anyOf messages.
  if (!compiled) {
    // eslint-disable-next-line @typescript-eslint/no-var-requires
    compiled = precompiled() ?? new (require('ajv').default as typeof AjvType)({ strict: true, allErrors: true, verbose: true }).compile(CONFIG_SCHEMA);
  }
  return compiled;
}

export interface SchemaResult {
  errors: ConfigError[];
  /** Instance pointers that failed: entries at or under them are left out of the merge.
   *  Unknown keys are not listed: they are deleted from the data instead. */
  bad: string[];
}

const TYPE_WORDS: Record<string, string> = {
  integer: 'an integer',
  number: 'a number',
  string: 'a string',
  boolean: 'a boolean (true or false)',
  object: 'a mapping',
  array: 'a list',
  null: 'null',
};

export function validateSchema(file: YamlFile, data: unknown): SchemaResult {
  const validate = schemaValidator();
  if (validate(data)) return { errors: [], bad: [] };
  const raw = validate.errors ?? [];
  // anyOf errors by instance path: each error looks up its own path and those above it, where
  // a scan of every anyOf error per error was n² (8000 bad route tables: 17 s).
  const anyOfs = new Map<string, typeof raw>();
  for (const a of raw) {
    if (a.keyword !== 'anyOf') continue;
    const l = anyOfs.get(a.instancePath);
    if (l) l.push(a);
    else anyOfs.set(a.instancePath, [a]);
  }
  const inAnyOf = (e: (typeof raw)[number]): boolean =>
    ptrAndAncestors(e.instancePath).some((p) => anyOfs.get(p)?.some((a) => a !== e && e.schemaPath.startsWith(a.schemaPath + '/')));
  const errors: ConfigError[] = [];
  const bad: string[] = [];
  const seen = new Set<string>();
  for (const e of raw) {
    if (e.keyword === 'if') continue; // the failing then/else branch reports the real problem
    if (anyOfs.size > 0 && inAnyOf(e)) continue; // one message per anyOf, not one per branch
    const { path, key, message } = describe(e);
    const id = `${path}\u0000${message}`;
    if (seen.has(id)) continue;
    seen.add(id);
    // Unknown keys are dropped so the rest of the entry still gets its semantic checks.
    if (e.keyword === 'additionalProperties') dropKey(data, e.instancePath, String((e.params as { additionalProperty: string }).additionalProperty));
    else bad.push(e.instancePath);
    errors.push({ file: file.name, ...file.pos(path, key), path, message });
  }
  return { errors, bad };
}

function dropKey(data: unknown, ptr: string, key: string): void {
  let o: unknown = data;
  for (const seg of ptrSplit(ptr)) o = o && typeof o === 'object' ? (o as Record<string, unknown>)[seg] : undefined;
  if (o && typeof o === 'object') delete (o as Record<string, unknown>)[key];
}

function describe(e: ErrorObject): { path: string; key: boolean; message: string } {
  const p = e.params as Record<string, unknown>;
  const parent = (e.parentSchema ?? {}) as { description?: string; properties?: Record<string, unknown> };
  switch (e.keyword) {
    case 'additionalProperties': {
      const k = String(p.additionalProperty);
      // YAML 1.2 (the core schema) has no merge keys: say so rather than leave '<<' a mystery.
      if (k === '<<') return { path: ptrJoin(e.instancePath, k), key: true, message: `unknown key '<<': YAML merge keys are not supported (YAML 1.2); use an alias for a whole value (key: *anchor)` };
      // A key of a nested mapping one level too far left (`bridge:` then `stp:` at its column).
      const owners = nestedOwners(k, parent.properties ?? {});
      if (owners.length > 0)
        return { path: ptrJoin(e.instancePath, k), key: true, message: `unknown key '${k}': it belongs under ${owners.map((o) => `'${o}:'`).join(' or ')} (check its indentation)` };
      // A key of the enclosing mapping written inside a nested one (`mtu:` under `bridge:`).
      const outer = outerOwner(k, e.instancePath, parent as SchemaNode);
      if (outer) return { path: ptrJoin(e.instancePath, k), key: true, message: `unknown key '${k}' under '${outer}:': it belongs beside '${outer}:', not under it (check its indentation or braces)` };
      const hint = suggest(k, Object.keys(parent.properties ?? {}));
      return { path: ptrJoin(e.instancePath, k), key: true, message: `unknown key '${k}'${hint ? ` (did you mean '${hint}'?)` : ''}` };
    }
    case 'required':
      return { path: e.instancePath, key: false, message: `missing required key '${String(p.missingProperty)}'` };
    case 'type':
      return { path: e.instancePath, key: false, message: `must be ${TYPE_WORDS[String(p.type)] ?? String(p.type)}${got(e)}${nameHint(e)}${scalarHint(e)}` };
    case 'enum':
      return {
        path: e.instancePath,
        key: false,
        message: `must be one of ${(p.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(', ')}${got(e)}`,
      };
    case 'const':
      return { path: e.instancePath, key: false, message: `must be ${JSON.stringify(p.allowedValue)}${got(e)}` };
    case 'anyOf':
      return { path: e.instancePath, key: false, message: `must be ${parent.description ?? 'one of the allowed forms'}${got(e)}` };
    case 'minLength':
      return { path: e.instancePath, key: false, message: p.limit === 1 ? 'must not be empty' : `${e.message}` };
    case 'pattern':
      return { path: e.instancePath, key: false, message: `${parent.description ? `must be ${parent.description}` : e.message}${got(e)}` };
    default:
      return { path: e.instancePath, key: false, message: `${e.message ?? e.keyword}${got(e)}` };
  }
}

type SchemaNode = { $ref?: string; properties?: Record<string, unknown> };

/** The properties of `props` whose (object) schema has a property named `k`. */
function nestedOwners(k: string, props: Record<string, unknown>): string[] {
  const defs = (CONFIG_SCHEMA as { definitions?: Record<string, SchemaNode> }).definitions ?? {};
  const resolve = (n: SchemaNode): SchemaNode => (n.$ref?.startsWith('#/definitions/') ? (defs[n.$ref.slice(14)] ?? n) : n);
  return Object.entries(props)
    .filter(([, sub]) => sub !== null && typeof sub === 'object' && Object.hasOwn(resolve(sub as SchemaNode).properties ?? {}, k))
    .map(([name]) => name);
}

/**
 * `owner` when the mapping at `ptr` is the value of key `owner` of a mapping whose schema has
 * `k` (the key was written one level too deep). ajv inlines small definitions (its schemaPath
 * does not name them): the nested schema is found as the definition with the same keys.
 */
function outerOwner(k: string, ptr: string, nested: SchemaNode): string | undefined {
  const owner = ptrSplit(ptr).pop();
  if (owner === undefined || /^[0-9]+$/.test(owner) || !nested.properties) return undefined;
  const defs = (CONFIG_SCHEMA as { definitions?: Record<string, SchemaNode> }).definitions ?? {};
  const keys = Object.keys(nested.properties).sort().join(' ');
  const inner = Object.keys(defs).filter((n) => Object.keys(defs[n]!.properties ?? {}).sort().join(' ') === keys);
  const found = Object.values(defs).some((d) => {
    const props = d.properties ?? {};
    const ref = (props[owner] as SchemaNode | undefined)?.$ref;
    return ref !== undefined && inner.includes(ref.replace('#/definitions/', '')) && Object.hasOwn(props, k);
  });
  return found ? owner : undefined;
}

/** A list entry written as its bare name (`namespaces: [ vovl-a ]`): show the mapping it must be. */
function nameHint(e: ErrorObject): string {
  const required = (e.parentSchema as { required?: string[] } | undefined)?.required ?? [];
  if ((e.params as { type?: string }).type !== 'object' || typeof e.data !== 'string' || !required.includes('name')) return '';
  return `, e.g. { name: ${JSON.stringify(e.data)} }`;
}

const YAML11_BOOLS = /^(?:y|Y|yes|Yes|YES|n|N|no|No|NO|on|On|ON|off|Off|OFF)$/;

/**
 * Why a scalar has the wrong type, where YAML decided it: quotes make `"10"` text, YAML 1.2
 * reads `yes`/`off` as text (1.1 as booleans), and a name like `100` is a number unless quoted.
 */
function scalarHint(e: ErrorObject): string {
  const want = String((e.params as { type?: string }).type);
  const d = e.data;
  const numeric = want === 'integer' ? /^[-+]?[0-9]+$/ : /^[-+]?[0-9]+(?:\.[0-9]*)?$/;
  if ((want === 'integer' || want === 'number') && typeof d === 'string' && numeric.test(d)) return `: quoted, it is text; write ${d} without quotes`;
  if (want === 'boolean' && typeof d === 'string') {
    if (YAML11_BOOLS.test(d)) return `: '${d}' is text in YAML 1.2 (a boolean only in YAML 1.1); write ${/^(?:y|yes|on)$/i.test(d) ? 'true' : 'false'}`;
    if (/^(?:true|false)$/i.test(d)) return `: quoted, it is text; write ${d.toLowerCase()} without quotes`;
  }
  if (want === 'string' && (typeof d === 'number' || typeof d === 'boolean')) return `: YAML read it as a ${typeof d}; quote it ("${String(d)}") if it is a name`;
  return '';
}

/** " (got X)" for scalars, to make the message stand alone. */
function got(e: ErrorObject): string {
  const d = e.data;
  if (d === null || ['string', 'number', 'boolean'].includes(typeof d)) return ` (got ${JSON.stringify(d)})`;
  return Array.isArray(d) ? ' (got a list)' : ' (got a mapping)';
}

/** Closest known key within edit distance 2, for typos. */
function suggest(k: string, known: string[]): string | undefined {
  let best: string | undefined;
  let bestD = 3;
  for (const c of known) {
    const d = editDistance(k, c);
    if (d < bestD) {
      best = c;
      bestD = d;
    }
  }
  return best;
}

function editDistance(a: string, b: string): number {
  const row = [...Array(b.length + 1).keys()];
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const cur = row[j]!;
      row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = cur;
    }
  }
  return row[b.length]!;
}
