// A bridge whose MTU was never changed follows its ports: the kernel sets it to their lowest MTU
// whenever a port joins, leaves or changes MTU (br_mtu_auto_adjust), until a write that changes
// the bridge's MTU marks it "set by user". A declared MTU that is already the live one gets no
// such write from the diff, so a plan that changes the ports would let the kernel move it (the
// apply then fails to verify). Such a bridge gets an explicit MTU step in that plan: its
// executor changes the MTU off and back (src/kernel/link.ts), which marks it.
import type { LinkRes, Resource } from '../model/types';
import { isLink, type Draft } from './drafts';

/** Bridges (`ns/name`) whose ports a draft adds, removes or re-sizes. */
function bridgesWithPortChanges(drafts: ReadonlyMap<string, Draft>): Set<string> {
  const out = new Set<string>();
  for (const x of drafts.values()) {
    if (x.kind !== 'link') continue;
    if (x.action === 'update' && !x.fields.some((f) => f.field === 'master' || f.field === 'mtu')) continue;
    for (const r of [x.before, x.after]) if (isLink(r) && r.master !== undefined) out.add(`${r.namespace}/${r.master}`);
  }
  return out;
}

export function pinBridgeMtus(drafts: Map<string, Draft>, desired: ReadonlyMap<string, Resource>, current: ReadonlyMap<string, Resource>): void {
  const touched = bridgesWithPortChanges(drafts);
  if (touched.size === 0) return;
  for (const [key, d] of desired) {
    if (!isLink(d) || d.type !== 'bridge' || d.mtu === undefined) continue;
    const live = current.get(key) as LinkRes | undefined;
    const own = drafts.get(key);
    // A created bridge is pinned by its creation; a differing MTU is changed, which pins it.
    if (live === undefined || (own && own.action !== 'update') || own?.fields.some((f) => f.field === 'mtu')) continue;
    if (!touched.has(`${d.namespace}/${d.name}`)) continue;
    const field = { field: 'mtu', before: live.mtu, after: d.mtu };
    const why = `its ports change: the declared mtu is written (off and back) so that the kernel stops making the bridge follow its ports' mtu`;
    drafts.set(
      key,
      own
        ? { ...own, fields: [...own.fields, field].sort((a, b) => (a.field < b.field ? -1 : a.field > b.field ? 1 : 0)), reason: `${own.reason}; ${why}` }
        : { action: 'update', key, kind: 'link', before: live, after: d, fields: [field], reason: why, disruptive: false },
    );
  }
}
