// Semantic pass: merged entries → model resources, collecting every error.
import { resourceKey } from '../model/keys';
import type { DesiredState, Resource } from '../model/types';
import type { Ctx } from './ctx';
import type { Merged } from './merge';
import { checkAddressesOnPorts, checkAddressSegments, checkVxlanLocal } from './check-addresses';
import { checkRoutes } from './check-routes';
import { checkSysctls } from './check-sysctls';
import { normaliseAddresses, normaliseRoutes, normaliseRules } from './norm-l3';
import { normaliseLinks } from './norm-links';
import { normaliseBpf, normaliseNamespaces, normaliseRootSysctls, normaliseRootTunsrc } from './norm-misc';
import { bsidRoutes, normalisePools } from './norm-srv6';
import { normaliseTc } from './norm-tc';
import { sourceWhere } from './positions';
import { globMatch } from './norm-links';
import { ptrJoin, type Entry } from './types';
import { deviceOf } from '../plan/refs';

export function normalise(ctx: Ctx, m: Merged, baseDir?: string): DesiredState {
  const ns = normaliseNamespaces(ctx, m.lists.namespaces);
  const links = normaliseLinks(ctx, m.lists.links, m.ignore);
  const pools = normalisePools(ctx, m.pools);
  const addresses = normaliseAddresses(ctx, m.lists.addresses);
  // Before the address checks below add errors of their own: these addresses are all there.
  checkVxlanLocal(ctx, links, addresses, m.ignore.length > 0);
  checkAddressSegments(ctx, links, addresses);
  checkAddressesOnPorts(ctx, links, addresses);
  const routes = [...normaliseRoutes(ctx, m.lists.routes, pools), ...bsidRoutes(ctx, m.pools, pools, links)];
  checkRoutes(ctx, links, addresses, routes, m.ignore.length > 0);
  const rules = normaliseRules(ctx, m.lists.rules);
  const sysctls = [...normaliseRootSysctls(ctx, m.sysctls), ...ns.sysctls];
  checkSysctls(ctx, sysctls, addresses, routes, m.ignore);
  const bpf = normaliseBpf(ctx, m.lists.programs, baseDir);
  const tc = normaliseTc(ctx, m.lists.qdiscs, m.lists.classes, m.lists.filters, new Set(bpf.map((b) => b.name)));
  checkIgnoredDevices(ctx, [...addresses, ...routes, ...tc.qdiscs, ...tc.classes, ...tc.filters, ...bpf], m.ignore);

  const all: Resource[] = [
    ...ns.namespaces,
    ...links,
    ...addresses,
    ...routes,
    ...rules,
    ...sysctls,
    ...normaliseRootTunsrc(ctx, m.seg6),
    ...ns.tunsrc,
    ...tc.qdiscs,
    ...tc.classes,
    ...tc.filters,
    ...bpf,
  ];
  const resources = new Map<string, Resource>();
  for (const r of all) {
    const key = resourceKey(r);
    const prev = resources.get(key);
    // Merge identities catch most duplicates; this catches different spellings of one object
    // (e.g. a bsid route and a declared route for the same SID).
    if (prev && r.source) {
      const p = prev.source;
      const at = ctx.pos(r.source.file, r.source.path, r.source.key);
      const first = p ? ` (first declared at ${sourceWhere(p)})` : '';
      ctx.errors.push({ file: r.source.file, ...at, path: r.source.path, message: `duplicate ${key}${first}` });
      continue;
    }
    resources.set(key, r);
  }
  const ignore = [...new Set(m.ignore.map((g) => g.value))];
  return { resources, pools, ignore, namespaces: ['', ...ns.namespaces.map((n) => n.name)] };
}

const ON_DEVICE: Partial<Record<Resource['kind'], [what: string, field: string]>> = {
  address: ['address', 'dev'],
  route: ['route', 'dev'],
  qdisc: ['qdisc', 'dev'],
  tclass: ['class', 'dev'],
  tfilter: ['filter', 'dev'],
  bpf: ['bpf attach', 'attach/dev'],
};

/**
 * An object on a device matching an `ignore` pattern: the plan leaves it out with the device (an
 * ignored link and everything on it are outside Voltron's view), so it would never be applied.
 * Only the root namespace names devices the config does not declare (elsewhere an undeclared
 * dev is already an error; a declared link matching a pattern is one too); sysctls: checkSysctls.
 */
function checkIgnoredDevices(ctx: Ctx, resources: readonly Resource[], ignore: readonly Entry<string>[]): void {
  if (ignore.length === 0) return;
  for (const r of resources) {
    const dev = deviceOf(r);
    const on = ON_DEVICE[r.kind];
    if (!dev || dev[0] !== '' || !on || !r.source) continue;
    const g = ignore.find((p) => globMatch(p.value, dev[1]));
    if (!g) continue;
    const path = ptrJoin(r.source.path, ...on[1].split('/'));
    ctx.errors.push({
      file: r.source.file,
      ...ctx.pos(r.source.file, path),
      path,
      message: `${on[0]} dev '${dev[1]}' matches ignore pattern '${g.value}' (${ctx.where(g)}): it would never be applied (an ignored link and everything on it are left out of every plan)`,
    });
  }
}
