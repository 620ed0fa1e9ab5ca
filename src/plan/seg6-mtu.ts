// Forwarded packets that a seg6 route drops without telling their sender. The kernel adds the
// SRH to a forwarded packet on input (seg6_input), before any MTU check, and ignores the route's
// own mtu for it (measured on 6.18: a route at mtu 1300 forwarded 1436-byte packets). The packet
// then leaves by the route to its new destination, the first segment, whatever the seg6 route's
// own device (measured: a route on a 9000-byte device whose first segment is reached over a
// 1500-byte one forwards no more than 1436 bytes, and the reverse 1500), and is dropped if it no
// longer fits that device. In `encap` mode it grew by 40 + 8 + 16·n bytes and the Packet Too Big
// goes to the outer source, the node's own tunsrc; in `inline` mode by 8 + 16·(n + 1) (the SRH
// with the kernel's reserved slot) and the Packet Too Big goes to the sender, but quotes the
// device's mtu, which its packet already fits, so it changes nothing. Either way the sender
// hears nothing it can act on: pings above the limit go unanswered, TCP stalls after its handshake.
import { nsLabel, resourceKey } from '../model/keys';
import { networkOf } from '../model/net';
import type { LinkRes, RouteRes, Seg6Encap, StateMap, SysctlRes } from '../model/types';
import { linkKey } from './refs';

/** A live sysctl of a namespace Voltron neither declares nor read (undefined: not known). */
export type LiveSysctl = (namespace: string, key: string) => string | undefined;

/** veth's default mtu: a new one without a declared mtu gets it. */
const VETH_MTU = 1500;

/** Bytes a seg6 route adds to a packet with `n` declared segments: outer IPv6 + SRH (encap), or the SRH with its reserved slot (inline). */
export function seg6Overhead(mode: 'encap' | 'inline', n: number): number {
  return mode === 'encap' ? 40 + 8 + 16 * n : 8 + 16 * (n + 1);
}

/**
 * One line per seg6 encap or inline route in a forwarding namespace whose links accept packets
 * that no longer fit the device they leave on once the SRH is added. That device is the one of
 * the main table's route to the first segment (declared or live, or a connected prefix), else the
 * route's own (its gateway's when it names none); the limit is its mtu (declared, else live) less the overhead, else what the
 * route's own mtu implies (it leaves room for an encap header on a device: derived from 1500).
 * A namespace that does not forward (the common host-only case) is never judged, nor a link whose
 * mtu is neither declared nor live (but a new veth's 1500).
 */
