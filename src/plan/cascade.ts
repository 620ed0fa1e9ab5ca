// What the kernel removes by itself when an object goes: deleting a namespace removes everything in
// it; deleting a link removes its addresses, routes (IPv4 multipath ones with a nexthop over it),
// tc objects, per-device sysctls and tc/xdp bpf attachments, its veth peer end, and the devices
// stacked on it (vxlan, macvlan; VLAN, macvtap, ipvlan ..., also ones moved to another
// namespace: `lower`); deleting a qdisc removes its classes and the qdiscs below them (clsact:
// its filters and clsact bpf programs).
// Deleting an IPv4 address removes the routes that use it as their source, and deleting the last
// IPv4 address of a link removes every IPv4 route over that link (fib_del_ifaddr,
// fib_disable_ip): which is the last depends on what else the plan deletes. Deleting a primary
// IPv4 address removes the secondaries of its subnet, unless the device promotes one.
import { resourceNamespace } from '../model/keys';
import { networkOf } from '../model/net';
import { pushTo } from '../util/multimap';
import type { AddressRes, Resource, StateMap } from '../model/types';
import { deviceOf, linkKey, tcMajor } from './refs';

export class KernelGraph {
  private readonly byNs = new Map<string, string[]>();
  private readonly onDev = new Map<string, string[]>();
  private readonly stacked = new Map<string, string[]>();
  private readonly peers = new Map<string, Set<string>>();
  private readonly v4AddrsOnDev = new Map<string, string[]>();
  private readonly v4RoutesOnDev = new Map<string, string[]>();
  /** tc objects by device and parent: `dev|major` (a qdisc's children) and `dev|classid` (a class's). */
  private readonly tcByMajor = new Map<string, string[]>();
  private readonly tcByParent = new Map<string, string[]>();
  /** `ns|ip` → IPv4 routes with that preferred source; live IPv4 addresses with that ip. */
  private readonly v4RoutesBySrc = new Map<string, string[]>();
  private readonly v4AddrsByIp = new Map<string, string[]>();
  /** `dev|subnet` → its IPv4 secondaries (built on first use); lists above without `deletedAddresses`. */
  private secondaries: Map<string, string[]> | undefined;
  private readonly survivors = new Map<string, string[]>();

  /** `deletedAddresses`: address keys the plan deletes (an address is "last" only among those). */
  constructor(
    private readonly state: StateMap,
    private readonly deletedAddresses: ReadonlySet<string> = new Set(),
  ) {
    for (const [key, r] of state) {
      if (r.kind !== 'namespace' && !(r.kind === 'bpf' && r.attach.namespace === undefined)) {
        pushTo(this.byNs, resourceNamespace(r), key);
      }
      const dev = deviceOf(r);
      if (dev) pushTo(this.onDev, linkKey(dev[0], dev[1]), key);
      // A link delete takes a whole IPv4 multipath route with a nexthop over the link
      // (fib_sync_down_dev on NETDEV_UNREGISTER); IPv6 drops only that nexthop.
      if (r.kind === 'route' && r.family === 4 && r.nexthopDevs) for (const d of r.nexthopDevs) pushTo(this.onDev, linkKey(r.namespace, d), key);
      if (r.kind === 'address' && isV4(r.address)) {
        pushTo(this.v4AddrsOnDev, linkKey(r.namespace, r.dev), key);
        pushTo(this.v4AddrsByIp, `${r.namespace}|${ipOf(r.address)}`, key);
      }
      if (r.kind === 'route' && r.family === 4) {
        if (r.dev !== undefined) pushTo(this.v4RoutesOnDev, linkKey(r.namespace, r.dev), key);
        if (r.src !== undefined) pushTo(this.v4RoutesBySrc, `${r.namespace}|${r.src}`, key);
      }
      // Indexed by parent: a scan of the device's tc objects per removed class was n² (4000 htb classes: 1.9 s).
      if (r.kind === 'tclass' || r.kind === 'qdisc') {
        const d = linkKey(r.namespace, r.dev);
        const maj = tcMajor(r.kind === 'tclass' ? r.classid : r.parent);
        if (maj !== undefined) pushTo(this.tcByMajor, `${d}|${maj}`, key);
        pushTo(this.tcByParent, `${d}|${r.parent}`, key);
      }
      if (r.kind === 'link') {
        if (r.vxlan?.dev !== undefined) pushTo(this.stacked, linkKey(r.namespace, r.vxlan.dev), key);
        if (r.macvlan !== undefined) pushTo(this.stacked, linkKey(r.namespace, r.macvlan.parent), key);
        if (r.lower !== undefined) pushTo(this.stacked, linkKey(r.lower.namespace, r.lower.name), key);
        if (r.veth) {
          const p = linkKey(r.veth.peer.namespace, r.veth.peer.name);
          // Peer links are symmetric: either end's record is enough to find the other.
          for (const [a, b] of [
            [key, p],
            [p, key],
          ] as const) {
            const s = this.peers.get(a) ?? new Set<string>();
            s.add(b);
            this.peers.set(a, s);
          }
        }
      }
    }
  }

