// Per-program record Voltron keeps next to the pins. bpffs cannot hold regular files (only
// pins, directories and symlinks; no '.' in names), so `meta` is a symlink whose target is the
// JSON text, split over meta_<gen>_1..N when it exceeds one symlink (PATH_MAX). It lives and dies with
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
  /**
   * Intent record of a create under way: written before the first pin, replaced by the full
   * record last. Left by a crash, it makes the directory Voltron's: read as tag `incomplete`,
   * deleted whole by recover/destroy/prune, discarded and created again by the next apply.
   * `target` holds the clsact filter's place once known (before the filter is added).
   */
  readonly pending?: true;
  /**
   * A new attachment under way on a complete record (replace, re-attach): its declaration, and
   * for clsact the filter's place, written before it is made; the full record clears it. Left by
   * a crash, the program reads `incomplete` and the next change on it first removes what that
   * attach made (the new link, the filter at that place), so the record is true again.
   */
  readonly next?: BpfNext;
  readonly updated: string;
}

export interface BpfNext {
  readonly attach: BpfAttach;
  readonly target?: BpfTarget;
  readonly clsactCreated?: boolean;
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
/** The next head, renamed over `meta`: a reader (or a crash) sees the old record or the new one, whole. */
const NEXT = 'meta_next';
const CHUNK = 1000; // characters; ≤ 4 bytes each in UTF-8, under PATH_MAX

interface Head {
  readonly chunks: number;
  /** Names this record's chunks (`meta_<gen>_<i>`): the previous record's stay until the rename. */
  readonly gen?: string;
}

function chunkName(head: Head, i: number): string {
  return head.gen === undefined ? `${FILE}_${i}` : `${FILE}_${head.gen}_${i}`; // no gen: an older Voltron's
}

/**
 * Written atomically, as the inventory is: chunks first under a new generation, then the head
 * under a temporary name, renamed over `meta` (bpffs renames in place); what the old record used
 * goes last. A crash at any point leaves one whole record, the old or the new.
 */
export function writeMeta(dir: string, meta: BpfMeta): void {
  const text = JSON.stringify(meta);
  let head = text;
  const keep = new Set([FILE]);
  if (text.length > CHUNK) {
    const h: Head = { chunks: Math.ceil(text.length / CHUNK), gen: Date.now().toString(36) + Math.random().toString(36).slice(2, 6) };
    for (let i = 0; i < h.chunks; i++) {
      const name = chunkName(h, i + 1);
      fs.symlinkSync(text.slice(i * CHUNK, (i + 1) * CHUNK), path.join(dir, name));
      keep.add(name);
    }
    head = JSON.stringify(h);
  }
  fs.rmSync(path.join(dir, NEXT), { force: true }); // left by a crash before its rename
  fs.symlinkSync(head, path.join(dir, NEXT));
  fs.renameSync(path.join(dir, NEXT), path.join(dir, FILE));
  for (const f of fs.readdirSync(dir)) if (f.startsWith(`${FILE}_`) && !keep.has(f)) fs.unlinkSync(path.join(dir, f));
}

/** The record, or undefined if the directory has none (not a Voltron program dir). */
export function readMeta(dir: string): BpfMeta | undefined {
  try {
    const head = JSON.parse(fs.readlinkSync(path.join(dir, FILE))) as BpfMeta | Head;
    if (!('chunks' in head)) return head;
    let text = '';
    for (let i = 1; i <= head.chunks; i++) text += fs.readlinkSync(path.join(dir, chunkName(head, i)));
    return JSON.parse(text) as BpfMeta;
  } catch {
    return undefined;
  }
}
