// Phase timings for performance work: VOLTRON_TIMINGS=1 prints each phase's wall time (and the
// process's user/system CPU in it: system is kernel work done for us) to
// stderr at exit (process start → first mark includes node start-up and module loading).
const enabled = process.env.VOLTRON_TIMINGS === '1';
const marks: [string, number, NodeJS.CpuUsage][] = [];

export function mark(label: string): void {
  if (!enabled) return;
  if (marks.length === 0) process.once('exit', report);
  marks.push([label, performance.now(), process.cpuUsage()]);
}

function report(): void {
  let prev = 0;
  let prevCpu: NodeJS.CpuUsage = { user: 0, system: 0 };
  const lines = marks.map(([l, t, cpu]) => {
    const user = (cpu.user - prevCpu.user) / 1000;
    const sys = (cpu.system - prevCpu.system) / 1000;
    const s = `  ${(t - prev).toFixed(1).padStart(8)} ms  ${l}  (cpu: user ${user.toFixed(0)}, sys ${sys.toFixed(0)} ms)`;
    prev = t;
    prevCpu = cpu;
    return s;
  });
  process.stderr.write(`timings (since process start):\n${lines.join('\n')}\n  ${prev.toFixed(1).padStart(8)} ms  total\n`);
}
