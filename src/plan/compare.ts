// Field-level comparison of a desired resource against the live one.
// Desired fields left `undefined` are "don't care" (the kernel fills a default), except the
// few STRICT fields whose absence means "none" (a route without encap, a port without master).
import { bridgeTimerInSync } from '../model/jiffies';
import { vxlanIsV6, type LinkRes, type Resource, type ResourceKind, type VniRange, type VxlanOptions } from '../model/types';
import { mergeRanges } from '../util/ranges';
import type { FieldChange } from './types';

/** Never compared nor shown: discriminant, provenance, display-only pool reference. */
const META = new Set(['kind', 'source', 'poolRef']);

/** Fields that make up the key: equal by construction, so not compared and not listed on create. */
export const IDENTITY_FIELDS: Readonly<Record<ResourceKind, readonly string[]>> = {
  namespace: ['name'],
  link: ['namespace', 'name'],
  address: ['namespace', 'dev', 'address'],
  route: ['namespace', 'family', 'to', 'table', 'metric'],
  rule: ['namespace', 'family', 'priority'],
  sysctl: ['namespace', 'key'],
  tunsrc: ['namespace'],
  qdisc: ['namespace', 'dev', 'parent'],
  tclass: ['namespace', 'dev', 'classid'],
  tfilter: ['namespace', 'dev', 'direction', 'priority'],
  bpf: ['name'],
};

/**
 * Optional fields where "not declared" means "must be absent": leaving them as don't-care would
 * silently keep a stale SRv6 encap, gateway, route MTU, bridge membership or VXLAN endpoint after
 * the user removed it (the kernel has no default for them). A dotted path applies only when its
 * parent block is declared (a `vxlan:` block).
 */
const STRICT: Partial<Record<ResourceKind, readonly StrictField[]>> = {
  link: ['master', 'vxlan.local', 'vxlan.remote', 'vxlan.group', 'vxlan.dev'].map(strictField),
  route: ['via', 'src', 'mtu', 'scope', 'encap'].map(strictField),
  rule: ['from', 'to', 'iif', 'oif', 'fwmark'].map(strictField),
};

/** A STRICT field: `block.key` applies only where the `block` object is present. */
interface StrictField {
  readonly path: string;
  readonly block: string | undefined;
  readonly key: string;
}

function strictField(path: string): StrictField {
  const dot = path.indexOf('.');
  return dot < 0 ? { path, block: undefined, key: path } : { path, block: path.slice(0, dot), key: path.slice(dot + 1) };
}

/** The object holding a STRICT field's key, if present. Called for every diffed object: no allocation. */
function holder(o: Record<string, unknown>, f: StrictField): Record<string, unknown> | undefined {
  if (f.block === undefined) return o;
  const b = o[f.block];
  return isPlainObject(b) ? b : undefined;
}

/**
 * Not compared at all. `veth.primary` only says which end's config creates the pair; the kernel
 * cannot observe it (both ends are symmetric once created), so a flip must not recreate the pair.
 */
const UNCOMPARED = new Set(['veth.primary']);

/**
 * Fields whose live value is a kernel conversion of the declared one: bridge timers go through
 * jiffies and may read back a little lower (src/model/jiffies.ts), which is still in sync.
 */
const IN_SYNC: Readonly<Record<string, (d: number, c: unknown) => boolean>> = {
  // Not read during an STP topology change (kernel/link.ts): not known to differ, so not rewritten.
  'bridge.ageingTime': (d, c) => c === undefined || bridgeTimerInSync(d, c),
  'bridge.forwardDelay': bridgeTimerInSync,
};

export function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Structural equality where an `undefined` property equals a missing one. */
export function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a) || Array.isArray(b)) {
    if (!Array.isArray(a) || !Array.isArray(b) || a.length !== b.length) return false;
    return a.every((x, i) => deepEqual(x, b[i]));
  }
  if (isPlainObject(a) && isPlainObject(b)) {
    const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
    for (const k of keys) if (!deepEqual(a[k], b[k])) return false;
    return true;
  }
  return false;
}

/** `vlans` and `vnis` are sets: canonical sorted form (flags default to false; VNIs as merged runs). */
function canonSet(path: string, v: unknown): unknown {
  if (!Array.isArray(v)) return v;
  if (path === 'vnis') return mergeRanges(v as VniRange[]);
  const m = new Map<number, { vid: number; pvid: boolean; untagged: boolean }>();
  for (const x of v as { vid: number; pvid?: boolean; untagged?: boolean }[]) {
    m.set(x.vid, { vid: x.vid, pvid: x.pvid === true, untagged: x.untagged === true });
  }
  return [...m.values()].sort((x, y) => x.vid - y.vid);
}

