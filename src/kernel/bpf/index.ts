// Declared BPF programs (bpf.programs[]): pins under a Voltron-owned bpffs directory, read as
// current state, planned by tag, executed by link create/update. Importing this module
// registers the global reader and the 'bpf' executor.
import { registerExecutor } from '../../apply/execute';
import { registerGlobalReader } from '../read';
import { executeBpf } from './exec';
import { readBpfPrograms } from './read';

registerGlobalReader(readBpfPrograms);
registerExecutor('bpf', (c, ctx) => executeBpf(c, ctx.session, ctx.at));

export { bpfMapResetProblems, foreignBpfDirProblems, foreignClsactFilterProblems, missingBpfObjectProblems } from './check';
export { BpfLoadFailed, MapResetRefused, executeBpf, mapResetAllowed, removeProgram, setAllowMapReset } from './exec';
export { CLSACT_DEFAULT_PRIORITY, CLSACT_FILTER_HANDLE } from './clsact';
export { BpfMeta, BpfTarget, readMeta } from './meta';
export { bpfRoot, cgroupRoot, progPin } from './paths';
export { OwnedProgram, listOwned, readBpfPrograms } from './read';
export { BpfShowRow, describeBpf, formatBpfShow } from './show';
export { TAG_DETACHED, TAG_INCOMPLETE, TAG_MISSING, TAG_REJECTED, enrichDesiredBpf, programTag } from './tag';
