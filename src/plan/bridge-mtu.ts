// A bridge whose MTU was never changed follows its ports: the kernel sets it to their lowest MTU
// whenever a port joins, leaves or changes MTU (br_mtu_auto_adjust), until a write that changes
// the bridge's MTU marks it "set by user". A declared MTU that is already the live one gets no
// such write from the diff, so a plan that changes the ports would let the kernel move it (the
// apply then fails to verify). Such a bridge gets an explicit MTU step in that plan: its
// executor changes the MTU off and back (src/kernel/link.ts), which marks it.
import type { LinkRes, Resource } from '../model/types';
import { isLink, type Draft } from './drafts';

/** Whether a draft adds, removes or re-sizes a port of bridge `ns/name`. */
function touchesPorts(x: Draft, ns: string, name: string): boolean {
  if (x.kind !== 'link') return false;
  const on = (r: Resource | undefined) => isLink(r) && r.namespace === ns && r.master === name;
  if (x.action !== 'update') return on(x.before) || on(x.after);
  if (!on(x.before) && !on(x.after)) return false;
  return x.fields.some((f) => f.field === 'master' || f.field === 'mtu');
}

export function pinBridgeMtus(drafts: Map<string, Draft>, desired: ReadonlyMap<string, Resource>, current: ReadonlyMap<string, Resource>): void {
  const all = [...drafts.values()];
  for (const [key, d] of desired) {
    if (!isLink(d) || d.type !== 'bridge' || d.mtu === undefined) continue;
    const live = current.get(key) as LinkRes | undefined;
    const own = drafts.get(key);
    // A created bridge is pinned by its creation; a differing MTU is changed, which pins it.
    if (live === undefined || (own && own.action !== 'update') || own?.fields.some((f) => f.field === 'mtu')) continue;
    if (!all.some((x) => x.key !== key && touchesPorts(x, d.namespace, d.name))) continue;
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
