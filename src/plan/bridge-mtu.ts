// A bridge whose MTU was never changed follows its ports: the kernel sets it to their lowest MTU
// whenever a port joins, leaves or changes MTU (br_mtu_auto_adjust), until a write that changes
// the bridge's MTU marks it "set by user". A declared MTU that is already the live one gets no
// such write from the diff, so a plan that changes the ports would let the kernel move it (the
// apply then fails to verify). Such a bridge gets an explicit MTU step in that plan: its
// executor changes the MTU off and back (src/kernel/link.ts), which marks it. Port deletes run
// before it (all deletes come first): the bridge may follow them down, and drag its macvlans
// down with it (a macvlan follows its parent down, never up), so declared macvlan MTUs on it are
// written again after the step.
import type { LinkRes, Resource } from '../model/types';
import { isLink, type Draft } from './drafts';
import { linkKey } from './refs';

/** The part of a draft or a planned change that tells whether it moves a bridge's ports. */
type PortChange = Pick<Draft, 'kind' | 'action' | 'before' | 'after'> & { readonly fields: readonly { readonly field: string }[] };

/**
 * Bridges (`ns/name`) whose ports a draft or change adds, removes or re-sizes. The executor
 * pins (src/apply/execute.ts) the MTU writes of these bridges even when they change the value:
 * the kernel may already have moved the bridge to it by then (its ports, deleted earlier in the
 * plan, leave), and a write of the MTU a link has does not mark it.
 */
export function bridgesWithPortChanges(changes: Iterable<PortChange>): Set<string> {
  const out = new Set<string>();
  for (const x of changes) {
    if (x.kind !== 'link') continue;
    if (x.action === 'update' && !x.fields.some((f) => f.field === 'master' || f.field === 'mtu')) continue;
    for (const r of [x.before, x.after]) if (isLink(r) && r.master !== undefined) out.add(`${r.namespace}/${r.master}`);
  }
  return out;
}

const byField = (a: { field: string }, b: { field: string }): number => (a.field < b.field ? -1 : a.field > b.field ? 1 : 0);

/** Add a same-value field write to an object's draft (or a new update draft). */
function rewrite(drafts: Map<string, Draft>, key: string, live: LinkRes, d: LinkRes, field: string, why: string): void {
  const own = drafts.get(key);
  const f = { field, before: (live as unknown as Record<string, unknown>)[field], after: (d as unknown as Record<string, unknown>)[field] };
  drafts.set(
    key,
    own
      ? { ...own, fields: [...own.fields, f].sort(byField), reason: `${own.reason}; ${why}` }
      : { action: 'update', key, kind: 'link', before: live, after: d, fields: [f], reason: why, disruptive: false },
  );
}

export function pinBridgeMtus(drafts: Map<string, Draft>, desired: ReadonlyMap<string, Resource>, current: ReadonlyMap<string, Resource>): void {
  const touched = bridgesWithPortChanges(drafts.values());
  if (touched.size === 0) return;
  const deleted = new Set<string>();
  for (const x of drafts.values()) if (x.action === 'delete' && isLink(x.before) && x.before.master !== undefined) deleted.add(`${x.before.namespace}/${x.before.master}`);
  for (const [key, d] of desired) {
    if (!isLink(d) || d.type !== 'bridge' || d.mtu === undefined) continue;
    const live = current.get(key) as LinkRes | undefined;
    const own = drafts.get(key);
    // A created bridge is pinned by its creation; a differing MTU's write is a pin (the executor
    // pins the MTU writes of the bridges bridgesWithPortChanges names).
    if (live === undefined || (own && own.action !== 'update') || own?.fields.some((f) => f.field === 'mtu')) continue;
    if (!touched.has(`${d.namespace}/${d.name}`)) continue;
    rewrite(drafts, key, live, d, 'mtu', `its ports change: the declared mtu is written (off and back) so that the kernel stops making the bridge follow its ports' mtu`);
  }
  // A bridge whose mtu this plan writes may be unmarked: deleted ports may drag it, and its
  // macvlans, down before the write; the macvlans' declared mtus are written again after it.
  for (const [mk, m] of desired) {
    if (!isLink(m) || m.macvlan === undefined || m.mtu === undefined) continue;
    const at = `${m.namespace}/${m.macvlan.parent}`;
    const bridge = drafts.get(linkKey(m.namespace, m.macvlan.parent));
    if (!deleted.has(at) || bridge?.action !== 'update' || !bridge.fields.some((f) => f.field === 'mtu')) continue;
    const mLive = current.get(mk) as LinkRes | undefined;
    const mOwn = drafts.get(mk);
    if (mLive === undefined || (mOwn && mOwn.action !== 'update') || mOwn?.fields.some((f) => f.field === 'mtu')) continue;
    rewrite(drafts, mk, mLive, m, 'mtu', `written again after the mtu of ${m.macvlan.parent}: a port of it is deleted first, and the bridge may drag its macvlans' mtu down with its own`);
  }
}

/**
 * A bridge whose MAC nobody set follows its ports too: the kernel gives it their lowest MAC
 * whenever a port joins, leaves or changes its MAC (br_stp_recalculate_bridge_id), until a MAC
 * write marks it set (NET_ADDR_SET; a write of the MAC it has does too). A declared MAC that is
 * already the live one gets no write from the diff (the MAC of an adopted bridge, as `show`
 * prints it), so a plan that moves such a bridge's ports would let the kernel change it (the
 * apply then fails to verify). It gets a same-value MAC write in that plan: before the ports
 * move it marks the MAC, after them it restores it.
 */
export function pinBridgeMacs(drafts: Map<string, Draft>, desired: ReadonlyMap<string, Resource>, current: ReadonlyMap<string, Resource>): void {
  const touched = new Set<string>();
  for (const x of drafts.values()) {
    if (x.kind !== 'link') continue;
    if (x.action === 'update' && !x.fields.some((f) => f.field === 'master' || f.field === 'mac')) continue;
    for (const r of [x.before, x.after]) if (isLink(r) && r.master !== undefined) touched.add(`${r.namespace}/${r.master}`);
  }
  if (touched.size === 0) return;
  for (const [key, d] of desired) {
    if (!isLink(d) || d.type !== 'bridge' || d.mac === undefined || !touched.has(`${d.namespace}/${d.name}`)) continue;
    const live = current.get(key) as LinkRes | undefined;
    const own = drafts.get(key);
    // A created bridge is given its MAC at creation (marked); a differing MAC is written anyway.
    if (live === undefined || (own && own.action !== 'update') || own?.fields.some((f) => f.field === 'mac')) continue;
    rewrite(drafts, key, live, d, 'mac', `its ports change: the declared mac is written so that the kernel stops giving the bridge its ports' lowest mac`);
  }
}
