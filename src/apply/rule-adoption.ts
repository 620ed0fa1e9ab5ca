// Rules Voltron did not create but the config declares (adopted), and the leftover of a rule
// replace interrupted between its add and its delete: where the read keys them, how an adopted
// rule's edit is allowed, and the refusal naming the rules when it is not.
import { VOLTRON_RTPROT, type Resource, type RuleRes, type StateMap } from '../model/types';
import type { KernelSession } from '../kernel/session';
import { LEFTOVER, sameRule, sameRuleTraffic } from '../plan/handover';
import type { Change, Inventory } from '../plan/types';
import { pushTo } from '../util/multimap';

/**
 * A declared rule that was there before Voltron (adopted: not owned) is edited as Voltron's own
 * are, by a replace that keeps its protocol (replacingRule) and deletes it by its full spec: ''
 * then. Only a `table` or `action` edit, of the one such rule at the priority with the declared
 * selectors (adoptDeclaredRules keys it first): another rule there is otherwise as likely to be
 * someone else's, which Voltron never deletes (a problem naming the rules and their deletes).
 * Undefined: not a rule replace.
 */
export function adoptedRuleEdit(session: KernelSession, c: Change, current: ReadonlyMap<string, Resource>): string | undefined {
  if (c.kind !== 'rule' || c.action !== 'replace' || c.before?.kind !== 'rule') return undefined;
  const after = c.after as RuleRes;
  const others = asideOf(current, c.key)
    .map((k) => current.get(k) as RuleRes)
    .filter((r) => r.protocol !== VOLTRON_RTPROT && r.unmodelled === undefined);
  if (sameRuleTraffic(c.before, after) && !others.some((r) => sameRuleTraffic(r, after))) return '';
  const held = [c.before, ...others];
  const ns = ipNetnsOption(session, c.before.namespace);
  const del = (r: RuleRes) => `ip${ns} -${r.family} rule del ${ruleArgs(r)}`;
  const which = held.some((r) => sameRuleTraffic(r, after)) ? 'more than one with the declared selectors' : 'none with the declared selectors';
  const who = held.length === 1 ? 'a rule Voltron did not create holds this priority with other selectors' : `${held.length} rules Voltron did not create hold this priority, ${which}`;
  return (
    `${c.label}: ${who} (${held.map(ruleArgs).join('; ')}); ` +
    `Voltron edits such a rule only in its table or action, where it is the one with the declared selectors, and never deletes another ` +
    `(delete yourself the ones the config replaces: ${held.map(del).join('; ')}; or declare the rule at a free priority)`
  );
}

/** A rule as `ip rule` arguments (its full spec: what deletes only it). */
function ruleArgs(r: RuleRes): string {
  const mark = r.fwmark !== undefined ? `fwmark ${r.fwmark}${r.fwmask !== undefined ? `/0x${r.fwmask.toString(16)}` : ''}` : '';
  const what = r.action === 'lookup' ? `table ${r.table}` : r.action;
  const parts = [`priority ${r.priority}`, r.from ? `from ${r.from}` : '', r.to ? `to ${r.to}` : '', mark, r.iif ? `iif ${r.iif}` : '', r.oif ? `oif ${r.oif}` : '', what, `proto ${r.protocol ?? VOLTRON_RTPROT}`];
  return parts.filter((x) => x).join(' ');
}

/**
 * Several rules Voltron did not make can share a declared rule's priority, and the read keys the
 * first (kernel order) as the rule's: the plan would then replace that one. The declared rule is
 * the one equal to it (protocol aside: an adopted rule keeps its own), else the only one with its
 * selectors (a `table` or `action` edit of it). `aside`: the set-aside rule keys (`<key>#N`).
 * Not at keys Voltron's own rule holds: another rule there is someone else's.
 */
