// Plan-time checks against the running kernel: features the config uses but this kernel lacks.
import type { Resource, StateMap } from '../model/types';
import { CAPABILITIES, kernelSupports, qdiscCapability, type Capability } from '../kernel/capabilities';
import { resourceLabel } from '../model/keys';
import { sourceWhere } from '../config/positions';
import { hasFilterProgramResolver } from '../kernel/tc/filter';

function where(r: Resource): string {
  return r.source ? `${sourceWhere(r.source)}: ${r.source.path}: ` : '';
}

export function capabilityErrors(desired: StateMap): string[] {
  const out: string[] = [];
  const need = (r: Resource, c: Capability, what: string) => {
    if (kernelSupports(c) === false) out.push(`${where(r)}${resourceLabel(r)}: ${what} needs ${c.description}, which this kernel does not have`);
  };
  for (const r of desired.values()) {
    if (r.kind === 'link') {
      if (r.bridge?.vlanFiltering) need(r, CAPABILITIES.bridgeVlanFiltering, 'bridge.vlan_filtering');
      if (r.bridge?.vlanDefaultPvid !== undefined) need(r, CAPABILITIES.bridgeVlanFiltering, 'bridge.vlan_default_pvid');
      if (r.vlans?.length) need(r, CAPABILITIES.bridgeVlanFiltering, 'vlans');
      if (r.vxlan?.vnifilter) need(r, CAPABILITIES.vxlanVnifilter, 'vxlan.vnifilter');
    }
    if (r.kind === 'route' && r.encap?.type === 'seg6local') {
      need(r, CAPABILITIES.seg6local, `seg6local ${r.encap.action}`);
      // The kernel answers a bare EINVAL here: say why before any write.
      if (r.encap.vrfTable !== undefined || r.encap.action === 'End.DT4' || r.encap.action === 'End.DT46') need(r, CAPABILITIES.vrf, `seg6local ${r.encap.action} with vrf_table`);
    }
    if (r.kind === 'qdisc') {
      const c = qdiscCapability(r.qdisc);
      if (c) need(r, c, `qdisc ${r.qdisc}`);
    }
  }
  return [...out, ...unsupportedFilters(desired)];
}

/**
 * Known gap: nothing yet gives a `filters:` entry its program's fd, so its create would fail
 * mid-apply (and roll back). Refused before any write, naming the way that works; `validate`
 * warns with the same words (it passed a config that every plan then refused).
 */
export function unsupportedFilters(desired: StateMap): string[] {
  if (hasFilterProgramResolver()) return [];
  const out: string[] = [];
  for (const r of desired.values()) {
    if (r.kind === 'tfilter') out.push(`${where(r)}${resourceLabel(r)}: \`filters:\` entries are not supported yet; declare the program under bpf.programs with attach: { type: clsact, ... } instead`);
  }
  return out;
}
