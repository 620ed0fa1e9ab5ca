// Per-namespace sysctls the kernel checks against another key of the same namespace: a write
// that would put `low` above `high` is refused (EINVAL), whichever of the two is written
// (measured on 6.18, as in ipv4_local_port_range/ipv4_privileged_ports and the fragment
// queues' minmax bounds, which point at each other). Each value alone says nothing of the pair:
// which order of writes works, and whether the final pair is valid at all, depends on both.
//   ip_unprivileged_port_start ≤ the low end of ip_local_port_range
//   ipfrag_low_thresh ≤ ipfrag_high_thresh (and IPv6's, and netfilter's IPv6 defrag)

export interface SysctlPair {
  /** The key whose number must not exceed `high`'s. */
  readonly low: string;
  readonly high: string;
  /** What a new namespace starts with (kernel constants: inet_init_net, the fqdir init). */
  readonly fresh: { readonly low: string; readonly high: string };
  /** What `low` is set to while a `high` value is judged alone, and `high` for a `low` value. */
  readonly loosest: { readonly low: string; readonly high: string };
}

const ULONG_MAX = '18446744073709551615';
const frags = (low: string, high: string): SysctlPair => ({ low, high, fresh: { low: '3145728', high: '4194304' }, loosest: { low: '0', high: ULONG_MAX } });

export const SYSCTL_PAIRS: readonly SysctlPair[] = [
  { low: 'net.ipv4.ip_unprivileged_port_start', high: 'net.ipv4.ip_local_port_range', fresh: { low: '1024', high: '32768 60999' }, loosest: { low: '0', high: '65535 65535' } },
  frags('net.ipv4.ipfrag_low_thresh', 'net.ipv4.ipfrag_high_thresh'),
  frags('net.ipv6.ip6frag_low_thresh', 'net.ipv6.ip6frag_high_thresh'),
  frags('net.netfilter.nf_conntrack_frag6_low_thresh', 'net.netfilter.nf_conntrack_frag6_high_thresh'),
];

/** Key → its pair and side. */
export const PAIR_OF: ReadonlyMap<string, { readonly pair: SysctlPair; readonly side: 'low' | 'high' }> = new Map(
  SYSCTL_PAIRS.flatMap((p): [string, { pair: SysctlPair; side: 'low' | 'high' }][] => [
    [p.low, { pair: p, side: 'low' }],
    [p.high, { pair: p, side: 'high' }],
  ]),
);

/** The number of a value the kernel compares (the first: a port range's low end); undefined: not a number. */
export function pairNumber(value: string): bigint | undefined {
  const m = /^\s*(\d+)/.exec(value);
  return m ? BigInt(m[1]!) : undefined;
}