export function adoptDeclaredRules(current: Map<string, Resource>, desired: StateMap, inventory: Inventory, aside: readonly string[]): void {
  const bases = new Map<string, string[]>();
  for (const a of aside) {
    const at = a.lastIndexOf('#');
    if (/^[0-9]+$/.test(a.slice(at + 1))) pushTo(bases, a.slice(0, at), a);
  }
  for (const [k, keys] of bases) {
    const d = desired.get(k);
    const here = current.get(k) as RuleRes | undefined;
    const known = inventory.owned[k];
    // A restore's inventory owns the adopted rules it puts back, with their protocol.
    const ours = known !== undefined && (known.kind !== 'rule' || (known.protocol ?? VOLTRON_RTPROT) === VOLTRON_RTPROT);
    if (d?.kind !== 'rule' || ours || here?.protocol === VOLTRON_RTPROT) continue;
    const equal = (r: RuleRes | undefined) => r !== undefined && sameRule({ ...d, protocol: r.protocol }, r);
    if (equal(here)) continue;
    const rules = keys.filter((a) => (current.get(a) as RuleRes).unmodelled === undefined);
    let pick = rules.find((a) => equal(current.get(a) as RuleRes));
    if (pick === undefined && !(here !== undefined && sameRuleTraffic(d, here))) {
      const same = rules.filter((a) => sameRuleTraffic(d, current.get(a) as RuleRes));
      if (same.length === 1) pick = same[0];
    }
    if (pick === undefined) continue;
    const r = current.get(pick)!;
    if (here !== undefined) current.set(pick, here);
    else current.delete(pick);
    current.set(k, r);
  }
}

/** The keys `<key>#N` of the live objects the read set aside beside `key` (a scan: for rare cases only). */
function asideOf(current: ReadonlyMap<string, Resource>, key: string): string[] {
  const p = `${key}#`;
  return [...current.keys()].filter((k) => k.startsWith(p) && /^[0-9]+$/.test(k.slice(p.length)));
}

/**
 * A rule replace interrupted between its add and its delete leaves two rules at the priority
 * (InventoryBuilder.recordHalf), which the read keys as `<key>` and `<key>#N`. The stray one (the
 * old rule, or the new one if the config went back to the old) goes under its leftover key, where
 * the plan deletes it by its full spec; the declared (or recorded) one keeps the rule's key.
 */
export function placeRuleLeftovers(current: Map<string, Resource>, desired: StateMap, inventory: Inventory): void {
  for (const lk in inventory.owned) {
    const old = inventory.owned[lk]!;
    if (!lk.endsWith(LEFTOVER) || old.kind !== 'rule') continue;
    const k = lk.slice(0, -LEFTOVER.length);
    const d = desired.get(k);
    const rec = inventory.owned[k];
    const slots = [k, ...asideOf(current, k)];
    const live = (s: string) => current.get(s) as RuleRes | undefined;
    // The declared rule, as a replace made it: Voltron's protocol, or the one it kept (replacingRule).
    const declared = (r: RuleRes) => d?.kind === 'rule' && (r.protocol === VOLTRON_RTPROT || r.protocol === old.protocol) && sameRule({ ...d, protocol: r.protocol }, r);
    const stray = (x: Resource | undefined) => (x?.kind === 'rule' ? slots.find((s) => live(s) !== undefined && !declared(live(s)!) && sameRule(x, live(s)!)) : undefined);
    const at = stray(old) ?? stray(rec);
    if (at === undefined) continue; // gone (by hand), or the declared rule itself
    current.set(lk, current.get(at)!);
    current.delete(at);
    if (at !== k) continue;
    const next = slots.find((s) => s !== k && live(s) !== undefined && (declared(live(s)!) || (rec?.kind === 'rule' && sameRule(rec, live(s)!))));
    if (next === undefined) continue;
    current.set(k, current.get(next)!);
    current.delete(next);
  }
}

/** ` -n NS` for an `ip` command in a logical namespace (in a sandbox, the root one is the sandbox's). */
export function ipNetnsOption(session: KernelSession, ns: string): string {
  const phys = session.physical(ns);
  return phys === null ? '' : ` -n ${phys}`;
}
