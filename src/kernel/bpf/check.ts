// Plan-time guard: declared programs whose new object redefines a pinned map (type, key or
// value size, max entries). Applying would have to drop the map and its contents.
import fs from 'node:fs';
import path from 'node:path';
import type { BpfProgramRes, StateMap } from '../../model/types';
import type { Plan } from '../../plan/types';
import { sourceWhere } from '../../config/positions';
import { TAG_MISSING } from './tag';
import { BpfMap, BpfObject } from '../libbpf';
import type { KernelSession } from '../session';
import { describeShape, foreignDirProblem, mapResetAllowed } from './exec';
import { clsactPriority, foreignFiltersAt, otherQdiscInClsactSlot, ownProgIds } from './clsact';
import { readMeta } from './meta';
import { bpfRoot, holdsPins, mapPin, programDir } from './paths';

/** One line per incompatible pinned map; empty when the flag allows resets. */
export function bpfMapResetProblems(session: KernelSession, desired: StateMap): string[] {
  if (mapResetAllowed()) return [];
  const root = bpfRoot(session.sandbox);
  const out: string[] = [];
  for (const r of desired.values()) {
    if (r.kind !== 'bpf' || r.maps.length === 0) continue;
    const res = r as BpfProgramRes;
    const dir = programDir(root, res.name);
    const pinned = res.maps.filter((m) => fs.existsSync(mapPin(dir, m)));
    if (pinned.length === 0 || !fs.existsSync(res.object)) continue;
    if (readMeta(dir)?.pending) continue; // an interrupted create's maps: discarded, not kept
    let obj: BpfObject;
    try {
      obj = BpfObject.open(res.object);
    } catch {
      continue; // the load error is reported by apply, with the verifier log
    }
    try {
      for (const m of pinned) {
        const om = obj.maps.find((x) => x.name === m);
        if (!om) continue;
        const pm = BpfMap.openPinned(mapPin(dir, m));
        try {
          const have = pm.info();
          const want = { type: om.type, keySize: om.keySize, valueSize: om.valueSize, maxEntries: om.maxEntries };
          if (have.type !== want.type || have.keySize !== want.keySize || have.valueSize !== want.valueSize || have.maxEntries !== want.maxEntries) {
            out.push(
              `bpf program ${res.name}: map ${m} is pinned as (${describeShape(have)}) but ${path.basename(res.object)} defines (${describeShape(want)}); ` +
                'replacing it loses its contents (pass --allow-map-reset or VOLTRON_ALLOW_MAP_RESET=1)',
            );
          }
        } finally {
          pm.close();
        }
      }
    } finally {
      obj.close();
    }
  }
  return out;
}

/**
 * A program to create whose directory holds pins without a record (ForeignBpfDir): refused
 * before any write, naming the directory; it is never taken over or removed.
 */
export function foreignBpfDirProblems(session: KernelSession, plan: Plan): string[] {
  const out: string[] = [];
  for (const c of plan.changes) {
    if (c.kind !== 'bpf' || c.action !== 'create') continue;
    const res = c.after as BpfProgramRes;
    const dir = programDir(bpfRoot(session.sandbox), res.name);
    if (readMeta(dir) || !holdsPins(dir)) continue;
    out.push(`${res.source ? `${sourceWhere(res.source)}: ${res.source.path}: ` : ''}${foreignDirProblem(res.name, dir)}`);
  }
  return out;
}

/**
 * A program whose object file does not exist cannot be created or updated: the apply failed at
 * its step, after every other write, and rolled them back. Refused before any write instead.
 */
export function missingBpfObjectProblems(plan: Plan): string[] {
  const out: string[] = [];
  for (const c of plan.changes) {
    const res = c.after as BpfProgramRes | undefined;
    if (c.kind !== 'bpf' || !res || res.tag !== TAG_MISSING) continue;
    const where = res.source ? `${sourceWhere(res.source)}: ${res.source.path}: ` : '';
    out.push(`${where}bpf program ${res.name}: object file ${res.object} does not exist (a relative object: is resolved against the config directory)`);
  }
  return out;
}

/** Every program Voltron's clsact records hold (recorded or pinned): filters running them are ours. */
function ourClsactProgIds(session: KernelSession): Set<number> {
  const root = bpfRoot(session.sandbox);
  const ids = new Set<number>();
  if (!fs.existsSync(root)) return ids;
  for (const n of fs.readdirSync(root)) {
    const meta = readMeta(path.join(root, n));
    if (meta?.attach.type === 'clsact') for (const id of ownProgIds(session, meta)) ids.add(id);
  }
  return ids;
}

/**
 * A clsact program to attach (or re-attach) where a tc filter Voltron did not put there holds
 * its hook and priority: refused before any write. Also at the place of our own filter once it
 * runs another program (ours deleted and another added: `tc filter add ... bpf` takes pref 49152
 * and handle 1 too): it is someone else's, never taken over nor deleted. An egress attach where
 * an `ingress` qdisc holds the slot is refused too (otherQdiscInClsactSlot).
 */
export function foreignClsactFilterProblems(session: KernelSession, plan: Plan): string[] {
  const changes = plan.changes.filter((c) => c.kind === 'bpf' && c.action !== 'delete' && (c.after as BpfProgramRes).attach.type === 'clsact');
  if (changes.length === 0) return [];
  const ours = ourClsactProgIds(session);
  const out: string[] = [];
  for (const c of changes) {
    const res = c.after as BpfProgramRes;
    const a = res.attach;
    const ns = session.physical(a.namespace ?? '');
    const where = res.source ? `${sourceWhere(res.source)}: ${res.source.path}: ` : '';
    const other = a.direction === 'egress' ? otherQdiscInClsactSlot(session, a) : undefined;
    if (other !== undefined) {
      out.push(
        `${where}bpf program ${res.name}: clsact egress on ${a.namespace || '(root)'}/${a.dev}: the device has an ${other} qdisc Voltron did not put there, which has no egress hook ` +
          `(the filter would run on ingress traffic); it is neither replaced nor removed (delete it, with its filters: tc${ns ? ` -n ${ns}` : ''} qdisc del dev ${a.dev} ${other})`,
      );
      continue;
    }
    const found = foreignFiltersAt(session, res.attach, ours);
    if (found.length === 0) continue;
    out.push(
      `${where}bpf program ${res.name}: clsact ${a.direction} on ${a.namespace || '(root)'}/${a.dev}, pref ${clsactPriority(a)} holds a tc filter Voltron did not put there ` +
        `(${found.join('; ')}); it is neither taken over nor removed (delete it: tc${ns ? ` -n ${ns}` : ''} filter del dev ${a.dev} ${a.direction} pref ${clsactPriority(a)}, or declare another attach.priority)`,
    );
  }
  return out;
}
