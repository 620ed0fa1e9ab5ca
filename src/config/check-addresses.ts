// Address checks that need the whole config: addresses that the kernel takes but that never
// work (a duplicate on one L2 segment, an address on a bridge port, a VXLAN local nobody holds).
// Addresses that must be unique on their L2 segment. IPv6: Voltron adds addresses with nodad,
// so the kernel never notices a duplicate: each holder answers for the address itself (the two
// ends of a veth never reach each other) and the other nodes of the segment get either holder's
// neighbour advertisement. With DAD, one of them would be `dadfailed`. IPv4 has no DAD at all:
// both holders answer ARP, and each drops ARP sent from its own address (a martian source).
import { nsLabel } from '../model/keys';
import { isLinkLocal6 } from '../model/net';
import type { AddressRes, LinkRes, SourceRef } from '../model/types';
import { pushTo } from '../util/multimap';
import type { Ctx } from './ctx';
import { ptrJoin } from './types';

/**
 * Refuses an address declared in two namespaces on links that veth pairs, bridge ports and
 * macvlans join into one L2 segment, and an IPv6 address (any prefix length) declared twice on
 * one link (the kernel keys an IPv6 address by device and address, so the second add fails
 * EEXIST; IPv4 keys by prefix length too and takes both). One namespace may hold it on two
 * links of a segment (it answers for it either way: measured on a bridge and its port, before
 * addresses on ports were refused; a macvlan and its parent), and links of other segments may
 * share it (a gateway address on every veth, anycast on `lo`).
 */
export function checkAddressSegments(ctx: Ctx, links: readonly LinkRes[], addresses: readonly AddressRes[]): void {
  // The common case (no address twice) makes one map entry per address and no segments at all.
  const first = new Map<string, AddressRes>();
  const byIp = new Map<string, AddressRes[]>(); // only the addresses declared more than once
  for (const a of addresses) {
    const ip = a.address.slice(0, a.address.indexOf('/'));
    const f = first.get(ip);
    if (f === undefined) first.set(ip, a);
    else {
      const l = byIp.get(ip);
      if (l) l.push(a);
      else byIp.set(ip, [f, a]);
    }
  }
  if (byIp.size === 0) return;
  const shared = [...byIp.values()];
  const seg = segments(links);
  for (const holders of shared) {
    const earlier = new Map<string, AddressRes[]>(); // segment → the holders seen there
    for (const a of holders) {
      const link = `${a.namespace}/${a.dev}`;
      const s = seg(link);
      const before = earlier.get(s) ?? [];
      const v6 = a.address.includes(':');
      // One namespace may hold it on two links of one segment: it answers either way.
      const f = (v6 ? before.find((b) => b.namespace === a.namespace && b.dev === a.dev) : undefined) ?? before.find((b) => b.namespace !== a.namespace);
      pushTo(earlier, s, a);
      if (!f || !a.source) continue;
      const ip = a.address.slice(0, a.address.indexOf('/'));
      const at = f.source ? ` (first declared at ${where(ctx, f.source)})` : '';
      const segment = `'${a.dev}' and '${f.dev}' are on one L2 segment (veth pair, bridge and ports, macvlan and parent)`;
      const why =
        f.namespace === a.namespace
          ? `the kernel keeps one IPv6 address per device whatever its prefix length: adding the second fails (EEXIST)`
          : v6
            ? `${segment}: IPv6 addresses are added without duplicate address detection, so the kernel takes both: each namespace answers for the address itself (they never reach each other) and the segment's other nodes reach either`
            : `${segment}: IPv4 has no duplicate detection, so the kernel takes both: both namespaces answer ARP for it (the segment's other nodes send everything for it to the one that answered first: the other's replies go astray), and each drops ARP sent from its own address, so the two never reach each other, not even at their other addresses`;
      const path = ptrJoin(a.source.path, 'address');
      ctx.errors.push({
        file: a.source.file,
        ...ctx.pos(a.source.file, path),
        path,
        message: `IPv${v6 ? 6 : 4} address ${ip} is already declared on link '${f.dev}' in namespace ${nsLabel(f.namespace)}${at}: ${why}`,
      });
    }
  }
}

/**
 * Refuses an address on a bridge port. The bridge takes every frame the port receives (ARP and
 * neighbour replies, packets for the address go up the bridge), so the port's own stack never
 * gets an answer: the kernel takes the address, and nothing gets through either way (measured).
 * nmstate refuses it too. (Only an nftables `meta broute` rule, which Voltron does not see, lets
 * frames up a port's stack.) One lookup per address, and none without a port.
 */
