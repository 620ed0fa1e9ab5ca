// Part of verify: a delete the kernel applied to another object. A route or rule delete is a
// match, and the kernel deletes the first object that matches (a rule delete that named no
// protocol once removed a foreign rule at our priority instead of ours). The re-plan cannot see
// it: ours is gone from the inventory, so what is left of it counts as foreign. So the re-read is
// searched for each deleted route and rule as it was before: under its key, or set aside as a
// namesake (`key#...`). That read covers their kinds, tables and families, which the verify's
// own read, made for what is still declared or owned, may skip.
import type { KernelSession } from '../kernel/session';
import type { Resource, StateMap } from '../model/types';
import type { Change, Inventory } from '../plan/types';
import { readCurrent } from './reconcile';

/** A resource's content as text, keys sorted; where it came from (source, pool) is no part of it. */
function content(r: Resource): string {
  const norm = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(norm);
    if (v === null || typeof v !== 'object') return v;
    const o = v as Record<string, unknown>;
    return Object.fromEntries(
      Object.keys(o)
        .filter((k) => k !== 'source' && k !== 'poolRef' && o[k] !== undefined)
        .sort()
        .map((k) => [k, norm(o[k])]),
    );
  };
  return JSON.stringify(norm(r));
}

const matchDeletes = (executed: readonly Change[]) => executed.filter((c) => c.action === 'delete' && (c.kind === 'route' || c.kind === 'rule') && c.before !== undefined);

/** Labels of deleted routes and rules the kernel still holds (reads only if the apply deleted some). */
export function verifyDeletes(session: KernelSession, desired: StateMap, inventory: Inventory, executed: readonly Change[]): string[] {
  const deletes = matchDeletes(executed);
  if (deletes.length === 0) return [];
  const owned = { ...inventory.owned, ...Object.fromEntries(deletes.map((c) => [c.key, c.before!])) };
  return stillHeld(deletes, readCurrent(session, desired, { ...inventory, owned }));
}

/** Labels of deleted routes and rules the re-read (`current`) still holds, unchanged. */
export function lingeringDeletes(executed: readonly Change[], current: ReadonlyMap<string, Resource>): string[] {
  return stillHeld(matchDeletes(executed), current);
}

function stillHeld(deletes: readonly Change[], current: ReadonlyMap<string, Resource>): string[] {
  if (deletes.length === 0) return [];
  const namesakes = new Map<string, Resource[]>();
  for (const [k, r] of current) {
    const hash = k.indexOf('#');
    if (hash < 0) continue;
    const base = k.slice(0, hash);
    namesakes.set(base, [...(namesakes.get(base) ?? []), r]);
  }
  const out: string[] = [];
  for (const c of deletes) {
    const was = content(c.before!);
    const found = [current.get(c.key), ...(namesakes.get(c.key) ?? [])].some((r) => r !== undefined && content(r) === was);
    if (found) out.push(c.label);
  }
  return out;
}