function diffValue(path: string, d: unknown, c: unknown, out: FieldChange[]): void {
  if (d === undefined || UNCOMPARED.has(path)) return;
  const inSync = IN_SYNC[path];
  if (inSync && typeof d === 'number') {
    if (!inSync(d, c)) out.push({ field: path, before: c, after: d });
    return;
  }
  if (path === 'vlans' || path === 'vnis') {
    // The kernel dumps nothing for a port or VXLAN without entries: read as an empty set.
    if (!deepEqual(canonSet(path, d), canonSet(path, c ?? []))) out.push({ field: path, before: c, after: d });
    return;
  }
  if (isPlainObject(d)) {
    // Tagged unions (encap) are compared whole when the variant differs.
    const sameVariant = d['type'] === undefined || (isPlainObject(c) && c['type'] === d['type']);
    if ((isPlainObject(c) || c === undefined) && sameVariant) {
      const cur = isPlainObject(c) ? c : {};
      for (const k of Object.keys(d)) diffValue(`${path}.${k}`, d[k], cur[k], out);
      if (WRITTEN_WHOLE.has(path)) removedParams(path, d, cur, out);
      return;
    }
  }
  if (!deepEqual(d, c)) out.push({ field: path, before: c, after: d });
}

/** Tagged unions the kernel takes whole on every write (a bpf attach is not one: not listed). */
const WRITTEN_WHOLE = new Set(['encap']);

/**
 * A tagged union (a route's encap) is written whole, so a live parameter the desired variant
 * lacks goes with the write (End.DT6 `table` when the action becomes End.DX6): show it removed.
 */
function removedParams(path: string, d: Record<string, unknown>, c: Record<string, unknown>, out: FieldChange[]): void {
  for (const k of Object.keys(c)) if (d[k] === undefined && c[k] !== undefined) out.push({ field: `${path}.${k}`, before: c[k], after: undefined });
}

const identitySets = new Map<ResourceKind, ReadonlySet<string>>();
function identitySet(kind: ResourceKind): ReadonlySet<string> {
  let s = identitySets.get(kind);
  if (!s) identitySets.set(kind, (s = new Set(IDENTITY_FIELDS[kind])));
  return s;
}

function byField(a: FieldChange, b: FieldChange): number {
  return a.field < b.field ? -1 : a.field > b.field ? 1 : 0;
}

/** Every declared field of `desired` that differs from `current`, sorted by path. */
export function diffResource(desired: Resource, current: Resource): FieldChange[] {
  const out: FieldChange[] = [];
  const id = identitySet(desired.kind);
  const d = desired as unknown as Record<string, unknown>;
  const c = current as unknown as Record<string, unknown>;
  for (const k of Object.keys(d)) {
    if (META.has(k) || id.has(k)) continue;
    diffValue(k, d[k], c[k], out);
  }
  for (const f of STRICT[desired.kind] ?? []) {
    const want = holder(d, f);
    const have = holder(c, f)?.[f.key];
    if (want !== undefined && want[f.key] === undefined && have !== undefined) out.push({ field: f.path, before: have, after: undefined });
  }
  return out.sort(byField);
}

function flatten(path: string, v: unknown, out: FieldChange[]): void {
  if (v === undefined) return;
  if (isPlainObject(v)) {
    for (const k of Object.keys(v)) flatten(`${path}.${k}`, v[k], out);
    return;
  }
  out.push({ field: path, before: undefined, after: v });
}

/** All declared (non-identity) fields of a resource, as changes from nothing. */
export function declaredFields(r: Resource): FieldChange[] {
  const out: FieldChange[] = [];
  const id = identitySet(r.kind);
  const o = r as unknown as Record<string, unknown>;
  for (const k of Object.keys(o)) {
    if (META.has(k) || id.has(k)) continue;
    flatten(k, o[k], out);
  }
  return out.sort(byField);
}

const LINK_IMMUTABLE = [
  'type',
  'veth.peer',
  'veth.primary',
  'vxlan.vni',
  'vxlan.dstport',
  'vxlan.external',
  'vxlan.vnifilter',
  'macvlan.parent',
];