export function checkAddressesOnPorts(ctx: Ctx, links: readonly LinkRes[], addresses: readonly AddressRes[]): void {
  const ports = new Map<string, Map<string, LinkRes>>(); // namespace → name → port (no key string per address)
  for (const l of links) {
    if (l.master === undefined) continue;
    let m = ports.get(l.namespace);
    if (!m) ports.set(l.namespace, (m = new Map()));
    m.set(l.name, l);
  }
  if (ports.size === 0) return;
  for (const a of addresses) {
    const p = ports.get(a.namespace)?.get(a.dev);
    if (p === undefined || !a.source) continue;
    const path = ptrJoin(a.source.path, 'dev');
    const at = p.source ? ` (master declared at ${fieldWhere(ctx, p.source, 'master')})` : '';
    ctx.errors.push({
      file: a.source.file,
      ...ctx.pos(a.source.file, path),
      path,
      message: `address ${a.address} is on '${a.dev}' in namespace ${nsLabel(a.namespace)}, a port of bridge '${p.master}'${at}: the bridge takes every frame the port receives (ARP and neighbour replies, packets for the address), so nothing sent from or to the address gets through; declare it on '${p.master}'`,
    });
  }
}

/**
 * Refuses a VXLAN `local` that no declared address of its namespace holds. The kernel takes the
 * device and brings it up, but routes no packet from an address it does not hold: every one is a
 * transmit error and nothing gets through (measured). Judged as route sources are: outside the
 * root (there the host has addresses the config does not declare), when every address is valid
 * and the config ignores nothing (an ignored, DHCP-run link may hold it).
 */
export function checkVxlanLocal(ctx: Ctx, links: readonly LinkRes[], addresses: readonly AddressRes[], ignoring = false): void {
  if (ignoring) return;
  // A link-local one may be the kernel's own (fe80:: from the MAC), never declared.
  const candidates = links.filter((l) => l.namespace !== '' && l.vxlan?.local !== undefined && !isLoopbackIp(l.vxlan.local) && !isLinkLocal6(l.vxlan.local));
  // Nearly every config: no VXLAN with a `local` in a namespace, nothing indexed.
  if (candidates.length === 0 || addressesIncomplete(ctx)) return;
  // A VXLAN with an error of its own (a bad mix of addresses) is not judged again.
  const flawed = new Set(ctx.errors.map((e) => `${e.file}\0${e.path.split('/').slice(0, 3).join('/')}`));
  const vxlans = candidates.filter((l) => l.source === undefined || !flawed.has(`${l.source.file}\0${l.source.path}`));
  const local = new Set(addresses.map((a) => `${a.namespace}|${a.address.slice(0, a.address.indexOf('/'))}`));
  for (const l of vxlans) {
    const ip = l.vxlan!.local!;
    if (local.has(`${l.namespace}|${ip}`) || !l.source) continue;
    const path = ptrJoin(l.source.path, 'vxlan', 'local');
    ctx.errors.push({
      file: l.source.file,
      ...ctx.pos(l.source.file, path),
      path,
      message: `local '${ip}' is not an address declared in namespace ${nsLabel(l.namespace)}: the kernel takes the VXLAN but sends no packet from an address the namespace does not hold (each is a transmit error); declare it on a link of ${nsLabel(l.namespace)}, or use one that is`,
    });
  }
}

/** 127/8 and ::1: on lo in every namespace. */
function isLoopbackIp(ip: string): boolean {
  return ip.startsWith('127.') || ip === '::1';
}

/** Some address was refused or left out (poisoned): the declared ones are not all there. */
function addressesIncomplete(ctx: Ctx): boolean {
  const p = ctx.poison;
  return p.all || p.kinds.has('addresses') || (p.names.get('addresses')?.size ?? 0) > 0 || ctx.errors.some((e) => e.path.startsWith('/addresses/'));
}

/** `file:line:col /path` of an address's `address` field. */
function where(ctx: Ctx, src: SourceRef): string {
  return fieldWhere(ctx, src, 'address');
}

/** `file:line:col /path` of a field of a declared object. */
function fieldWhere(ctx: Ctx, src: SourceRef, field: string): string {
  const path = ptrJoin(src.path, field);
  const p = ctx.pos(src.file, path);
  return `${src.file}:${p.line}:${p.column} ${path}`;
}

/**
 * The L2 segment of a link (`ns/name`), as a representative link key. A link declared down joins
 * nothing: it passes no frame (a veth end down takes its peer's carrier too, a bridge down
 * disables its ports), so holders behind it (a standby) do not clash while it stays down.
 */
function segments(links: readonly LinkRes[]): (link: string) => string {
  const parent = new Map<string, string>();
  const find = (k: string): string => {
    let r = k;
    for (let p = parent.get(r); p !== undefined && p !== r; p = parent.get(r)) r = p;
    // Path compression: later lookups of k and its chain are one step.
    for (let c = k, p = parent.get(c); p !== undefined && p !== r; c = p, p = parent.get(c)) parent.set(c, r);
    return r;
  };
  const down = new Set(links.filter((l) => l.state === 'down').map((l) => `${l.namespace}/${l.name}`));
  const join = (a: string, b: string): void => {
    if (down.has(a) || down.has(b)) return;
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
