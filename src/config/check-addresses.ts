// IPv6 addresses that must be unique on their L2 segment. Voltron adds IPv6 addresses with
// nodad, so the kernel never notices a duplicate: each holder answers for the address itself
// (the two ends of a veth never reach each other) and the other nodes of the segment get
// either holder's neighbour advertisement. With DAD, one of them would be `dadfailed`.
import { nsLabel } from '../model/keys';
import type { AddressRes, LinkRes, SourceRef } from '../model/types';
import { pushTo } from '../util/multimap';
import type { Ctx } from './ctx';
import { ptrJoin } from './types';

/**
 * Refuses an IPv6 address (any prefix length) declared twice on one link (the kernel keys an
 * IPv6 address by device and address, so the second add fails EEXIST), or in two namespaces on
 * links that veth pairs, bridge ports and macvlans join into one L2 segment. One namespace may
 * hold it on two links of a segment (it answers for it either way: measured on a bridge and its
 * port), and links of other segments may share it. IPv4 is not judged.
 */
export function checkAddressSegments(ctx: Ctx, links: readonly LinkRes[], addresses: readonly AddressRes[]): void {
  const byIp = new Map<string, AddressRes[]>();
  for (const a of addresses) if (a.address.includes(':')) pushTo(byIp, a.address.slice(0, a.address.indexOf('/')), a);
  const shared = [...byIp.values()].filter((l) => l.length > 1);
  // The common case (no IPv6 address twice) builds no segments at all.
  if (shared.length === 0) return;
  const seg = segments(links);
  for (const holders of shared) {
    const earlier = new Map<string, AddressRes[]>(); // segment → the holders seen there
    for (const a of holders) {
      const link = `${a.namespace}/${a.dev}`;
      const s = seg(link);
      const before = earlier.get(s) ?? [];
      // One namespace may hold it on two links of one segment: it answers either way.
      const f = before.find((b) => b.namespace === a.namespace && b.dev === a.dev) ?? before.find((b) => b.namespace !== a.namespace);
      pushTo(earlier, s, a);
      if (!f || !a.source) continue;
      const ip = a.address.slice(0, a.address.indexOf('/'));
      const at = f.source ? ` (first declared at ${where(ctx, f.source)})` : '';
      const why =
        f.dev === a.dev && f.namespace === a.namespace
          ? `the kernel keeps one IPv6 address per device whatever its prefix length: adding the second fails (EEXIST)`
          : `'${a.dev}' and '${f.dev}' are on one L2 segment (veth pair, bridge and ports, macvlan and parent): IPv6 addresses are added without duplicate address detection, so the kernel takes both: each namespace answers for the address itself (they never reach each other) and the segment's other nodes reach either`;
      const path = ptrJoin(a.source.path, 'address');
      ctx.errors.push({
        file: a.source.file,
        ...ctx.pos(a.source.file, path),
        path,
        message: `IPv6 address ${ip} is already declared on link '${f.dev}' in namespace ${nsLabel(f.namespace)}${at}: ${why}`,
      });
    }
  }
}

/** `file:line:col /path` of an address's `address` field. */
function where(ctx: Ctx, src: SourceRef): string {
  const path = ptrJoin(src.path, 'address');
  const p = ctx.pos(src.file, path);
  return `${src.file}:${p.line}:${p.column} ${path}`;
}

/** The L2 segment of a link (`ns/name`), as a representative link key. */
function segments(links: readonly LinkRes[]): (link: string) => string {
  const parent = new Map<string, string>();
  const find = (k: string): string => {
    let r = k;
    for (let p = parent.get(r); p !== undefined && p !== r; p = parent.get(r)) r = p;
    // Path compression: later lookups of k and its chain are one step.
    for (let c = k, p = parent.get(c); p !== undefined && p !== r; c = p, p = parent.get(c)) parent.set(c, r);
    return r;
  };
  const join = (a: string, b: string): void => {
    const ra = find(a);
    const rb = find(b);
    if (ra !== rb) parent.set(ra, rb);
  };
  const vlanFiltering = new Set(links.filter((l) => l.bridge?.vlanFiltering).map((l) => `${l.namespace}/${l.name}`));
  for (const l of links) {
    const k = `${l.namespace}/${l.name}`;
    if (l.veth?.primary) join(k, `${l.veth.peer.namespace}/${l.veth.peer.name}`);
    // A VLAN-filtering bridge splits its ports into VLANs: not judged, rather than guessed.
    if (l.master !== undefined && !vlanFiltering.has(`${l.namespace}/${l.master}`)) join(k, `${l.namespace}/${l.master}`);
    // Every macvlan mode shares its parent's wire (bridge mode also its siblings directly).
    if (l.macvlan) join(k, `${l.namespace}/${l.macvlan.parent}`);
  }
  return find;
}
