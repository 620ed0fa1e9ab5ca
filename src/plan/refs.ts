// What a resource needs to exist before it can be created (and, reversed, what must go before it
// is deleted). Used for plan ordering and for kernel side effects (cascade.ts).
import { resourceKey, resourceNamespace } from '../model/keys';
import type { QdiscRes, Resource, ResourceKind, StateMap } from '../model/types';

export const linkKey = (ns: string, name: string): string => `link:${ns}/${name}`;
export const nsKey = (ns: string): string => `namespace:${ns}`;

/** Device a per-device sysctl belongs to (`net.ipv4.conf.eth0/100.rp_filter` → `eth0.100`). */
export function sysctlDevice(key: string): string | undefined {
  const m = /^net\.[^.]+\.(?:conf|neigh)\.([^.]+)\./.exec(key);
  if (!m || m[1] === 'all' || m[1] === 'default') return undefined;
  return m[1]!.replace(/\//g, '.');
}

/** The link a resource lives on, as [namespace, device] (addresses, routes, tc, device sysctls, bpf). */
export function deviceOf(r: Resource): [string, string] | undefined {
  switch (r.kind) {
    case 'address':
    case 'qdisc':
    case 'tclass':
    case 'tfilter':
      return [r.namespace, r.dev];
    case 'route':
      return r.dev !== undefined ? [r.namespace, r.dev] : undefined;
    case 'sysctl': {
      const dev = sysctlDevice(r.key);
      return dev !== undefined ? [r.namespace, dev] : undefined;
    }
    case 'bpf':
      return r.attach.dev !== undefined && r.attach.type !== 'cgroup' ? [r.attach.namespace ?? '', r.attach.dev] : undefined;
    default:
      return undefined;
  }
}

/** Major number of a tc handle/classid (`1:`, `1:10`, `ffff:`), or undefined for root/clsact. */
export function tcMajor(h: string | undefined): string | undefined {
  return major(h);
}
function major(h: string | undefined): string | undefined {
  if (h === undefined) return undefined;
  const m = /^([0-9a-f]+):([0-9a-f]*)$/i.exec(h);
  return m ? m[1]!.toLowerCase().replace(/^0+(?=.)/, '') : undefined;
}
function minor(h: string): string {
  const m = /^[0-9a-f]+:([0-9a-f]*)$/i.exec(h);
  return m ? m[1]!.replace(/^0+/, '') : '';
}

/** Qdiscs by namespace/device, to resolve class parents and clsact. */
export class TcIndex {
  private readonly byDev = new Map<string, QdiscRes[]>();
  private readonly bpfNames = new Set<string>();
  constructor(state: StateMap) {
    for (const r of state.values()) {
      if (r.kind === 'qdisc') {
        const k = `${r.namespace}\0${r.dev}`;
        const list = this.byDev.get(k) ?? [];
        list.push(r);
        this.byDev.set(k, list);
      } else if (r.kind === 'bpf') this.bpfNames.add(r.name);
    }
  }
  qdiscWithMajor(ns: string, dev: string, maj: string): string | undefined {
    const q = this.byDev.get(`${ns}\0${dev}`)?.find((x) => major(x.handle) === maj);
    return q && resourceKey(q);
  }
  clsact(ns: string, dev: string): string | undefined {
    const q = this.byDev.get(`${ns}\0${dev}`)?.find((x) => x.qdisc === 'clsact');
    return q && resourceKey(q);
  }
  hasBpf(name: string): boolean {
    return this.bpfNames.has(name);
  }
}

/** Keys of the resources `r` directly refers to (namespace, master, dev, parent, peer...). */
export function references(r: Resource, tc: TcIndex): string[] {
  const out: string[] = [];
  const ns = resourceNamespace(r);
  if (r.kind !== 'namespace' && ns !== '') out.push(nsKey(ns));
  const dev = deviceOf(r);
  if (dev) out.push(linkKey(dev[0], dev[1]));
  switch (r.kind) {
    case 'link':
      if (r.master !== undefined) out.push(linkKey(ns, r.master));
      if (r.vxlan?.dev !== undefined) out.push(linkKey(ns, r.vxlan.dev));
      if (r.macvlan !== undefined) out.push(linkKey(ns, r.macvlan.parent));
      if (r.veth) {
        // The primary creates both ends: it needs the peer's namespace; the secondary needs the primary.
        if (r.veth.primary) {
          if (r.veth.peer.namespace !== '') out.push(nsKey(r.veth.peer.namespace));
        } else out.push(linkKey(r.veth.peer.namespace, r.veth.peer.name));
      }
      break;
    case 'route':
      if (r.encap?.type === 'seg6local' && r.encap.oif !== undefined) out.push(linkKey(ns, r.encap.oif));
      break;
    case 'qdisc':
      if (major(r.parent) !== undefined && major(r.parent) !== 'ffff' && minor(r.parent) !== '') out.push(`tclass:${ns}/${r.dev}/${r.parent}`);
      break;
    case 'tclass': {
      const maj = major(r.parent);
      if (maj !== undefined) {
        if (minor(r.parent) === '') {
          const q = tc.qdiscWithMajor(ns, r.dev, maj);
          if (q) out.push(q);
        } else out.push(`tclass:${ns}/${r.dev}/${r.parent}`);
      }
      break;
    }
    case 'tfilter': {
      const q = tc.clsact(ns, r.dev);
      if (q) out.push(q);
      if (tc.hasBpf(r.program)) out.push(`bpf:${r.program}`);
      break;
    }
    case 'bpf':
      if (r.attach.type === 'clsact' && r.attach.dev !== undefined) {
        const q = tc.clsact(r.attach.namespace ?? '', r.attach.dev);
        if (q) out.push(q);
      }
      break;
    default:
      break;
  }
  return [...new Set(out)].filter((k) => k !== resourceKey(r));
}

/** Tie-break rank for ordering: infrastructure first. */
export const KIND_RANK: Readonly<Record<ResourceKind, number>> = {
  namespace: 0,
  sysctl: 1,
  tunsrc: 2,
  link: 3,
  address: 4,
  route: 5,
  rule: 6,
  qdisc: 7,
  tclass: 8,
  tfilter: 9,
  bpf: 10,
};
