// Where compiled BPF objects live: scripts/build-bpf.sh writes dist/bpf/<name>.bpf.o.
import fs from 'node:fs';
import path from 'node:path';
import { distDir } from '../../util/paths';

/** Directory holding compiled BPF objects (VOLTRON_BPF_DIR overrides dist/bpf). */
export function bpfObjectDir(): string {
  return process.env.VOLTRON_BPF_DIR ?? path.join(distDir(), 'bpf');
}

/**
 * Path of a compiled object by base name (`bpfObjectPath('counter')` →
 * dist/bpf/counter.bpf.o). Throws a clear error if it was not built.
 */
export function bpfObjectPath(name: string): string {
  const p = path.join(bpfObjectDir(), `${name}.bpf.o`);
  if (!fs.existsSync(p)) {
    throw new Error(`BPF object ${p} not found: run scripts/build-bpf.sh (needs clang, libbpf-dev)`);
  }
  return p;
}