function under(path: string, prefix: string): boolean {
  return path === prefix || path.startsWith(`${prefix}.`);
}

/** A field the kernel never changes in place. */
export const IMMUTABLE = 'immutable';

// Fields vxlan_changelink / macvlan_changelink change in place except in these cases (checked
// on kernel 6.18 with `ip link set` and `ip -d link` / `bridge fdb`).
const VXLAN_FAMILY = "the kernel keeps a VXLAN's address family (IPv4 or IPv6) until it is recreated";
const VXLAN_DETACH = 'the kernel keeps a VXLAN on its device when asked to drop it';
const VXLAN_ATTACH = 'the kernel could not undo it in place (it keeps a VXLAN on its device when asked to drop it), so a rollback would have to recreate the link';
const VXLAN_DEV_ALONE = 'with the same remote, the kernel would keep its default FDB entry (and traffic) on the old device';
const MACVLAN_PASSTHRU = 'the kernel cannot switch a macvlan into or out of passthru mode';
const VXLAN_TTL_INHERIT = "the kernel sets a VXLAN's 'ttl inherit' only when it creates it (\"cannot change TTL_INHERIT flag\")";

const defaultDst = (x: VxlanOptions | undefined): string | undefined => x?.remote ?? x?.group;

/** Why a change of a VXLAN endpoint or macvlan mode needs the link recreated, if it does. */
function linkFieldCause(field: string, c: LinkRes, d: LinkRes): string | undefined {
  switch (field) {
    case 'vxlan.local':
    case 'vxlan.remote':
    case 'vxlan.group':
      return vxlanIsV6(c.vxlan ?? {}) !== vxlanIsV6(d.vxlan ?? {}) ? VXLAN_FAMILY : undefined;
    case 'vxlan.dev':
      // A changelink without a device keeps the old one; the default FDB entry follows a new
      // device only when the remote it points to is replaced in the same request.
      if (d.vxlan?.dev === undefined) return VXLAN_DETACH;
      // Only in place where the inverse is too: a rollback restores in place, never by
      // recreating a link Voltron may not own.
      if (c.vxlan?.dev === undefined) return VXLAN_ATTACH;
      return defaultDst(c.vxlan) !== undefined && defaultDst(c.vxlan) === defaultDst(d.vxlan) ? VXLAN_DEV_ALONE : undefined;
    case 'vxlan.ttl':
      return (c.vxlan?.ttl === 'inherit') !== (d.vxlan?.ttl === 'inherit') ? VXLAN_TTL_INHERIT : undefined;
    case 'macvlan.mode':
      return (c.macvlan?.mode === 'passthru') !== (d.macvlan?.mode === 'passthru') ? MACVLAN_PASSTHRU : undefined;
    default:
      return undefined;
  }
}

const CONDITIONAL = new Set(['vxlan.local', 'vxlan.remote', 'vxlan.group', 'vxlan.dev', 'vxlan.ttl', 'macvlan.mode']);

/**
 * Why a change of this field cannot be applied in place (the object is recreated): IMMUTABLE or
 * the kernel's reason; undefined when it can. `before`/`after` (live and desired) decide the
 * fields the kernel changes in place only in some cases; without them those count as immutable.
 */
export function replaceCause(kind: ResourceKind, field: string, before?: Resource, after?: Resource): string | undefined {
  switch (kind) {
    case 'link':
      // A whole `vxlan`/`macvlan`/`veth` block appearing or vanishing implies a type change anyway.
      if (LINK_IMMUTABLE.some((p) => under(field, p) || p.startsWith(`${field}.`))) return IMMUTABLE;
      if (!CONDITIONAL.has(field)) return undefined;
      return before?.kind === 'link' && after?.kind === 'link' ? linkFieldCause(field, before, after) : IMMUTABLE;
    case 'rule':
      return IMMUTABLE; // rules cannot be modified, only deleted and re-added
    case 'qdisc':
      return field === 'qdisc' || field === 'handle' ? IMMUTABLE : undefined;
    case 'tclass':
      return field === 'parent' ? IMMUTABLE : undefined;
    case 'bpf':
      return under(field, 'attach') ? IMMUTABLE : undefined;
    default:
      return undefined;
  }
}

/** True when a change of this field cannot be applied in place (see replaceCause). */
export function isImmutable(kind: ResourceKind, field: string, before?: Resource, after?: Resource): boolean {
  return replaceCause(kind, field, before, after) !== undefined;
}
