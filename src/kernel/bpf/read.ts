// Current state of declared BPF programs: one entry per program directory Voltron owns. The
// declaration (object, program, attach, maps, entries) comes from the directory's record; the
// tag is that of the program the pinned link runs now (clsact: the program in the recorded tc
// filter, from the filter dump), read from the kernel.
import fs from 'node:fs';
import path from 'node:path';
import type { BpfProgramRes } from '../../model/types';
import { BpfLink, BpfMap, BpfProgram, LinkType, isBpffs, type LinkInfo } from '../libbpf';
import type { KernelSession } from '../session';
import { liveFilter, type LiveFilter } from './clsact';
import { readMeta, type BpfMeta } from './meta';
import { bpfRoot, linkPin, mapPin } from './paths';
import { TAG_DETACHED, TAG_INCOMPLETE, describeShape } from './tag';

export interface OwnedProgram {
  readonly dir: string;
  readonly meta: BpfMeta;
  /** Live link info, undefined when the pin is missing or the link was detached by the kernel. */
  readonly link?: LinkInfo;
  /** clsact: the program in the recorded filter, undefined when the filter is gone. */
  readonly filter?: LiveFilter;
  readonly tag?: string;
  /** Map name → pinned (exists in bpffs). */
  readonly pinnedMaps: Readonly<Record<string, boolean>>;
}

/** A link whose target vanished (device deleted, cgroup released) stays pinned but is defunct. */
export function isDefunct(info: LinkInfo): boolean {
  if (info.type === LinkType.TCX || info.type === LinkType.XDP) return !info.ifindex;
  if (info.type === LinkType.CGROUP) return !info.cgroupId;
  return false;
}

/** Live link info and program tag behind a pinned link, or undefined. */
export function linkState(pin: string): { link: LinkInfo; tag: string } | undefined {
  if (!fs.existsSync(pin)) return undefined;
  let l: BpfLink | undefined;
  try {
    l = BpfLink.openPinned(pin);
    const info = l.info();
    if (isDefunct(info) || !info.progId) return undefined;
    const p = BpfProgram.fromId(info.progId);
    try {
      return { link: info, tag: p.tag };
    } finally {
      p.close();
    }
  } catch {
    return undefined;
  } finally {
    l?.close();
  }
}

/** Every program directory in the session's owned bpffs root (reads only; mounts nothing). */
export function listOwned(session: KernelSession): OwnedProgram[] {
  const root = bpfRoot(session.sandbox);
  if (!fs.existsSync(root) || !isBpffs(root)) return [];
  const out: OwnedProgram[] = [];
  for (const name of fs.readdirSync(root).sort()) {
    const dir = path.join(root, name);
    const meta = readMeta(dir);
    if (!meta) continue;
    const pinnedMaps = Object.fromEntries(meta.maps.map((m) => [m, fs.existsSync(mapPin(dir, m))]));
    if (meta.pending || meta.next) {
      out.push({ dir, meta, pinnedMaps, tag: TAG_INCOMPLETE }); // what is attached is not what the record says
      continue;
    }
    if (meta.attach.type === 'clsact') {
      const f = liveFilter(session, meta);
      out.push({ dir, meta, pinnedMaps, ...(f ? { filter: f, tag: f.tag } : {}) });
      continue;
    }
    const live = linkState(linkPin(dir));
    out.push({ dir, meta, pinnedMaps, ...(live ? { link: live.link, tag: live.tag } : {}) });
  }
  return out;
}

/** Shape of each pinned map of `maps` (see BpfProgramRes.mapShapes). */
function pinnedShapes(dir: string, maps: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const m of maps) {
    try {
      const h = BpfMap.openPinned(mapPin(dir, m));
      try {
        out[m] = describeShape(h.info());
      } finally {
        h.close();
      }
    } catch {
      // not a map any more: its shape is unknown, the plan shows the desired one
    }
  }
  return out;
}

/**
 * Global reader: an owned program is present while its directory exists; if its link (or
 * clsact filter) is gone or defunct its tag reads `detached`, so a declared program is re-attached and an undeclared
 * one is still deleted (pins are never removed by the kernel). An interrupted create or attach
 * (pending record, or one with `next`) reads `incomplete`: redone if declared, deleted if not.
 */
export function readBpfPrograms(session: KernelSession): BpfProgramRes[] {
  return listOwned(session).map((o) => {
    const m = o.meta;
    const maps = m.maps.filter((x) => o.pinnedMaps[x]);
    const shapes = m.pending ? {} : pinnedShapes(o.dir, maps); // discarded whole by the next apply
    return {
      kind: 'bpf',
      name: m.name,
      object: m.object,
      program: m.program,
      attach: m.attach,
      maps,
      ...(m.mapEntries !== undefined ? { mapEntries: m.mapEntries } : {}),
      tag: o.tag ?? TAG_DETACHED,
      ...(Object.keys(shapes).length ? { mapShapes: shapes } : {}),
    };
  });
}
