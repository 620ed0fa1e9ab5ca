// What this running kernel supports, detected from the kernel itself (its symbol table),
// so a config using a missing feature fails at plan time with a clear error, before any write.
import fs from 'node:fs';

let symbols: Set<string> | undefined;

function kernelSymbols(): Set<string> {
  if (!symbols) {
    symbols = new Set();
    try {
      const text = fs.readFileSync('/proc/kallsyms', 'utf8');
      for (const line of text.split('\n')) {
        const sp = line.lastIndexOf(' ');
        const tab = line.indexOf('\t');
        symbols.add(line.slice(sp + 1, tab < 0 ? undefined : tab));
      }
    } catch {
      // unreadable: every probe below answers "unknown" (treated as supported)
    }
  }
  return symbols;
}

function has(...candidates: string[]): boolean | undefined {
  const s = kernelSymbols();
  if (s.size === 0) return undefined;
  return candidates.some((c) => s.has(c));
}

export interface Capability {
  readonly id: string;
  readonly description: string;
  readonly probe: () => boolean | undefined;
}

export const CAPABILITIES = {
  bridgeVlanFiltering: { id: 'bridge-vlan-filtering', description: 'bridge VLAN filtering (CONFIG_BRIDGE_VLAN_FILTERING)', probe: () => has('br_vlan_filter_toggle', 'nbp_vlan_add') },
  vxlanVnifilter: { id: 'vxlan-vnifilter', description: 'VXLAN VNI filtering', probe: () => has('vxlan_vnifilter_dump') },
  seg6local: { id: 'seg6local', description: 'SRv6 seg6local behaviours', probe: () => has('seg6_local_build_state') },
  vrf: { id: 'vrf', description: 'VRF devices (CONFIG_NET_VRF), needed by End.DT4/End.DT46 and vrf_table', probe: () => has('vrf_dev_init', 'vrf_newlink', 'vrf_fib_rule') },
  qdisc_fq: { id: 'qdisc-fq', description: 'the fq qdisc (sch_fq)', probe: () => has('fq_init') },
  qdisc_fq_codel: { id: 'qdisc-fq_codel', description: 'the fq_codel qdisc (sch_fq_codel)', probe: () => has('fq_codel_init') },
  qdisc_htb: { id: 'qdisc-htb', description: 'the htb qdisc', probe: () => has('htb_init') },
  qdisc_tbf: { id: 'qdisc-tbf', description: 'the tbf qdisc', probe: () => has('tbf_init') },
  qdisc_clsact: { id: 'qdisc-clsact', description: 'the clsact qdisc', probe: () => has('clsact_init') },
} satisfies Record<string, Capability>;

/** true/false when known; undefined when the kernel cannot be asked. */
export function kernelSupports(c: Capability): boolean | undefined {
  return c.probe();
}

export function qdiscCapability(kind: string): Capability | undefined {
  return (CAPABILITIES as Record<string, Capability>)[`qdisc_${kind}`];
}
