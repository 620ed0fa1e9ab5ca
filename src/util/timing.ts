// Phase timings for performance work: VOLTRON_TIMINGS=1 prints each phase's wall time to
// stderr at exit (process start → first mark includes node start-up and module loading).
const enabled = process.env.VOLTRON_TIMINGS === '1';
const marks: [string, number][] = [];

export function mark(label: string): void {
  if (!enabled) return;
  if (marks.length === 0) process.once('exit', report);
  marks.push([label, performance.now()]);
}

function report(): void {
  let prev = 0;
  const lines = marks.map(([l, t]) => {
    const s = `  ${(t - prev).toFixed(1).padStart(8)} ms  ${l}`;
    prev = t;
    return s;
  });
  process.stderr.write(`timings (since process start):\n${lines.join('\n')}\n  ${prev.toFixed(1).padStart(8)} ms  total\n`);
}
