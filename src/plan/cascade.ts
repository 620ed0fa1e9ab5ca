// What the kernel removes by itself when an object goes: deleting a namespace removes everything in
// it; deleting a link removes its addresses, routes, tc objects, per-device sysctls and tc/xdp bpf
// attachments, its veth peer end, and the vxlan/macvlan devices stacked on it; deleting a qdisc
// removes its classes and the qdiscs below them (clsact: its filters and clsact bpf programs).
import { resourceNamespace } from '../model/keys';
import type { Resource, StateMap } from '../model/types';
import { deviceOf, linkKey, tcMajor } from './refs';

export class KernelGraph {
  private readonly byNs = new Map<string, string[]>();
  private readonly onDev = new Map<string, string[]>();
  private readonly stacked = new Map<string, string[]>();
  private readonly peers = new Map<string, Set<string>>();

  constructor(private readonly state: StateMap) {
    const push = (m: Map<string, string[]>, k: string, v: string) => {
      const l = m.get(k);
      if (l) l.push(v);
      else m.set(k, [v]);
    };
    for (const [key, r] of state) {
      if (r.kind !== 'namespace' && !(r.kind === 'bpf' && r.attach.namespace === undefined)) {
        push(this.byNs, resourceNamespace(r), key);
      }
      const dev = deviceOf(r);
      if (dev) push(this.onDev, linkKey(dev[0], dev[1]), key);
      if (r.kind === 'link') {
        if (r.vxlan?.dev !== undefined) push(this.stacked, linkKey(r.namespace, r.vxlan.dev), key);
        if (r.macvlan !== undefined) push(this.stacked, linkKey(r.namespace, r.macvlan.parent), key);
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
      } else if (r.kind === 'qdisc' || r.kind === 'tclass') {
        for (const x of this.onDev.get(linkKey(r.namespace, r.dev)) ?? []) {
          if (this.isTcChild(r, this.state.get(x)!)) add(x, k);
        }
      }
    }
    return out;
  }
}
