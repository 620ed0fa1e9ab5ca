// uapi enum values the binding uses. Debian 12's linux/bpf.h (6.1) predates tcx, so the
// numbers are spelled out here rather than read from headers.

/** enum bpf_attach_type (subset). */
export const AttachType = {
  CGROUP_INET_INGRESS: 0,
  CGROUP_INET_EGRESS: 1,
  CGROUP_INET_SOCK_CREATE: 2,
  CGROUP_SOCK_OPS: 3,
  XDP: 37,
  TCX_INGRESS: 46,
  TCX_EGRESS: 47,
} as const;
/** A value of {@link AttachType} (any bpf_attach_type number is accepted). */
export type AttachType = number;

/** enum bpf_map_type (subset). */
export const MapType = {
  HASH: 1,
  ARRAY: 2,
  PROG_ARRAY: 3,
  PERF_EVENT_ARRAY: 4,
  PERCPU_HASH: 5,
  PERCPU_ARRAY: 6,
  LRU_HASH: 9,
  LRU_PERCPU_HASH: 10,
  LPM_TRIE: 11,
  PERCPU_CGROUP_STORAGE: 21,
  SK_STORAGE: 24,
  RINGBUF: 27,
} as const;

/** Map types whose values are stored once per possible CPU. */
export const PER_CPU_MAP_TYPES: ReadonlySet<number> = new Set([
  MapType.PERCPU_HASH,
  MapType.PERCPU_ARRAY,
  MapType.LRU_PERCPU_HASH,
  MapType.PERCPU_CGROUP_STORAGE,
]);

/** enum bpf_prog_type (subset). */
export const ProgType = {
  SCHED_CLS: 3,
  SCHED_ACT: 4,
  XDP: 6,
  CGROUP_SKB: 8,
  CGROUP_SOCK: 9,
  LWT_XMIT: 12,
  SOCK_OPS: 13,
} as const;

/** Flags for map updates (BPF_ANY / BPF_NOEXIST / BPF_EXIST). */
export const UpdateFlags = { ANY: 0, NOEXIST: 1, EXIST: 2 } as const;

/** XDP attach flags (XDP_FLAGS_*): 0 lets the kernel choose native, else generic. */
export const XdpFlags = { SKB_MODE: 1 << 1, DRV_MODE: 1 << 2, HW_MODE: 1 << 3 } as const;

/** Program verifier log levels (BPF_LOG_LEVEL1/2, BPF_LOG_STATS). */
export const VerifierLogLevel = { NONE: 0, BASIC: 1, VERBOSE: 2, STATS: 4 } as const;
