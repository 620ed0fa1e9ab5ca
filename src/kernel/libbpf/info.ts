// BPF_OBJ_GET_INFO_BY_FD decoding for programs, maps and links. Offsets follow the uapi
// structs (checked with offsetof against linux/bpf.h); newer fields are read from a
// zeroed oversized buffer, which the kernel accepts (it only requires a zero tail).
import { check } from './errors';
import { readU32, readU64, writeU32 } from './codec';
import { bpf } from './native';

const INFO_BUF = 512;

function getInfo(fd: number, what: string): { buf: Buffer; len: number } {
  const buf = Buffer.alloc(INFO_BUF);
  const len = Buffer.alloc(4);
  writeU32(len, 0, INFO_BUF);
  check('bpf_obj_get_info_by_fd', bpf.obj_get_info_by_fd(fd, buf, len) as number, what);
  return { buf, len: readU32(len) };
}

function cstr(buf: Buffer, off: number, max: number): string {
  const end = buf.indexOf(0, off);
  return buf.toString('utf8', off, end < 0 || end > off + max ? off + max : end);
}

/** struct bpf_prog_info, the fields we use. */
export interface ProgInfo {
  /** enum bpf_prog_type. */
  type: number;
  /** Kernel-wide program id. */
  id: number;
  /** 8-byte program tag (hash of the instructions) as 16 hex characters, like bpftool. */
  tag: string;
  /** Program name (up to 15 characters). */
  name: string;
  /** Size of the translated (post-verifier) program in bytes. */
  xlatedLen: number;
  /** Map ids the program uses (count only; ids are not fetched). */
  nrMapIds: number;
  /** Load time, ns since boot. */
  loadTimeNs: bigint;
  /** Accumulated run time (needs bpf_enable_stats / sysctl kernel.bpf_stats_enabled). */
  runTimeNs: bigint;
  /** Number of runs (same condition as runTimeNs). */
  runCount: bigint;
  /** Instructions processed by the verifier. */
  verifiedInsns: number;
}

/** Read program info from a program fd. */
export function progInfo(fd: number): ProgInfo {
  const { buf } = getInfo(fd, `prog fd ${fd}`);
  return {
    type: readU32(buf, 0),
    id: readU32(buf, 4),
    tag: buf.subarray(8, 16).toString('hex'),
    xlatedLen: readU32(buf, 20),
    loadTimeNs: readU64(buf, 40),
    nrMapIds: readU32(buf, 52),
    name: cstr(buf, 64, 16),
    runTimeNs: readU64(buf, 192),
    runCount: readU64(buf, 200),
    verifiedInsns: readU32(buf, 216),
  };
}

/** struct bpf_map_info, the fields we use. */
export interface MapInfo {
  /** enum bpf_map_type. */
  type: number;
  /** Kernel-wide map id. */
  id: number;
  keySize: number;
  valueSize: number;
  maxEntries: number;
  /** BPF_F_* map flags. */
  flags: number;
  /** Map name (up to 15 characters). */
  name: string;
}

/** Read map info from a map fd. */
export function mapInfo(fd: number): MapInfo {
  const { buf } = getInfo(fd, `map fd ${fd}`);
  return {
    type: readU32(buf, 0),
    id: readU32(buf, 4),
    keySize: readU32(buf, 8),
    valueSize: readU32(buf, 12),
    maxEntries: readU32(buf, 16),
    flags: readU32(buf, 20),
    name: cstr(buf, 24, 16),
  };
}

/** enum bpf_link_type values (the ones a network reconciler meets). */
export const LinkType = {
  UNSPEC: 0,
  RAW_TRACEPOINT: 1,
  TRACING: 2,
  CGROUP: 3,
  ITER: 4,
  NETNS: 5,
  XDP: 6,
  PERF_EVENT: 7,
  KPROBE_MULTI: 8,
  STRUCT_OPS: 9,
  NETFILTER: 10,
  TCX: 11,
  UPROBE_MULTI: 12,
  NETKIT: 13,
} as const;

/** struct bpf_link_info, common part plus the type-specific target. */
export interface LinkInfo {
  /** enum bpf_link_type (see {@link LinkType}). */
  type: number;
  /** Kernel-wide link id: stable across bpf_link_update. */
  id: number;
  /** Id of the program currently attached through the link. */
  progId: number;
  /** Interface index for XDP / tcx / netkit links. */
  ifindex?: number;
  /** enum bpf_attach_type for cgroup / netns / tcx links. */
  attachType?: number;
  /** cgroup id (inode number of the cgroup directory) for cgroup links. */
  cgroupId?: bigint;
}

/** Read link info from a link fd. */
export function linkInfo(fd: number): LinkInfo {
  const { buf } = getInfo(fd, `link fd ${fd}`);
  const info: LinkInfo = { type: readU32(buf, 0), id: readU32(buf, 4), progId: readU32(buf, 8) };
  // The type-specific union starts at offset 16 (8-byte aligned).
  switch (info.type) {
    case LinkType.CGROUP:
      info.cgroupId = readU64(buf, 16);
      info.attachType = readU32(buf, 24);
      break;
    case LinkType.NETNS:
      info.attachType = readU32(buf, 20);
      break;
    case LinkType.XDP:
      info.ifindex = readU32(buf, 16);
      break;
    case LinkType.TCX:
    case LinkType.NETKIT:
      info.ifindex = readU32(buf, 16);
      info.attachType = readU32(buf, 20);
      break;
    default:
      break;
  }
  return info;
}
