// Make before break: a route or rule whose key changes (a route's metric or table, a rule's
// priority) is a delete of the old object and a create of the new one. Both can live in the
// kernel at once (different keys), so the create runs first and the old object goes after it,
// as Terraform's create_before_destroy: traffic always finds one of them.
import { resourceLabel } from '../model/keys';
import { pushTo } from '../util/multimap';
import { VOLTRON_RTPROT, type Resource, type RouteRes, type RuleRes } from '../model/types';
import type { Draft } from './drafts';
import type { Inventory } from './types';

/** What a route or rule matches: the traffic that moves from the deleted one to the created one. */
function trafficOf(r: Resource): string | undefined {
  if ((r.kind === 'route' || r.kind === 'rule') && r.unmodelled !== undefined) return undefined;
  if (r.kind === 'route') return `route|${r.namespace}|${r.family}|${r.to}`;
  if (r.kind === 'rule') return `rule|${r.namespace}|${r.family}|${r.from ?? ''}|${r.to ?? ''}|${r.fwmark ?? ''}|${r.fwmask ?? ''}|${r.iif ?? ''}|${r.oif ?? ''}`;
  return undefined;
}

/**
 * Whether deleting `old` once `made` exist removes `old` and only it. The kernel reads an IPv4
 * route delete's metric 0 as "any metric" (fib_nh_match): with the metric-0 route already gone
 * (its link set down, say), the delete would remove a new route of that table instead.
 */
function deletesOnlyOld(old: Resource, made: readonly Draft[]): boolean {
  if (old.kind !== 'route' || old.family !== 4 || old.metric !== 0) return true;
  return made.every((c) => (c.after as RouteRes).table !== old.table);
}

/**
 * Deletes of owned routes (rules) whose traffic a route (rule) this plan creates takes over: same
 * namespace, family and destination (rule selectors), another key. Delete key → the creates it
 * waits for. Only a plain create qualifies (not an object recreated with its link), and `early`
 * keeps a delete in the delete phase (something deleted there must wait for it).
 */
export function handovers(drafts: ReadonlyMap<string, Draft>, early: (d: Draft) => boolean): Map<string, string[]> {
  const made = new Map<string, Draft[]>();
  for (const x of drafts.values()) {
    if (x.action !== 'create' || x.before !== undefined || x.after === undefined) continue;
    const t = trafficOf(x.after);
    if (t === undefined) continue;
    pushTo(made, t, x);
  }
  const out = new Map<string, string[]>();
  if (made.size === 0) return out;
  for (const x of drafts.values()) {
    if (x.action !== 'delete' || x.before === undefined) continue;
    const t = trafficOf(x.before);
    const by = t === undefined ? undefined : made.get(t);
    if (by === undefined || !deletesOnlyOld(x.before, by) || early(x)) continue;
    out.set(x.key, by.map((c) => c.key));
  }
  return out;
}

/** Reason suffixes of a handover's create and delete (`seamless`: see handoverSeamless). */
export function handoverReasons(old: Draft, made: readonly Draft[], seamless: boolean): { made: string; old: string } {
  const one = made.length === 1;
  const then = seamless ? `${one ? 'takes' : 'take'} over its traffic` : `${one ? 'is' : 'are'} created`;
  return {
    made: `; created before ${resourceLabel(old.before!)}, which it replaces, is deleted`,
    old: `; deleted after ${made.map((c) => resourceLabel(c.after!)).join(' and ')} ${then}`,
  };
}

/**
 * Whether the old object's delete interrupts nothing: a rule's selectors, or a route's
 * destination in the same table, are then served by the new one. A route moved to another table
 * is reached only through the rules that look that table up.
 */
export function handoverSeamless(old: Resource, made: readonly Resource[]): boolean {
  if (old.kind === 'rule') return true;
  return made.every((m) => (m as RouteRes).table === (old as RouteRes).table);
}

/** A rule's fields as the kernel's rule lookup (rule_find) sees them: 0 or '' is "unset". */
function ruleSpec(r: RuleRes): Record<string, string | number> {
  const mark = r.fwmark ?? 0;
  return {
    action: r.action,
    table: r.table ?? 0,
    from: r.from ?? '',
    to: r.to ?? '',
    fwmark: mark,
    // A mark without a mask gets the full mask from the kernel.
    fwmask: r.fwmask ?? (mark !== 0 ? 0xffffffff : 0),
    iif: r.iif ?? '',
    oif: r.oif ?? '',
    protocol: r.protocol ?? VOLTRON_RTPROT,
  };
}

/**
 * Whether the kernel's rule lookup for `spec` (a delete, an exclusive add's existence check)
 * finds `r`: every field `spec` sets must be equal, those it leaves unset match anything
 * (net/core/fib_rules.c rule_find). Same namespace, family and priority assumed.
 */
