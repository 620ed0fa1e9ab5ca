// Traffic control over rtnetlink: qdiscs, htb classes, cls_bpf filters.
export * from './handles';
export * from './rates';
export { canonicalQdiscOptions, decodeQdiscOptions, encodeQdiscOptions, htbUnmodelledAttrs, restorableQdiscOptions, tbfLatency, tbfLimit, type QdiscOptions } from './options';
export { createQdisc, deleteQdisc, qdiscFromRaw, readQdiscs, replaceQdisc, updateQdisc } from './qdisc';
export { classFromRaw, createClass, decodeHtbClass, deleteClass, encodeHtbClass, kernelQuantum, readClasses, restoredClassOptions, updateClass } from './tclass';
export {
  createFilter,
  decodeBpfOptions,
  deleteFilter,
  encodeBpfOptions,
  filterFromRaw,
  filterInfo,
  readFilters,
  setFilterProgramResolver,
  updateFilter,
  type ProgramFdResolver,
} from './filter';
export { dumpClasses, dumpFilters, dumpQdiscs, type RawTc } from './raw';
export { execClass, execFilter, execQdisc, readTc, registerTc } from './register';
