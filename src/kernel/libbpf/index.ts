// Thin typed binding over libbpf.so.1 (Debian 1.1.x) via koffi. Every handle has an
// explicit close(); nothing relies on garbage collection. Errors are BpfError.
export { BpfError, BpfErrorDetail, LibbpfLogHandler, LibbpfLogLevel, errnoName, setLibbpfLogHandler } from './errors';
export { AttachType, MapType, PER_CPU_MAP_TYPES, ProgType, UpdateFlags, VerifierLogLevel, XdpFlags } from './constants';
export {
  numPossibleCpus,
  perCpuStride,
  readU32,
  readU64,
  splitPerCpu,
  sumU64Fields,
  u32,
  u64,
  writeU32,
  writeU64,
} from './codec';
export { LinkInfo, LinkType, MapInfo, ProgInfo, linkInfo, mapInfo, progInfo } from './info';
export { BatchOptions, BatchResult, BpfMap, CreateMapOptions, MapShape } from './map';
export { BpfProgram, ObjectProgram } from './program';
export { BpfObject, ObjectMap, OpenObjectOptions } from './object';
export { BpfLink, ProgramLike } from './link';
export {
  InterfaceTarget,
  TcAttachment,
  TcDirection,
  TcFilter,
  TcFilterOptions,
  attachCgroup,
  attachTc,
  attachTcClsact,
  attachTcx,
  attachXdp,
  closeTcAttachment,
  destroyClsact,
  isBpffs,
  resolveIfindex,
} from './attach';
export { MapLike, RingBuffer, RingBufferHandler, RingBufferLoopOptions } from './ringbuf';
export { bpfObjectDir, bpfObjectPath } from './paths';
export { StatsHandle, enableRunStats } from './stats';