export function seg6MtuGaps(desired: StateMap, current: StateMap, live?: LiveSysctl): string[] {
  const routes: RouteRes[] = [];
  for (const r of desired.values()) if (r.kind === 'route' && r.encap?.type === 'seg6' && (r.encap.mode === 'encap' || r.encap.mode === 'inline')) routes.push(r);
  // No seg6 encap or inline route (nearly every config): nothing more to look at.
  if (routes.length === 0) return [];
  // By key: the same plan whatever order the maps were filled in.
  routes.sort((a, b) => (resourceKey(a) < resourceKey(b) ? -1 : 1));
  const out: string[] = [];
  const byNs = new Map<string, { name: string; mtu: number }[]>();
  const egress = egressDevices(desired, current);
  for (const r of routes) {
    const fwd = forwarding(r.namespace, r.family, desired, current, live);
    if (fwd === undefined) continue;
    const encap = r.encap as Seg6Encap & { mode: 'encap' | 'inline' };
    const n = encap.segments.length;
    const overhead = seg6Overhead(encap.mode, n);
    const dev = egress(r.namespace, encap.segments[0]!) ?? r.dev ?? (r.via === undefined ? undefined : egress(r.namespace, r.via));
    if (dev === undefined) continue;
    const devMtu = mtuOf(linkKey(r.namespace, dev), desired, current);
    // Unknown: the device the route's mtu leaves room for (an encap header's worth, as derived).
    const assumed = r.mtu === undefined ? undefined : r.mtu + seg6Overhead('encap', n);
    const fitMtu = devMtu ?? assumed;
    if (fitMtu === undefined) continue;
    const limit = fitMtu - overhead;
    let links = byNs.get(r.namespace);
    if (!links) byNs.set(r.namespace, (links = linksOf(r.namespace, desired, current)));
    const feeders = links.filter((f) => f.name !== dev && f.mtu > limit);
    if (feeders.length === 0) continue;
    const named = feeders.map((f) => `${f.name} (mtu ${f.mtu})`).join(', ');
    const via = dev === r.dev ? '' : ` (the device of the route to its first segment ${encap.segments[0]})`;
    const fit = devMtu !== undefined ? `${dev}${via} (mtu ${devMtu})` : `${dev}${via} (taken as ${fitMtu} bytes, as the route's mtu is)`;
    const mss = limit - (r.family === 6 ? 60 : 40);
    const room = feeders.reduce((m, f) => Math.max(m, f.mtu), 0) + overhead;
    const tooBig = encap.mode === 'encap' ? 'sends the Packet Too Big to the tunsrc, not to the sender' : `sends the sender a Packet Too Big quoting ${fitMtu}, which its packet already fits`;
    out.push(
      `route ${nsLabel(r.namespace)} ${r.to} (seg6 ${encap.mode}, mtu ${r.mtu ?? 'unset'}): namespace ${nsLabel(r.namespace)} forwards (${fwd}) and ${named} ` +
        `can bring it packets larger than ${limit} bytes, which no longer fit ${fit} once ${encap.mode === 'encap' ? 'encapsulated' : 'the SRH is inserted'} (${overhead} bytes): the kernel drops them and ${tooBig}. ` +
        `Set those links' mtu (both ends of a veth) to ${limit} or lower, clamp TCP MSS to ${mss}, or give ${dev} mtu ${room}`,
    );
  }
  return out;
}

/**
 * The device a packet to `ip` leaves a namespace by: the longest-prefix main-table route to it
 * (declared, else live; a connected prefix of an address at the kernel's metric 256), the lowest
 * metric on a tie, its gateway's device when it names none. Undefined when none is known.
 * Indexed once; a lookup costs a map probe per prefix length, whatever the number of routes.
 */
function egressDevices(desired: StateMap, current: StateMap): (ns: string, ip: string) => string | undefined {
  const best = new Map<string, { metric: number; dev?: string; via?: string }>();
  const offer = (ns: string, to: string, metric: number, dev?: string, via?: string): void => {
    const k = `${ns}|${to}`;
    const had = best.get(k);
    if (!had || metric < had.metric) best.set(k, { metric, dev, via });
  };
  for (const m of [desired, current]) {
    for (const [k, x] of m) {
      if (m === current && desired.has(k)) continue;
      if (x.kind === 'route' && x.family === 6 && x.table === 254 && x.type === 'unicast' && x.encap === undefined && x.unmodelled === undefined) offer(x.namespace, x.to, x.metric, x.dev, x.via);
      else if (x.kind === 'address' && !x.address.includes('.')) {
        const net = networkOf(x.address);
        if (net !== undefined) offer(x.namespace, net, 256, x.dev);
      }
    }
  }
  const cache = new Map<string, string | undefined>();
  const lookup = (ns: string, ip: string, depth: number): string | undefined => {
    const ck = `${ns}|${ip}`;
    if (cache.has(ck)) return cache.get(ck);
    let dev: string | undefined;
    for (let len = 128; len >= 0; len--) {
      const hit = best.get(`${ns}|${networkOf(`${ip}/${len}`)}`);
      if (!hit) continue;
      dev = hit.dev ?? (hit.via !== undefined && depth < 2 ? lookup(ns, hit.via, depth + 1) : undefined);
      break;
    }
    cache.set(ck, dev);
    return dev;
  };
  return (ns, ip) => lookup(ns, ip, 0);
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
