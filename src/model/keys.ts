import { visible } from '../util/visible';
import type { Resource } from './types';

/** Human form of a logical namespace: '' is the host's root namespace. */
export function nsLabel(ns: string): string {
  return ns === '' ? '(root)' : ns;
}

/**
 * Identity of a resource. Two resources with the same key are the same kernel object;
 * fields outside the key are compared by the plan. Keys are stable strings so that
 * inventories written by older runs stay valid.
 */
export function resourceKey(r: Resource): string {
  switch (r.kind) {
    case 'namespace':
      return `namespace:${r.name}`;
    case 'link':
      return `link:${r.namespace}/${r.name}`;
    case 'address':
      return `address:${r.namespace}/${r.dev}/${r.address}`;
    case 'route':
      return `route:${r.namespace}/ipv${r.family}/t${r.table}/${r.to}/m${r.metric}`;
    case 'rule':
      return `rule:${r.namespace}/ipv${r.family}/p${r.priority}`;
    case 'sysctl':
      return `sysctl:${r.namespace}/${r.key}`;
    case 'tunsrc':
      return `tunsrc:${r.namespace}`;
    case 'qdisc':
      return `qdisc:${r.namespace}/${r.dev}/${r.parent}`;
    case 'tclass':
      return `tclass:${r.namespace}/${r.dev}/${r.classid}`;
    case 'tfilter':
      return `tfilter:${r.namespace}/${r.dev}/${r.direction}/${r.priority}`;
    case 'bpf':
      return `bpf:${r.name}`;
  }
}

/** The logical namespace a resource lives in ('' root); namespaces and bpf programs report their own. */
export function resourceNamespace(r: Resource): string {
  switch (r.kind) {
    case 'namespace':
      return r.name;
    case 'bpf':
      return r.attach.namespace ?? '';
    default:
      return r.namespace;
  }
}

/** Short label for plans: `link A/eth0`, `route (root) 10.0.0.0/8 table 254`. */
/** How plans, warnings and errors name an object (kernel names escaped: see util/visible). */
export function resourceLabel(r: Resource): string {
  return visible(rawLabel(r));
}

function rawLabel(r: Resource): string {
  const ns = nsLabel(resourceNamespace(r));
  switch (r.kind) {
    case 'namespace':
      return `namespace ${nsLabel(r.name)}`;
    case 'link':
      return `link ${ns}/${r.name} (${r.type === 'other' ? r.otherKind || 'other' : r.type})`;
    case 'address':
      return `address ${ns}/${r.dev} ${r.address}${r.unmodelled !== undefined ? ` ${r.unmodelled}` : ''}`;
    case 'route':
      return `route ${ns} ${r.to}${r.table !== 254 ? ` table ${r.table}` : ''}${
        r.metric !== (r.family === 6 ? 1024 : 0) ? ` metric ${r.metric}` : ''
      }${r.unmodelled !== undefined ? ` ${r.unmodelled}` : ''}`;
    case 'rule':
      return `rule ${ns} ipv${r.family} priority ${r.priority}${r.unmodelled !== undefined ? ` ${r.unmodelled}` : ''}`;
    case 'sysctl':
      return `sysctl ${ns} ${r.key}`;
    case 'tunsrc':
      return `seg6 tunsrc ${ns}`;
    case 'qdisc':
      return `qdisc ${ns}/${r.dev} ${r.parent} ${r.qdisc}`;
    case 'tclass':
      return `class ${ns}/${r.dev} ${r.classid}`;
    case 'tfilter':
      return `filter ${ns}/${r.dev} ${r.direction} pref ${r.priority}`;
    case 'bpf':
      return `bpf program ${r.name}`;
  }
}
