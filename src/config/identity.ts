// Identities of config list entries: what makes two entries "the same object" for merging
// and duplicate detection. They mirror resourceKey() of the normalised resources.
import { parseClassId } from './units';
import { canonicalOrRaw, nsOf, routeDest, routeMetric, ruleFamily, tableNumber } from './common';
import type { Raw } from './types';

export type ListKind = 'namespaces' | 'links' | 'addresses' | 'routes' | 'rules' | 'qdiscs' | 'classes' | 'filters' | 'programs';

/** Where each list lives in a file (bpf programs are nested). */
export const LIST_PATHS: Record<ListKind, string[]> = {
  namespaces: ['namespaces'],
  links: ['links'],
  addresses: ['addresses'],
  routes: ['routes'],
  rules: ['rules'],
  qdiscs: ['qdiscs'],
  classes: ['classes'],
  filters: ['filters'],
  programs: ['bpf', 'programs'],
};

const NOUN: Record<ListKind, string> = {
  namespaces: 'namespace',
  links: 'link',
  addresses: 'address',
  routes: 'route',
  rules: 'rule',
  qdiscs: 'qdisc',
  classes: 'class',
  filters: 'filter',
  programs: 'bpf program',
};

export function kindNoun(k: ListKind): string {
  return NOUN[k];
}

const ns = (v: Raw): string => nsOf(v) || '(root)';

export function qdiscParent(v: Raw): string {
  if (v.kind === 'clsact' || v.parent === 'clsact') return 'clsact';
  if (v.parent === undefined || v.parent === 'root') return 'root';
  return parseClassId(v.parent) ?? v.parent;
}

/** Human-readable identity of a schema-valid entry; equal strings = same object. */
export function identity(kind: ListKind, v: Raw): string {
  switch (kind) {
    case 'namespaces':
      return v.name;
    case 'links':
      return `${ns(v)}/${v.name}`;
    case 'addresses':
      return `${ns(v)}/${v.dev} ${canonicalOrRaw(v.address)}`;
    case 'routes': {
      const d = routeDest(v);
      const to = 'to' in d ? d.to : String(v.to);
      const metric = 'family' in d ? routeMetric(d.family, v.metric) : (v.metric ?? 0);
      return `${ns(v)} ${to} table ${tableNumber(v.table)} metric ${metric}`;
    }
    case 'rules':
      return `${ns(v)} ipv${ruleFamily(v)} priority ${v.priority}`;
    case 'qdiscs':
      return `${ns(v)}/${v.dev} parent ${qdiscParent(v)}`;
    case 'classes':
      return `${ns(v)}/${v.dev} ${parseClassId(v.classid) ?? v.classid}`;
    case 'filters':
      return `${ns(v)}/${v.dev} ${v.direction} priority ${v.priority}`;
    case 'programs':
      return v.name;
  }
}

/** Best-effort name of a schema-invalid entry, so references to it don't cascade into errors. */
export function poisonName(kind: ListKind, v: Raw): string[] {
  if (v === null || typeof v !== 'object') return [];
  const nsv = typeof v.namespace === 'string' ? v.namespace : '';
  switch (kind) {
    case 'links': {
      const out: string[] = [];
      if (typeof v.name === 'string') out.push(`${nsv}/${v.name}`);
      if (typeof v.peer?.name === 'string') out.push(`${typeof v.peer.namespace === 'string' ? v.peer.namespace : nsv}/${v.peer.name}`);
      return out;
    }
    case 'namespaces':
    case 'programs':
      return typeof v.name === 'string' ? [v.name] : [];
    default:
      return [];
  }
}
