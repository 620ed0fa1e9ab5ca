// Merge schema-valid files: lists by identity, maps by key. Base files partition the config
// (a second declaration of the same object is an error); the host overlay replaces objects
// wholesale; `state: absent` removes an object declared by an earlier file.
import { LIST_PATHS, identity, kindNoun, poisonName, type ListKind } from './identity';
import { nsOf } from './common';
import { ptrAndAncestors, ptrJoin, type ConfigError, type Entry, type Raw } from './types';
import type { YamlFile } from './yamlpos';

export interface FileInput {
  readonly yaml: YamlFile;
  readonly data: Raw; // plain object (schema-valid except at `bad`)
  readonly bad: readonly string[]; // pointers with schema errors
  readonly overlay: boolean;
}

export interface MergedPool {
  readonly name: string;
  readonly origin: Entry; // the pool object that last contributed
  readonly paths: Map<string, Entry>;
  readonly bsids: Map<string, Entry>;
}

/** What was left out because of schema/syntax errors, to keep reference checks quiet about it. */
export interface Poison {
  all: boolean; // a file could not be read at all
  names: Map<string, Set<string>>; // kind → poisoned identities/names
  kinds: Set<string>; // kinds with an entry whose name is unknown
}

export interface Merged {
  readonly lists: Record<ListKind, Entry[]>;
  readonly ignore: Entry<string>[];
  readonly sysctls: Map<string, Entry<unknown>>; // root namespace
  /** The root namespace's `seg6` mapping (top level), as last declared. */
  readonly seg6?: Entry;
  readonly pools: Map<string, MergedPool>;
  readonly poison: Poison;
  /** `<kind>:<identity>` of namespaces and links a `state: absent` entry removed → that entry. */
  readonly removed: Map<string, Entry>;
}

export function newPoison(): Poison {
  return { all: false, names: new Map(), kinds: new Set() };
}

export function isPoisoned(p: Poison, kind: string, name: string): boolean {
  return p.all || p.kinds.has(kind) || !!p.names.get(kind)?.has(name);
}

function addPoison(p: Poison, kind: string, names: string[]): void {
  if (names.length === 0) p.kinds.add(kind);
  let set = p.names.get(kind);
  if (!set) p.names.set(kind, (set = new Set()));
  for (const n of names) set.add(n);
}

/**
 * Whether a pointer is at, above or below one of `bad`: set lookups, one per level of the
 * pointer, where a scan of every bad pointer per entry was n² (16000 errors: 10 s).
 */
function badLookup(bad: readonly string[]): (ptr: string) => boolean {
  if (bad.length === 0) return () => false;
  const at = new Set(bad);
  const above = new Set(bad.flatMap(ptrAndAncestors));
  return (ptr) => above.has(ptr) || ptrAndAncestors(ptr).some((p) => at.has(p));
}

