// Live state rendered in the config format, so it can be pasted into a config file.
// Owned objects (in the inventory) carry an `# owned` comment (YAML) or `owned: true` (JSON).
import type YAMLType from 'yaml';
import { resourceKey, resourceNamespace } from '../model/keys';
import type { Resource, StateMap } from '../model/types';
import type { Inventory } from '../plan/types';

export interface ShowOptions {
  readonly namespace?: string;
  readonly format: 'yaml' | 'json';
  readonly all: boolean;
}

function kernelMade(r: Resource): boolean {
  if (r.kind === 'route') return r.protocol !== undefined && r.protocol <= 2; // kernel/unspec/redirect
  if (r.kind === 'rule') return r.protocol === 2 || ([0, 32766, 32767].includes(r.priority) && r.protocol === undefined);
  if (r.kind === 'address') return r.dev === 'lo' || /^fe80:/i.test(r.address);
  if (r.kind === 'link') return r.name === 'lo';
  return false;
}

function ns(o: Record<string, unknown>, n: string): Record<string, unknown> {
  return n === '' ? o : { ...o, namespace: n };
}

function clean(o: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined));
}

function toConfig(r: Resource): [section: string, item: Record<string, unknown>] | undefined {
  switch (r.kind) {
    case 'namespace':
      return r.name === '' ? undefined : ['namespaces', { name: r.name }];
    case 'link': {
      if (r.veth && !r.veth.primary) return undefined;
      const b = r.bridge;
      const v = r.vxlan;
      return [
        'links',
        ns(
          clean({
            name: r.name,
            type: r.type === 'other' ? undefined : r.type,
            kind: r.type === 'other' ? r.otherKind || 'device' : undefined,
            mtu: r.mtu,
            mac: r.mac,
            state: r.state,
            master: r.master,
            alias: r.alias,
            peer: r.veth ? ns({ name: r.veth.peer.name }, r.veth.peer.namespace) : undefined,
            bridge: b ? clean({ vlan_filtering: b.vlanFiltering, stp: b.stp, vlan_default_pvid: b.vlanDefaultPvid, ageing_time: b.ageingTime, forward_delay: b.forwardDelay, multicast_snooping: b.multicastSnooping }) : undefined,
            vxlan: v ? clean({ vni: v.vni, local: v.local, remote: v.remote, group: v.group, dev: v.dev, dstport: v.dstport, learning: v.learning, ttl: v.ttl, external: v.external, vnifilter: v.vnifilter }) : undefined,
            macvlan: r.macvlan ? clean({ ...r.macvlan }) : undefined,
            vlans: r.vlans?.map((x) => clean({ vid: x.vid, pvid: x.pvid || undefined, untagged: x.untagged || undefined })),
            vnis: r.vnis,
          }),
          r.namespace,
        ),
      ];
    }
    case 'address':
      return ['addresses', ns({ address: r.address, dev: r.dev }, r.namespace)];
    case 'route':
      return [
        'routes',
        ns(
          clean({
            to: r.to,
            via: r.via,
            dev: r.dev,
            table: r.table === 254 ? undefined : r.table,
            metric: r.metric === (r.family === 6 ? 1024 : 0) ? undefined : r.metric,
            type: r.type === 'unicast' ? undefined : r.type,
            src: r.src,
            mtu: r.mtu,
            encap: r.encap ? clean({ ...r.encap }) : undefined,
          }),
          r.namespace,
        ),
      ];
    case 'rule':
      return ['rules', ns(clean({ priority: r.priority, family: r.family, action: r.action === 'lookup' ? undefined : r.action, table: r.table, from: r.from, to: r.to, fwmark: r.fwmark, fwmask: r.fwmask, iif: r.iif, oif: r.oif }), r.namespace)];
    case 'sysctl':
      return ['sysctls', ns({ key: r.key, value: r.value }, r.namespace)];
    case 'tunsrc':
      return ['seg6', ns({ tunsrc: r.address }, r.namespace)];
    default: {
      const { kind, source: _s, ...rest } = r as Resource & { source?: unknown };
      return [`${kind}s`, clean(rest as Record<string, unknown>)];
    }
  }
}

export function showState(current: StateMap, inventory: Inventory, opts: ShowOptions): string {
  const sections = new Map<string, { item: Record<string, unknown>; owned: boolean }[]>();
  const sorted = [...current.values()].sort((a, b) => resourceKey(a).localeCompare(resourceKey(b)));
  for (const r of sorted) {
    if (opts.namespace !== undefined && resourceNamespace(r) !== opts.namespace) continue;
    const owned = inventory.owned[resourceKey(r)] !== undefined;
    if (!opts.all && !owned && kernelMade(r)) continue;
    const c = toConfig(r);
    if (!c) continue;
    const list = sections.get(c[0]) ?? [];
    list.push({ item: c[1], owned });
    sections.set(c[0], list);
  }
  if (opts.format === 'json') {
    return JSON.stringify(Object.fromEntries([...sections].map(([k, v]) => [k, v.map((x) => (x.owned ? { ...x.item, owned: true } : x.item))])), null, 2);
  }
  // eslint-disable-next-line @typescript-eslint/no-var-requires
  const YAML = require('yaml') as typeof YAMLType; // lazily: only `show` needs the YAML writer
  const doc = new YAML.Document(Object.fromEntries([...sections].map(([k, v]) => [k, v.map((x) => x.item)])));
  for (const [k, v] of sections) {
    const seq = doc.get(k) as YAMLType.YAMLSeq;
    v.forEach((x, i) => {
      const node = seq.items[i] as YAMLType.Node;
      if (x.owned) node.commentBefore = ' owned';
    });
  }
  return doc.toString({ lineWidth: 0 });
}
