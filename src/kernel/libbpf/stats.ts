// Kernel-wide BPF run-time statistics (BPF_ENABLE_STATS): while the returned handle is
// open, every program's run_time_ns / run_cnt (ProgInfo) accumulate.
import { check, ensureLibbpfInit } from './errors';
import { bpf, cfn } from './native';

const BPF_STATS_RUN_TIME = 0;

/** Handle keeping run-time stats enabled; close() turns them off again (if nobody else holds them). */
export interface StatsHandle {
  /** Release the stats fd (idempotent). */
  close(): void;
}

/** Enable BPF run-time statistics for as long as the handle stays open. */
export function enableRunStats(): StatsHandle {
  ensureLibbpfInit();
  let fd = check('bpf_enable_stats', bpf.enable_stats(BPF_STATS_RUN_TIME) as number, 'BPF_STATS_RUN_TIME');
  return {
    close(): void {
      if (fd >= 0) cfn.close(fd);
      fd = -1;
    },
  };
}
