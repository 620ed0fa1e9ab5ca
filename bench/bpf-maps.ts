// Map throughput through the koffi libbpf binding on a 100k-entry hash map
// (u32 key, u64 value): single-element update/lookup, batch update, full batch read,
// and get_next_key iteration for comparison. Medians over several rounds.
// Usage: node dist/bench/bpf-maps.js [--json] [--entries N] [--rounds R]
// Needs root (bpf() map creation); creates only an anonymous map, no network state.
import os from 'node:os';
import { BpfMap, MapType, u32, u64 } from '../src/kernel/libbpf';

interface Row {
  name: string;
  ops: number;
  /** Median seconds for `ops` operations. */
  seconds: number;
  opsPerSec: number;
}

function arg(name: string, def: number): number {
  const i = process.argv.indexOf(name);
  return i >= 0 ? Number(process.argv[i + 1]) : def;
}

const ENTRIES = arg('--entries', 100_000);
const ROUNDS = arg('--rounds', 5);
const JSON_OUT = process.argv.includes('--json');

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

function time(fn: () => void): number {
  const t = process.hrtime.bigint();
  fn();
  return Number(process.hrtime.bigint() - t) / 1e9;
}

function measure(name: string, ops: number, setup: () => void, fn: () => void): Row {
  const runs: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    setup();
    runs.push(time(fn));
  }
  const seconds = median(runs);
  return { name, ops, seconds, opsPerSec: ops / seconds };
}

function main(): void {
  const map = BpfMap.create({ type: MapType.HASH, name: 'vt_bench', keySize: 4, valueSize: 8, maxEntries: ENTRIES });
  try {
    // Pre-encoded keys/values so the loops time the FFI + syscall, not encoding.
    const packedKeys = Buffer.alloc(ENTRIES * 4);
    const packedVals = Buffer.alloc(ENTRIES * 8);
    const keys: Buffer[] = [];
    const vals: Buffer[] = [];
    for (let i = 0; i < ENTRIES; i++) {
      u32(i * 2654435761).copy(packedKeys, i * 4); // spread over buckets
      u64(i).copy(packedVals, i * 8);
      keys.push(packedKeys.subarray(i * 4, i * 4 + 4));
      vals.push(packedVals.subarray(i * 8, i * 8 + 8));
    }
    const clear = (): void => {
      map.clear();
    };
    const fill = (): void => {
      map.updateBatch(packedKeys, packedVals);
    };
    const out = Buffer.alloc(8);
    let sink = 0;
    const rows: Row[] = [];

    rows.push(
      measure('update (single, insert)', ENTRIES, clear, () => {
        for (let i = 0; i < ENTRIES; i++) map.update(keys[i]!, vals[i]!);
      }),
    );
    rows.push(
      measure('update (single, overwrite)', ENTRIES, fill, () => {
        for (let i = 0; i < ENTRIES; i++) map.update(keys[i]!, vals[i]!);
      }),
    );
    rows.push(
      measure('update (batch, 1 call)', ENTRIES, clear, () => {
        map.updateBatch(packedKeys, packedVals);
      }),
    );
    const chunk = 1000;
    rows.push(
      measure(`update (batch, ${chunk}/call)`, ENTRIES, clear, () => {
        for (let i = 0; i < ENTRIES; i += chunk) {
          const n = Math.min(chunk, ENTRIES - i);
          map.updateBatch(packedKeys.subarray(i * 4, (i + n) * 4), packedVals.subarray(i * 8, (i + n) * 8));
        }
      }),
    );
    rows.push(
      measure('lookup (single, reused out buffer)', ENTRIES, fill, () => {
        for (let i = 0; i < ENTRIES; i++) if (map.lookup(keys[i]!, out)) sink += out[0]!;
      }),
    );
    rows.push(
      measure('lookup (single, new Buffer each)', ENTRIES, fill, () => {
        for (let i = 0; i < ENTRIES; i++) sink += map.lookup(keys[i]!)?.[0] ?? 0;
      }),
    );
    for (const c of [8192, ENTRIES]) {
      rows.push(
        measure(`read all (lookup_batch, ${c}/call)`, ENTRIES, fill, () => {
          const r = map.lookupBatch({ chunk: c });
          if (r.count !== ENTRIES) throw new Error(`batch read ${r.count} of ${ENTRIES}`);
        }),
      );
    }
    rows.push(
      measure('read all (get_next_key + lookup)', ENTRIES, fill, () => {
        let n = 0;
        for (const k of map.keys()) if (map.lookup(k, out)) n++;
        if (n !== ENTRIES) throw new Error(`iterated ${n} of ${ENTRIES}`);
      }),
    );
    if (sink < 0) console.log(sink); // keep the lookups observable

    const env = {
      entries: ENTRIES,
      rounds: ROUNDS,
      keySize: 4,
      valueSize: 8,
      node: process.version,
      kernel: os.release(),
      cpus: os.cpus().length,
    };
    if (JSON_OUT) {
      console.log(JSON.stringify({ bench: 'bpf-maps', ...env, results: rows }));
      return;
    }
    console.log(`BPF hash map, ${ENTRIES} entries (u32 -> u64), median of ${ROUNDS} rounds; node ${env.node}, kernel ${env.kernel}, ${env.cpus} CPUs`);
    const w = Math.max(...rows.map((r) => r.name.length));
    console.log(`${'operation'.padEnd(w)}  ${'ops/s'.padStart(12)}  ${'ms total'.padStart(9)}  ${'ns/op'.padStart(7)}`);
    for (const r of rows) {
      console.log(
        `${r.name.padEnd(w)}  ${Math.round(r.opsPerSec).toLocaleString('en-US').padStart(12)}  ${(r.seconds * 1e3).toFixed(1).padStart(9)}  ${((r.seconds / r.ops) * 1e9).toFixed(0).padStart(7)}`,
      );
    }
  } finally {
    map.close();
  }
}

main();
