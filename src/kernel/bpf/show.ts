// What `voltron show` lists for BPF: owned programs with their link and pinned maps.
import fs from 'node:fs';
import { BpfMap } from '../libbpf';
import type { KernelSession } from '../session';
import { listOwned } from './read';
import { mapPin, progPin } from './paths';

export interface BpfShowRow {
  readonly name: string;
  readonly dir: string;
  readonly object: string;
  readonly program: string;
  /** `tcx ingress ns/dev`, `cgroup sock_ops /x`, `xdp ns/dev`. */
  readonly attach: string;
  /** Tag of the attached program, or 'detached'. */
  readonly tag: string;
  readonly progId?: number;
  readonly linkId?: number;
  /** clsact: the tc filter's place (present when the filter is there). */
  readonly filter?: { readonly priority: number; readonly handle: number };
  readonly maps: readonly { readonly name: string; readonly id?: number; readonly type?: number; readonly entries?: number; readonly pinned: boolean }[];
}

export function describeBpf(session: KernelSession): BpfShowRow[] {
  return listOwned(session).map((o) => {
    const a = o.meta.attach;
    const where = a.type === 'cgroup' ? `cgroup ${a.hook} /${a.cgroup}` : `${a.type}${a.direction ? ` ${a.direction}` : ''} ${a.namespace || '(root)'}/${a.dev}`;
    const t = o.meta.target;
    const maps = o.meta.maps.map((m) => {
      const pin = mapPin(o.dir, m);
      if (!fs.existsSync(pin)) return { name: m, pinned: false };
      const h = BpfMap.openPinned(pin);
      try {
        const i = h.info();
        return { name: m, id: i.id, type: i.type, entries: i.maxEntries, pinned: true };
      } finally {
        h.close();
      }
    });
    return {
      name: o.meta.name,
      dir: o.dir,
      object: o.meta.object,
      program: o.meta.program,
      attach: where,
      tag: o.tag ?? 'detached',
      ...(o.link ? { progId: o.link.progId, linkId: o.link.id } : {}),
      ...(o.filter && t.priority !== undefined && t.handle !== undefined ? { progId: o.filter.progId, filter: { priority: t.priority, handle: t.handle } } : {}),
      maps,
    };
  });
}

/** Plain-text rendering of describeBpf, one block per program. */
export function formatBpfShow(rows: readonly BpfShowRow[]): string {
  if (rows.length === 0) return 'BPF programs: none';
  const out = ['BPF programs:'];
  for (const r of rows) {
    out.push(`  ${r.name}: ${r.program} from ${r.object}`);
    const held = r.linkId !== undefined ? `, link id ${r.linkId} (pinned ${r.dir}/link)` : r.filter ? `, tc filter pref ${r.filter.priority} handle ${r.filter.handle} (program pinned ${progPin(r.dir)})` : '';
    out.push(`    attach ${r.attach}, tag ${r.tag}${r.progId !== undefined ? `, prog id ${r.progId}` : ''}${held}`);
    for (const m of r.maps) out.push(`    map ${m.name}: ${m.pinned ? `id ${m.id}, type ${m.type}, max ${m.entries} entries, pinned ${r.dir}/maps/${m.name}` : 'not pinned'}`);
  }
  return out.join('\n');
}
