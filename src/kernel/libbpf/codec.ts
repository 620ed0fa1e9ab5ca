// Host-byte-order encoders for map keys and values. BPF maps store raw C structs, so
// integers are in the CPU's byte order (little-endian on x86-64 and arm64).
import os from 'node:os';
import { bpf } from './native';

const LE = os.endianness() === 'LE';

/** Encode a u32 as a 4-byte host-order Buffer (a typical array-map key). */
export function u32(n: number): Buffer {
  const b = Buffer.allocUnsafe(4);
  writeU32(b, 0, n);
  return b;
}

/** Encode a u64 as an 8-byte host-order Buffer. */
export function u64(n: bigint | number): Buffer {
  const b = Buffer.allocUnsafe(8);
  writeU64(b, 0, n);
  return b;
}

/** Write a host-order u32 at `off`. */
export function writeU32(b: Buffer, off: number, n: number): void {
  if (LE) b.writeUInt32LE(n >>> 0, off);
  else b.writeUInt32BE(n >>> 0, off);
}

/** Write a host-order u64 at `off`. */
export function writeU64(b: Buffer, off: number, n: bigint | number): void {
  const v = BigInt.asUintN(64, BigInt(n));
  if (LE) b.writeBigUInt64LE(v, off);
  else b.writeBigUInt64BE(v, off);
}

/** Read a host-order u32 at `off`. */
export function readU32(b: Buffer, off = 0): number {
  return LE ? b.readUInt32LE(off) : b.readUInt32BE(off);
}

/** Read a host-order u64 at `off`. */
export function readU64(b: Buffer, off = 0): bigint {
  return LE ? b.readBigUInt64LE(off) : b.readBigUInt64BE(off);
}

let possibleCpus = 0;

/**
 * Number of possible CPUs (libbpf_num_possible_cpus): the count per-CPU maps store a
 * value for, which can exceed the online CPU count.
 */
export function numPossibleCpus(): number {
  if (possibleCpus === 0) {
    const n = bpf.num_possible_cpus() as number;
    if (n <= 0) throw new Error(`libbpf_num_possible_cpus failed: ${n}`);
    possibleCpus = n;
  }
  return possibleCpus;
}

/** Per-CPU value stride: each CPU's copy is padded to 8 bytes. */
export function perCpuStride(valueSize: number): number {
  return (valueSize + 7) & ~7;
}

/** Split a per-CPU lookup result into one `valueSize` slice per possible CPU (views, no copy). */
export function splitPerCpu(buf: Buffer, valueSize: number, cpus = numPossibleCpus()): Buffer[] {
  const stride = perCpuStride(valueSize);
  const out: Buffer[] = [];
  for (let c = 0; c < cpus; c++) out.push(buf.subarray(c * stride, c * stride + valueSize));
  return out;
}

/**
 * Sum each u64 field of a value across CPUs. For a value `struct { u64 packets; u64 bytes; }`
 * this returns `[packets, bytes]` totals. Non-per-CPU values: pass `cpus = 1`.
 */
export function sumU64Fields(buf: Buffer, valueSize: number, cpus = numPossibleCpus()): bigint[] {
  const fields = Math.floor(valueSize / 8);
  const stride = cpus === 1 ? valueSize : perCpuStride(valueSize);
  const sums: bigint[] = new Array<bigint>(fields).fill(0n);
  for (let c = 0; c < cpus; c++) {
    for (let f = 0; f < fields; f++) sums[f] += readU64(buf, c * stride + f * 8);
  }
  return sums;
}
