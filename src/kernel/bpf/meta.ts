// Per-program record Voltron keeps next to the pins. bpffs cannot hold regular files (only
// pins, directories and symlinks; no '.' in names), so `meta` is a symlink whose target is the
// JSON text, split over meta_1..N when it exceeds one symlink (PATH_MAX). It lives and dies with
// the pins.
import fs from 'node:fs';
import path from 'node:path';
import type { BpfAttach } from '../../model/types';

export interface BpfMeta {
  readonly version: 1;
  readonly name: string;
  readonly object: string;
  readonly program: string;
  readonly attach: BpfAttach;
  readonly maps: readonly string[];
  readonly mapEntries?: Readonly<Record<string, readonly { key: string; value: string }[]>>;
  /** Tag of the program attached by the last apply. */
  readonly tag: string;
  /** bpf_link id; 0 for clsact (a tc filter, no link). */
  readonly linkId: number;
  /** Resolved target: real netns name and ifindex, or cgroup directory; clsact adds the filter's place. */
  readonly target: BpfTarget;
  /** clsact: id of the program put in the filter by the last apply (also pinned as `prog`). */
  readonly progId?: number;
  /** clsact: Voltron created the clsact qdisc (it removes it with the last filter, never a pre-existing one). */
  readonly clsactCreated?: boolean;
  readonly updated: string;
}

export interface BpfTarget {
  readonly netns?: string | null;
  readonly ifindex?: number;
  readonly cgroup?: string;
  /** clsact only: the cls_bpf filter is found again by hook, priority and handle. */
  readonly direction?: 'ingress' | 'egress';
  readonly priority?: number;
  readonly handle?: number;
}

const FILE = 'meta';
const CHUNK = 1000; // characters; ≤ 4 bytes each in UTF-8, under PATH_MAX

function clear(dir: string): void {
  for (const f of fs.readdirSync(dir)) if (f === FILE || f.startsWith(`${FILE}_`)) fs.unlinkSync(path.join(dir, f));
}

export function writeMeta(dir: string, meta: BpfMeta): void {
  clear(dir);
  const text = JSON.stringify(meta);
  if (text.length <= CHUNK) {
    fs.symlinkSync(text, path.join(dir, FILE));
    return;
  }
  const n = Math.ceil(text.length / CHUNK);
  for (let i = 0; i < n; i++) fs.symlinkSync(text.slice(i * CHUNK, (i + 1) * CHUNK), path.join(dir, `${FILE}_${i + 1}`));
  fs.symlinkSync(JSON.stringify({ chunks: n }), path.join(dir, FILE));
}

/** The record, or undefined if the directory has none (not a Voltron program dir). */
export function readMeta(dir: string): BpfMeta | undefined {
  try {
    const head = JSON.parse(fs.readlinkSync(path.join(dir, FILE))) as BpfMeta | { chunks: number };
    if (!('chunks' in head)) return head;
    let text = '';
    for (let i = 1; i <= head.chunks; i++) text += fs.readlinkSync(path.join(dir, `${FILE}_${i}`));
    return JSON.parse(text) as BpfMeta;
  } catch {
    return undefined;
  }
}