export function mergeFiles(files: readonly FileInput[], poison: Poison, errors: ConfigError[]): Merged {
  const lists = Object.fromEntries(Object.keys(LIST_PATHS).map((k) => [k, new Map<string, Entry>()])) as Record<
    ListKind,
    Map<string, Entry>
  >;
  const ignore: Entry<string>[] = [];
  const sysctls = new Map<string, Entry<unknown>>();
  let seg6: Entry | undefined;
  const pools = new Map<string, MergedPool>();
  const removed = new Map<string, Entry>();

  for (const f of files) {
    const file = f.yaml.name;
    const isBad = badLookup(f.bad);
    const where = (e: Entry): string => {
      const p = posOf(files, e);
      return `${e.file}:${p.line}:${p.column}`;
    };
    const dup = (e: Entry, what: string, first: Entry, hint = ''): void => {
      const p = f.yaml.pos(e.ptr);
      errors.push({ file, ...p, path: e.ptr, message: `duplicate ${what} (first declared at ${where(first)})${hint}` });
    };
    const overrideHint = ' (only the host overlay hosts/<host>.yaml may redeclare an object)';
    const absentPeer = (e: Entry, id: string, veth: Entry): void => {
      const p = f.yaml.pos(e.ptr);
      const message = `link '${id}' is the peer end of veth '${identity('links', veth.value)}' (declared at ${where(veth)}): remove the veth by that entry (state: absent removes both ends)`;
      errors.push({ file, ...p, path: e.ptr, message });
    };

    for (const kind of Object.keys(LIST_PATHS) as ListKind[]) {
      const segs = LIST_PATHS[kind];
      const base = ptrJoin('', ...segs);
      const arr = segs.reduce<Raw>((o, s) => (o && typeof o === 'object' ? o[s] : undefined), f.data);
      if (!Array.isArray(arr)) continue;
      const merged = lists[kind];
      const inFile = new Map<string, Entry>();
      arr.forEach((value: Raw, i: number) => {
        const e: Entry = { file, ptr: `${base}/${i}`, value }; // an index needs no escaping
        if (isBad(e.ptr)) return addPoison(poison, kind, poisonName(kind, value));
        const id = identity(kind, value);
        const what = `${kindNoun(kind)} '${id}'`;
        const first = inFile.get(id);
        if (first) return dup(e, what, first);
        inFile.set(id, e);
        const prev = merged.get(id);
        if (value.state === 'absent') {
          if (kind === 'links' && !prev) {
            // A veth's peer end is no list entry: removing it alone cannot mean anything.
            const veth = [...merged.values()].find((l) => peerIdentity(l.value) === id);
            if (veth) return absentPeer(e, id, veth);
          }
          // References to it then say where it went (a base file's error an overlay causes).
          if (prev && (kind === 'namespaces' || kind === 'links')) removed.set(`${kind}:${id}`, e);
          merged.delete(id);
          return;
        }
        if (prev && !f.overlay && prev.file !== file) return dup(e, what, prev, overrideHint);
        const pair = !prev && f.overlay && kind === 'links' ? samePair(merged, id, value, file) : undefined;
        if (pair) return replaceAt(merged, pair, id, e);
        merged.set(id, e);
      });
    }

    if (Array.isArray(f.data?.ignore) && !isBad('/ignore'))
      f.data.ignore.forEach((g: string, i: number) => ignore.push({ file, ptr: ptrJoin('/ignore', i), value: g }));

    if (f.data?.sysctls && typeof f.data.sysctls === 'object')
      for (const [k, v] of Object.entries(f.data.sysctls)) {
        const e: Entry<unknown> = { file, ptr: ptrJoin('/sysctls', k), value: v };
        if (isBad(e.ptr)) continue;
        // null is the map's `state: absent`: it removes the key an earlier file declared.
        if (v === null) {
          sysctls.delete(k);
          continue;
        }
        const prev = sysctls.get(k);
        if (prev && !f.overlay && prev.file !== file) dup(e as Entry, `sysctl '${k}'`, prev as Entry, overrideHint);
        else sysctls.set(k, e);
      }

    // The root namespace's seg6 settings: one file declares them (the host overlay may replace them).
    if (f.data?.seg6 && typeof f.data.seg6 === 'object' && !isBad('/seg6')) {
      const e: Entry = { file, ptr: '/seg6', value: f.data.seg6 };
      if (seg6 && !f.overlay && seg6.file !== file) dup(e, `seg6 settings of the root namespace`, seg6, overrideHint);
      else seg6 = e;
    }

    const filePools = f.data?.srv6?.pools;
    if (filePools && typeof filePools === 'object')
      for (const [name, pv] of Object.entries<Raw>(filePools)) {
        const e: Entry = { file, ptr: ptrJoin('/srv6/pools', name), value: pv };
        if (isBad(e.ptr)) {
          addPoison(poison, 'pools', [name]);
          continue;
        }
        const prev = pools.get(name);
        if (prev && !f.overlay && prev.origin.file !== file) {
          dup(e, `srv6 pool '${name}'`, prev.origin, overrideHint);
          continue;
        }
        // Overlay pools merge path by path and bsid by bsid.
        const pool: MergedPool = prev ? { ...prev, origin: e } : { name, origin: e, paths: new Map(), bsids: new Map() };
        for (const [pn, path] of Object.entries<Raw>(pv.paths ?? {}))
          pool.paths.set(pn, { file, ptr: ptrJoin(e.ptr, 'paths', pn), value: path });
        for (const [bn, b] of Object.entries<Raw>(pv.bsids ?? {}))
          pool.bsids.set(bn, { file, ptr: ptrJoin(e.ptr, 'bsids', bn), value: b });
        pools.set(name, pool);
      }
  }

  const out = Object.fromEntries(Object.entries(lists).map(([k, m]) => [k, [...m.values()]])) as Record<ListKind, Entry[]>;
  return { lists: out, ignore, sysctls, ...(seg6 ? { seg6 } : {}), pools, poison, removed };
}

/**
 * The identity of an earlier file's veth that is the pair an overlay's veth entry declares from
 * its other end (as `show -n NS` prints it): the same object, which the overlay then replaces.
 */
function samePair(merged: Map<string, Entry>, id: string, value: Raw, file: string): string | undefined {
  const peer = peerIdentity(value);
  const other = peer === undefined ? undefined : merged.get(peer);
  return other && other.file !== file && peerIdentity(other.value) === id ? peer : undefined;
}

/** Replace the entry `old` with `e` (identity `id`), keeping its position in the merged order. */
function replaceAt(merged: Map<string, Entry>, old: string, id: string, e: Entry): void {
  const entries = [...merged].map(([k, v]): [string, Entry] => (k === old ? [id, e] : [k, v]));
  merged.clear();
  for (const [k, v] of entries) merged.set(k, v);
}

/** Identity of a declared veth's peer end, as `identity('links', …)` would give for it. */
function peerIdentity(v: Raw): string | undefined {
  if (v?.type !== 'veth' || typeof v.peer?.name !== 'string') return undefined;
  const ns = typeof v.peer.namespace === 'string' ? v.peer.namespace : nsOf(v);
  return identity('links', { name: v.peer.name, namespace: ns });
}

function posOf(files: readonly FileInput[], e: Entry): { line: number; column: number } {
  const f = files.find((x) => x.yaml.name === e.file);
  return f ? f.yaml.pos(e.ptr) : { line: 0, column: 0 };
}
