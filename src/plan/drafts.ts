// Draft changes: what the diff of one object asks for, with its human reason.
import { nsLabel, resourceLabel } from '../model/keys';
import { QDISCS_RECREATED_ON_CHANGE, type LinkRes, type Resource, type ResourceKind, type RuleRes, type SysctlRes } from '../model/types';
import { IMMUTABLE, declaredFields, diffResource, replaceCause } from './compare';
import { fmtScalar } from './format';
import { LEFTOVER, protoName, replacingRule, ruleAddsFirst, sameRuleTraffic } from './handover';
import { KIND_RANK } from './refs';
import { mergeRanges, rangeItem, subtractRanges, toRanges } from '../util/ranges';
import type { ChangeAction, FieldChange, Inventory } from './types';

/** A change being built; cascades rewrite drafts before they are ordered into Changes. */
export interface Draft {
  action: ChangeAction;
  readonly key: string;
  readonly kind: ResourceKind;
  before?: Resource;
  after?: Resource;
  fields: FieldChange[];
  reason: string;
  disruptive: boolean;
  createdBy?: string;
  /** See Change.pairedPeer. */
  pairedPeer?: LinkRes;
  restore?: Resource;
  /** See Change.recorded. */
  recorded?: Resource;
  /** Re-enslave already added (keeps the fixpoint loop finite). */
  reenslaved?: boolean;
  /** The object's own fields force a replace (not a cascade). */
  ownReplace?: boolean;
}

/** Short reference for reasons: `link ovl-a/br0`, `namespace ovl-a`. */
export function ref(r: Resource): string {
  if (r.kind === 'link') return `link ${nsLabel(r.namespace)}/${r.name}`;
  return resourceLabel(r);
}

export function differReason(fields: readonly FieldChange[], r: Resource): string {
  const names = fields.map((f) => f.field);
  let s = names.length === 1 ? `${names[0]} differs` : `${names.slice(0, -1).join(', ')} and ${names[names.length - 1]} differ`;
  if (r.kind === 'route' && r.poolRef && names.some((n) => n.startsWith('encap'))) {
    s += ` (SRv6 pool ${r.poolRef.pool}, path ${r.poolRef.path})`;
  }
  return s;
}

/** A field that forces a replace, with its cause (IMMUTABLE or the kernel's reason). */
export interface ReplaceField {
  readonly change: FieldChange;
  readonly cause: string;
}

const fromTo = (f: FieldChange): string => `${fmtScalar(f.before, f.field)} → ${fmtScalar(f.after, f.field)}`;

function listText(parts: readonly string[]): string {
  return parts.length === 1 ? parts[0]! : `${parts.slice(0, -1).join(', ')} and ${parts[parts.length - 1]}`;
}

export function immutableReason(all: readonly ReplaceField[]): string {
  // A type change explains everything else that differs.
  const type = all.find((r) => r.change.field === 'type');
  const plain = (type ? [type] : all).filter((r) => type || r.cause === IMMUTABLE).map((r) => r.change);
  const out: string[] = [];
  if (plain.length === 1) out.push(`${plain[0]!.field} is immutable (${fromTo(plain[0]!)})`);
  else if (plain.length > 1 && plain.length <= 3) out.push(`${listText(plain.map((f) => `${f.field} (${fromTo(f)})`))} are immutable`);
  else if (plain.length > 3) out.push(`${plain.map((f) => f.field).join(', ')} are immutable`);
  // Fields the kernel changes in place except in this case: say why, once per cause.
  const noted = type ? [] : all.filter((r) => r.cause !== IMMUTABLE);
  for (const cause of new Set(noted.map((r) => r.cause))) {
    const fs = noted.filter((r) => r.cause === cause).map((r) => `${r.change.field} (${fromTo(r.change)})`);
    out.push(`${listText(fs)} cannot change in place: ${cause}`);
  }
  return out.join('; ');
}

const PLURAL: Readonly<Record<ResourceKind, [string, string]>> = {
  namespace: ['namespace', 'namespaces'],
  link: ['link', 'links'],
  address: ['address', 'addresses'],
  route: ['route', 'routes'],
  rule: ['rule', 'rules'],
  sysctl: ['sysctl', 'sysctls'],
  tunsrc: ['tunsrc setting', 'tunsrc settings'],
  qdisc: ['qdisc', 'qdiscs'],
  tclass: ['class', 'classes'],
  tfilter: ['filter', 'filters'],
  bpf: ['bpf program', 'bpf programs'],
};

export function countText(kinds: readonly ResourceKind[]): string {
  const n = new Map<ResourceKind, number>();
  for (const k of kinds) n.set(k, (n.get(k) ?? 0) + 1);
  const parts = [...n]
    .sort((a, b) => KIND_RANK[a[0]] - KIND_RANK[b[0]])
    .map(([k, c]) => `${c} ${PLURAL[k][c === 1 ? 0 : 1]}`);
  return parts.length === 1 ? parts[0]! : `${parts.slice(0, -1).join(', ')} and ${parts[parts.length - 1]}`;
}

export const isLink = (r: Resource | undefined): r is LinkRes => r?.kind === 'link';

/** Order `key` after each of `keys` (runAfter: what schedule() must run first). */
export function runAfterAll(runAfter: Map<string, Set<string>>, key: string, keys: Iterable<string>): void {
  const after = runAfter.get(key) ?? new Set<string>();
  for (const k of keys) after.add(k);
  runAfter.set(key, after);
}

