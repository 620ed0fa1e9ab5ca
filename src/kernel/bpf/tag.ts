// Desired program tags. The plan compares `tag`, so the desired resource needs the tag of the
// program in the declared object file: the kernel computes it at load, so we load the object
// (verifier included, nothing attached, fresh unpinned maps) and read it back. Cached per
// (file, program, mtime, size) for the life of the process.
import fs from 'node:fs';
import type { BpfProgramRes, Resource, StateMap } from '../../model/types';
import { BpfError, BpfObject } from '../libbpf';

/** Desired tag of an object that does not load: never equal to a real (16 hex) tag, so the plan shows a change. */
export const TAG_MISSING = 'missing-object';
export const TAG_REJECTED = 'rejected';
/** Current tag of a declared program whose link is gone or detached (device/cgroup removed). */
export const TAG_DETACHED = 'detached';
/** Current tag of a program whose create was interrupted (a pending record): never complete. */
export const TAG_INCOMPLETE = 'incomplete';

const cache = new Map<string, string>();
const shapeCache = new Map<string, Readonly<Record<string, string>>>();

/** `type 6, key 4 B, value 16 B, 4 entries`: how plans and refusals show a map's shape. */
export function describeShape(s: { type: number; keySize: number; valueSize: number; maxEntries: number }): string {
  return `type ${s.type}, key ${s.keySize} B, value ${s.valueSize} B, ${s.maxEntries} entries`;
}

/** Shapes `file` defines for `maps` (those it has); empty when it does not open (the tag says why). */
export function objectMapShapes(file: string, maps: readonly string[]): Readonly<Record<string, string>> {
  let st: fs.Stats;
  try {
    st = fs.statSync(file);
  } catch {
    return {};
  }
  const key = `${file}\0${st.mtimeMs}\0${st.size}`;
  let all = shapeCache.get(key);
  if (all === undefined) {
    try {
      const obj = BpfObject.open(file);
      try {
        // max_entries 0 (perf event arrays): libbpf sizes it at load, the pin has the real size
        all = Object.fromEntries(obj.maps.filter((m) => m.maxEntries > 0).map((m) => [m.name, describeShape(m)]));
      } finally {
        obj.close();
      }
    } catch {
      all = {};
    }
    shapeCache.set(key, all);
  }
  return Object.fromEntries(maps.flatMap((m) => (all[m] !== undefined ? [[m, all[m]]] : [])));
}

/** Open an object with only `program` set to load (other programs in the file are skipped). */
export function openForProgram(file: string, program: string, mapPinPaths: Record<string, string> = {}): BpfObject {
  const obj = BpfObject.open(file);
  try {
    obj.program(program); // clear error naming the programs the file has
    for (const p of obj.programs) if (p.name !== program) p.setAutoload(false);
    for (const [m, pin] of Object.entries(mapPinPaths)) obj.map(m).setPinPath(pin);
    return obj;
  } catch (e) {
    obj.close();
    throw e;
  }
}

/** Kernel tag of `program` in `file`, or a marker (TAG_MISSING, `rejected:<errno>`) when it cannot load. */
export function programTag(file: string, program: string): string {
  let st: fs.Stats;
  try {
    st = fs.statSync(file);
  } catch {
    return TAG_MISSING;
  }
  const key = `${file}\0${program}\0${st.mtimeMs}\0${st.size}`;
  const hit = cache.get(key);
  if (hit !== undefined) return hit;
  let tag: string;
  try {
    const obj = openForProgram(file, program);
    try {
      obj.load();
      tag = obj.program(program).tag;
    } finally {
      obj.close();
    }
  } catch (e) {
    tag = e instanceof BpfError ? `${TAG_REJECTED}:${e.code}` : TAG_REJECTED;
  }
  cache.set(key, tag);
  return tag;
}

/**
 * The desired state with every bpf program's `tag` (and `mapShapes`) filled from its object
 * file, so a changed object shows as `tag: old → new` (an in-place update), and one that changes
 * only a pinned map's definition as `mapShapes.<map>: ... → ...`. Call before computing the plan.
 */
export function enrichDesiredBpf(desired: StateMap): StateMap {
  let out: Map<string, Resource> | undefined;
  for (const [k, r] of desired) {
    if (r.kind !== 'bpf' || r.tag !== undefined) continue;
    out ??= new Map(desired);
    const shapes = objectMapShapes(r.object, r.maps);
    const res: BpfProgramRes = { ...r, tag: programTag(r.object, r.program), ...(Object.keys(shapes).length ? { mapShapes: shapes } : {}) };
    out.set(k, res);
  }
  return out ?? desired;
}