  /** Whether tc object `c` hangs below `p` (same device). */
  private isTcChild(p: Resource, c: Resource): boolean {
    if (p.kind === 'qdisc') {
      if (p.qdisc === 'clsact') return c.kind === 'tfilter' || (c.kind === 'bpf' && c.attach.type === 'clsact');
      const maj = tcMajor(p.handle);
      if (maj === undefined) return false;
      return (c.kind === 'tclass' && tcMajor(c.classid) === maj) || (c.kind === 'qdisc' && tcMajor(c.parent) === maj);
    }
    if (p.kind === 'tclass') return (c.kind === 'tclass' || c.kind === 'qdisc') && c.parent === p.classid;
    return false;
  }

  get(key: string): Resource | undefined {
    return this.state.get(key);
  }

  /** Objects that vanish with `key`, each mapped to the object whose removal took it (its parent). */
  removedWith(key: string): Map<string, string> {
    const out = new Map<string, string>();
    // Per address list, how many of its survivors this removal is known to take: `seen` only
    // grows, so the "last address" checks resume where they stopped (linear, not n² for a
    // primary that takes thousands of secondaries).
    const cursors = new Map<string, number>();
    const queue = [key];
    const seen = new Set([key]);
    const add = (k: string, parent: string) => {
      if (seen.has(k) || !this.state.has(k)) return;
      seen.add(k);
      out.set(k, parent);
      queue.push(k);
    };
    for (let i = 0; i < queue.length; i++) {
      const k = queue[i]!;
      const r = this.state.get(k);
      if (!r) continue;
      if (r.kind === 'namespace') {
        for (const x of this.byNs.get(r.name) ?? []) add(x, k);
      } else if (r.kind === 'link') {
        for (const x of this.onDev.get(k) ?? []) add(x, k);
        for (const x of this.stacked.get(k) ?? []) add(x, k);
        for (const x of this.peers.get(k) ?? []) add(x, k);
      } else if (r.kind === 'address' && isV4(r.address)) {
        // A primary takes its subnet's secondaries (unless the device promotes one) first: the
        // "last address" check below counts them as gone.
        if (!r.secondary && !r.promotes) for (const x of this.secondariesOf(r)) add(x, k);
        for (const x of this.v4RemovedWith(r.namespace, r.dev, ipOf(r.address), seen, cursors)) add(x, k);
      } else if (r.kind === 'qdisc' || r.kind === 'tclass') {
        const d = linkKey(r.namespace, r.dev);
        const maj = r.kind === 'qdisc' && r.qdisc !== 'clsact' ? tcMajor(r.handle) : undefined;
        const candidates = r.kind === 'tclass' ? this.tcByParent.get(`${d}|${r.classid}`) : maj !== undefined ? this.tcByMajor.get(`${d}|${maj}`) : this.onDev.get(d);
        for (const x of candidates ?? []) {
          if (this.isTcChild(r, this.state.get(x)!)) add(x, k);
        }
      }
    }
    return out;
  }

  /** The IPv4 secondaries in the subnet of primary `p` (same device and prefix). */
  private secondariesOf(p: AddressRes): string[] {
    if (!this.secondaries) {
      // Indexed once: one scan of the device per primary is n² when all are deleted.
      this.secondaries = new Map();
      for (const [d, keys] of this.v4AddrsOnDev) {
        for (const k of keys) {
          const a = this.state.get(k) as AddressRes;
          if (a.secondary !== true) continue;
          const sk = `${d}|${networkOf(a.address)}`;
          const l = this.secondaries.get(sk);
          if (l) l.push(k);
          else this.secondaries.set(sk, [k]);
        }
      }
    }
    return this.secondaries.get(`${linkKey(p.namespace, p.dev)}|${networkOf(p.address)}`) ?? [];
  }

  /**
   * IPv4 routes the kernel removes with an address (ip on ns/dev), see the header. `removed`:
   * what this removal already takes, the address itself included (a primary's secondaries
   * count as gone); `cursors`: that removal's progress through each list (see removedWith).
   */
  private v4RemovedWith(ns: string, dev: string, ip: string, removed: ReadonlySet<string>, cursors: Map<string, number>): string[] {
    const out: string[] = [];
    // Routes with this source go once no address in the namespace has the ip any more.
    const byIp = `${ns}|${ip}`;
    if (this.allGone(this.v4AddrsByIp, byIp, `ip ${byIp}`, removed, cursors)) out.push(...(this.v4RoutesBySrc.get(byIp) ?? []));
    const d = linkKey(ns, dev);
    if (this.allGone(this.v4AddrsOnDev, d, `dev ${d}`, removed, cursors)) out.push(...(this.v4RoutesOnDev.get(d) ?? []));
    return out;
  }

  /** Whether every address of `index`'s list `k` is deleted by the plan or in `removed`. */
  private allGone(index: ReadonlyMap<string, string[]>, k: string, id: string, removed: ReadonlySet<string>, cursors: Map<string, number>): boolean {
    let live = this.survivors.get(id);
    if (!live) this.survivors.set(id, (live = (index.get(k) ?? []).filter((a) => !this.deletedAddresses.has(a))));
    let i = cursors.get(id) ?? 0;
    while (i < live.length && removed.has(live[i]!)) i++;
    cursors.set(id, i);
    return i === live.length;
  }
}

const isV4 = (cidr: string): boolean => !cidr.includes(':');
const ipOf = (cidr: string): string => cidr.slice(0, cidr.indexOf('/'));