export function ruleFinds(spec: RuleRes, r: RuleRes): boolean {
  const s = ruleSpec(spec);
  const x = ruleSpec(r);
  return Object.keys(s).every((f) => s[f] === 0 || s[f] === '' || s[f] === x[f]);
}

/**
 * Whether a rule replaced at its priority can be made before it is broken: the new rule added
 * first (the kernel evaluates rules of one priority in insertion order, the old one first), the
 * old one deleted after by its full spec. Not when the kernel cannot tell them apart: the add
 * would be refused as existing (the old rule matches the new one's spec), or the delete could
 * take the new rule (it matches the old one's spec: were the old one gone, by hand, say).
 */
export function ruleAddsFirst(before: RuleRes, after: RuleRes): boolean {
  return !ruleFinds(after, before) && !ruleFinds(before, after);
}

/** Whether two rules are the same to the kernel (each one's spec finds the other). */
export function sameRule(a: RuleRes, b: RuleRes): boolean {
  return ruleFinds(a, b) && ruleFinds(b, a);
}

/** Whether two rules match the same packets (`trafficOf`): a replace between them moves no traffic elsewhere. */
export function sameRuleTraffic(a: RuleRes, b: RuleRes): boolean {
  return trafficOf(a) !== undefined && trafficOf(a) === trafficOf(b);
}

/**
 * The owned key of an old rule a replace left live (interrupted between adding the new rule and
 * deleting the old one, under `apply --no-rollback`): the next plan deletes it by its full spec.
 */
export const LEFTOVER = '#leftover';
export const leftoverKey = (key: string): string => key + LEFTOVER;

/**
 * The rule a replace adds: the declared one, with the protocol of the rule it replaces when that
 * one is not Voltron's (an adopted rule keeps it, as an adopted route changed in place does).
 */
export function replacingRule(before: RuleRes, after: RuleRes): RuleRes {
  if (after.protocol !== undefined || before.protocol === undefined || before.protocol === VOLTRON_RTPROT) return after;
  return { ...after, protocol: before.protocol };
}

/** Whether a change is a rule replace made before it is broken: two kernel writes, add then delete. */
export function madeBeforeBroken(c: { readonly kind: string; readonly action: string; readonly before?: Resource; readonly after?: Resource }): boolean {
  return c.kind === 'rule' && c.action === 'replace' && ruleAddsFirst(c.before as RuleRes, c.after as RuleRes);
}

const PROTO_NAMES: Readonly<Record<number, string>> = { 3: 'boot', 4: 'static' };

/** A route or rule protocol as `ip` names the common ones (`static`), else its number. */
export function protoName(p: number): string {
  return PROTO_NAMES[p] ?? String(p);
}

/**
 * Declared routes that were there before Voltron (adopted: `Inventory.adopted`) whose key the
 * config changed (its `metric` or `table`): the config no longer declares the adopted route's
 * key, and declares, to the same destination (same namespace and family), one route new to it
 * (neither adopted nor owned by the last apply). The declared route moves there: the new route is
 * made with the old one's protocol and the old one deleted after it, by its full spec (its
 * protocol included), as a table or action edit of an adopted rule is. Only while the old route
 * is still the one recorded (its protocol) and the move is unambiguous (one such new route);
 * otherwise the old route is released as before. Old key → new key.
 * A pass over the declared routes only when an adopted route left the config.
 */
export function adoptedRouteMoves(desired: ReadonlyMap<string, Resource>, current: ReadonlyMap<string, Resource>, inv: Inventory): Map<string, string> {
  const out = new Map<string, string>();
  const adopted = inv.adopted;
  if (adopted === undefined) return out;
  const left = new Map<string, string>(); // traffic → old key
  const twice = new Set<string>();
  for (const k in adopted) {
    const rec = adopted[k]!;
    const live = current.get(k);
    if (desired.has(k) || inv.owned[k] !== undefined || live?.kind !== 'route' || rec.kind !== 'route') continue;
    if (live.protocol === undefined || live.protocol === VOLTRON_RTPROT || live.protocol !== rec.protocol) continue;
    const t = trafficOf(live);
    if (t === undefined) continue;
    if (left.has(t)) twice.add(t);
    left.set(t, k);
  }
  if (left.size === 0) return out;
  const to = new Map<string, string | null>(); // traffic → the one new route (null: several)
  for (const [k, d] of desired) {
    if (d.kind !== 'route' || adopted[k] !== undefined || inv.owned[k] !== undefined) continue;
    const t = trafficOf(d);
    if (t === undefined || !left.has(t)) continue;
    to.set(t, to.has(t) ? null : k);
  }
  for (const [t, k] of left) {
    const n = to.get(t);
    if (n === undefined || n === null || twice.has(t)) continue;
    // Live already: a move interrupted after its create (the new route has the old one's protocol).
    const there = current.get(n);
    if (there !== undefined && (there.kind !== 'route' || there.protocol !== (current.get(k) as RouteRes).protocol)) continue;
    out.set(k, n);
  }
  return out;
}