/** A declared sysctl written (again) although it may read as in sync: the kernel overwrites it. */
export function rewriteSysctlDraft(key: string, live: SysctlRes, d: SysctlRes, reason: string): Draft {
  return { action: 'update', key, kind: 'sysctl', before: live, after: d, fields: [{ field: 'value', before: live.value, after: d.value }], reason, disruptive: false };
}

export function createDraft(key: string, d: Resource, reason: string): Draft {
  const pool = d.kind === 'route' && d.poolRef ? ` (SRv6 pool ${d.poolRef.pool}, path ${d.poolRef.path})` : '';
  return { action: 'create', key, kind: d.kind, after: d, fields: declaredFields(d), reason: reason + pool, disruptive: false };
}


/**
 * A rule replaced at its priority: added before the old one is deleted where the kernel tells
 * them apart (ruleAddsFirst); then no packet falls through to later rules meanwhile, and one
 * whose selectors stay interrupts nothing.
 */
function ruleReplace(x: Draft, before: RuleRes, declared: RuleRes): Draft {
  // An adopted rule (there before Voltron) keeps its protocol, as an adopted route does.
  const after = replacingRule(before, declared);
  const kept = after === declared ? '' : `; the new rule keeps the protocol of the old one (${protoName(after.protocol!)}), there before Voltron`;
  if (!ruleAddsFirst(before, after)) {
    return { ...x, after, reason: `${x.reason}; the old rule is deleted before the new one is added: the kernel cannot tell them apart${kept}` };
  }
  const seamless = sameRuleTraffic(before, after);
  const reason = `${x.reason}; the new rule is added before the old one is deleted${seamless ? ', so its traffic always matches one of them' : ''}${kept}`;
  return { ...x, after, reason, disruptive: !seamless };
}

export function changeDraft(key: string, d: Resource, c: Resource): Draft | undefined {
  let fields = diffResource(d, c);
  if (fields.length === 0) return undefined;
  const imm: ReplaceField[] = [];
  for (const f of fields) {
    const cause = replaceCause(d.kind, f.field, c, d);
    if (cause !== undefined) imm.push({ change: f, cause });
  }
  if (imm.length > 0) {
    const draft: Draft = { action: 'replace', key, kind: d.kind, before: c, after: d, fields, reason: immutableReason(imm), disruptive: true, ownReplace: true };
    return d.kind === 'rule' ? ruleReplace(draft, c as RuleRes, d as RuleRes) : draft;
  }
  let disruptive = false;
  let reason = differReason(fields, d);
  if (d.kind === 'link' && c.kind === 'link') {
    const masterChanges = fields.some((f) => f.field === 'master');
    // Leaving or joining a bridge flushes the port's VLANs: re-apply declared ones.
    if (masterChanges && d.vlans !== undefined && !fields.some((f) => f.field === 'vlans')) {
      fields = [...fields, { field: 'vlans', before: c.vlans, after: d.vlans }].sort((a, b) => (a.field < b.field ? -1 : 1));
      reason += ' (the move flushes its VLANs: set again)';
    }
    const dropped = droppedMembers(c, d, fields);
    if (dropped) reason += `; stops carrying ${dropped}`;
    disruptive = masterChanges || (c.state === 'up' && d.state === 'down') || dropped !== undefined;
  }
  if (d.kind === 'qdisc' && QDISCS_RECREATED_ON_CHANGE.has(d.qdisc)) {
    disruptive = true;
    reason += `; ${d.qdisc} cannot change options in place: recreated with its classes, dropping queued packets`;
  }
  return { action: 'update', key, kind: d.kind, before: c, after: d, fields, reason, disruptive };
}

/** VNIs an update takes out of a VXLAN's filter, VLANs out of a bridge or port (`VNI 300, 310-319`), if any. */
function droppedMembers(c: LinkRes, d: LinkRes, fields: readonly FieldChange[]): string | undefined {
  const out: string[] = [];
  if (fields.some((f) => f.field === 'vnis')) {
    const gone = subtractRanges(mergeRanges(c.vnis ?? []), mergeRanges(d.vnis ?? []));
    if (gone.length > 0) out.push(`VNI ${gone.map(rangeItem).join(', ')}`);
  }
  if (fields.some((f) => f.field === 'vlans')) {
    const keep = new Set((d.vlans ?? []).map((v) => v.vid));
    const gone = toRanges((c.vlans ?? []).map((v) => v.vid).filter((v) => !keep.has(v)));
    if (gone.length > 0) out.push(`VLAN ${gone.map(rangeItem).join(', ')}`);
  }
  return out.length > 0 ? out.join(' and ') : undefined;
}

export function deleteDraft(key: string, c: Resource, inv: Inventory): Draft | undefined {
  if (c.kind === 'sysctl' || c.kind === 'tunsrc') {
    // These always exist in the kernel: "delete" restores the value found before the first apply.
    const orig = inv.original[key];
    const now = c.kind === 'sysctl' ? c.value : c.address;
    if (orig === undefined || orig === now) return undefined;
    const restore: Resource = c.kind === 'sysctl' ? { ...c, value: orig } : { ...c, address: orig };
    return {
      action: 'delete',
      key,
      kind: c.kind,
      before: c,
      fields: [],
      reason: `no longer declared: restore original value ${fmtScalar(orig)}`,
      disruptive: true,
      restore,
    };
  }
  const recorded = inv.owned[key];
  const reason = key.endsWith(LEFTOVER)
    ? 'left by a replace interrupted between adding the new rule and deleting this one (apply --no-rollback, recover --abandon); deleted by its full spec'
    : 'no longer declared (owned since a previous apply)';
  return { action: 'delete', key, kind: c.kind, before: c, fields: [], reason, disruptive: true, ...(recorded ? { recorded } : {}) };
}
