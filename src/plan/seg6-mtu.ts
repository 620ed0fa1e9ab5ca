// Forwarded packets that a seg6 encap route drops without telling their sender. The kernel
// encapsulates a forwarded packet on input (seg6_input), before any MTU check, and ignores the
// route's own mtu for it (measured on 6.18: a route at mtu 1300 forwarded 1436-byte packets);
// the packet, 40 + 8 + 16·n bytes larger, is then dropped if it no longer fits the outgoing
// link, and the ICMPv6 Packet Too Big goes to the outer source, the node's own tunsrc. The
// sender hears nothing: pings above the limit go unanswered, TCP stalls after its handshake.
import { nsLabel, resourceKey } from '../model/keys';
import type { LinkRes, RouteRes, StateMap, SysctlRes } from '../model/types';
import { linkKey } from './refs';

/** A live sysctl of a namespace Voltron neither declares nor read (undefined: not known). */
export type LiveSysctl = (namespace: string, key: string) => string | undefined;

/** veth's default mtu: a new one without a declared mtu gets it. */
const VETH_MTU = 1500;

/**
 * One line per seg6 encap route in a forwarding namespace whose links accept packets that
 * no longer fit its device once encapsulated. The limit is the route device's mtu (declared,
 * else live) less the encapsulation, else the route's own mtu (derived from a 1500-byte link).
 * A namespace that does not forward (the common host-only case) is never judged, nor a link whose
 * mtu is neither declared nor live (but a new veth's 1500).
 */
export function seg6MtuGaps(desired: StateMap, current: StateMap, live?: LiveSysctl): string[] {
  const routes: RouteRes[] = [];
  for (const r of desired.values()) if (r.kind === 'route' && r.encap?.type === 'seg6' && r.encap.mode === 'encap' && r.dev !== undefined) routes.push(r);
  // No seg6 encap route (nearly every config): nothing more to look at.
  if (routes.length === 0) return [];
  // By key: the same plan whatever order the maps were filled in.
  routes.sort((a, b) => (resourceKey(a) < resourceKey(b) ? -1 : 1));
  const out: string[] = [];
  const byNs = new Map<string, { name: string; mtu: number }[]>();
  for (const r of routes) {
    const fwd = forwarding(r.namespace, r.family, desired, current, live);
    if (fwd === undefined) continue;
    const overhead = 40 + 8 + 16 * (r.encap as { segments: readonly string[] }).segments.length;
    const devMtu = mtuOf(linkKey(r.namespace, r.dev!), desired, current);
    const limit = devMtu !== undefined ? devMtu - overhead : r.mtu;
    if (limit === undefined) continue;
    let links = byNs.get(r.namespace);
    if (!links) byNs.set(r.namespace, (links = linksOf(r.namespace, desired, current)));
    const feeders = links.filter((f) => f.name !== r.dev && f.mtu > limit);
    if (feeders.length === 0) continue;
    const named = feeders.map((f) => `${f.name} (mtu ${f.mtu})`).join(', ');
    const fit = devMtu !== undefined ? `${r.dev} (mtu ${devMtu})` : `${r.dev} (taken as 1500 bytes, as the route's mtu is)`;
    const mss = limit - (r.family === 6 ? 60 : 40);
    const room = feeders.reduce((m, f) => Math.max(m, f.mtu), 0) + overhead;
    out.push(
      `route ${nsLabel(r.namespace)} ${r.to} (seg6 encap, mtu ${r.mtu ?? 'unset'}): namespace ${nsLabel(r.namespace)} forwards (${fwd}) and ${named} ` +
        `can bring it packets larger than ${limit} bytes, which no longer fit ${fit} once encapsulated (${overhead} bytes): the kernel drops them and sends ` +
        `the Packet Too Big to the tunsrc, not to the sender. Set those links' mtu (both ends of a veth) to ${limit} or lower, clamp TCP MSS to ${mss}, or give ${r.dev} mtu ${room}`,
    );
  }
  return out;
}

/** `key = value` of the forwarding sysctl that makes the namespace forward this family, or undefined. */
function forwarding(ns: string, family: 4 | 6, desired: StateMap, current: StateMap, live?: LiveSysctl): string | undefined {
  const keys = family === 6 ? ['net.ipv6.conf.all.forwarding'] : ['net.ipv4.ip_forward', 'net.ipv4.conf.all.forwarding'];
  for (const key of keys) {
    const k = `sysctl:${ns}/${key}`;
    const value = (desired.get(k) as SysctlRes | undefined)?.value ?? (current.get(k) as SysctlRes | undefined)?.value ?? live?.(ns, key);
    if (value !== undefined && value.trim() !== '0') return `${key} = ${value}`;
    // One kernel value under two names: the first one known decides.
    if (value !== undefined) return undefined;
  }
  return undefined;
}

function mtuOf(key: string, desired: StateMap, current: StateMap): number | undefined {
  const d = desired.get(key) as LinkRes | undefined;
  const c = current.get(key) as LinkRes | undefined;
  return d?.mtu ?? c?.mtu ?? (d?.type === 'veth' && c === undefined ? VETH_MTU : undefined);
}

/** Links of a namespace that packets to forward can come in on: up, not lo, not a bridge port (its bridge is), with a known mtu. */
function linksOf(ns: string, desired: StateMap, current: StateMap): { name: string; mtu: number }[] {
  const out: { name: string; mtu: number }[] = [];
  const seen = new Set<string>();
  for (const m of [desired, current]) {
    for (const [k, l] of m) {
      if (l.kind !== 'link' || l.namespace !== ns || l.name === 'lo' || seen.has(k)) continue;
      seen.add(k);
      const link = (desired.get(k) ?? l) as LinkRes;
      if (link.master !== undefined || link.state === 'down') continue;
      const mtu = mtuOf(k, desired, current);
      if (mtu !== undefined) out.push({ name: link.name, mtu });
    }
  }
  return out.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}
