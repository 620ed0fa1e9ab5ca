// Executor of bpf changes. create: load (maps pinned under the owned dir, existing pins
// reused), attach through a bpf_link, pin it, record. update: load the new object against the
// SAME map pins, then bpf_link_update on the pinned link (same link id, no detach window).
// replace (attach point changed): attach the new link, then detach the old one. delete: detach,
// unpin, remove the directory. A verifier rejection throws before anything is touched.
// clsact has no link: a cls_bpf filter at a recorded place (clsact.ts), the program pinned as
// `prog`; update is `tc filter replace` at the same handle/priority (atomic swap).
import fs from 'node:fs';
import path from 'node:path';
import type { BpfAttach, BpfProgramRes } from '../../model/types';
import type { Change } from '../../plan/types';
import {
  AttachType,
  BpfError,
  BpfLink,
  BpfMap,
  BpfObject,
  BpfProgram,
  PER_CPU_MAP_TYPES,
  attachCgroup,
  attachTcx,
  attachXdp,
  numPossibleCpus,
  type ObjectProgram,
} from '../libbpf';
import type { KernelSession } from '../session';
import { attachClsact, dropFilter, filterAt, liveFilter, recordedTarget, sameTarget, undoAttach, type ClsactAttached, type ClsactTarget } from './clsact';
import { readMeta, writeMeta, type BpfMeta, type BpfNext } from './meta';
import { bpffsName, bpfRoot, cgroupRoot, ensureRoot, holdsPins, linkPin, mapPin, mapsDir, programDir, progPin, releaseRootIfEmpty, stagedLinkPin, stagedProgPin } from './paths';
import { isDefunct } from './read';
import { describeShape, openForProgram } from './tag';

let allowReset = false;
/** The fault seam's named points inside a create (ExecContext.at), set for one executeBpf call. */
let checkpoint: (point: string) => void = () => {};

/** Let an update drop pinned maps whose shape changed (CLI --allow-map-reset). */
export function setAllowMapReset(v: boolean): void {
  allowReset = v;
}

/** The CLI flag (set by makeContext) or the env var. */
export function mapResetAllowed(): boolean {
  return allowReset || process.env.VOLTRON_ALLOW_MAP_RESET === '1';
}

/** A pinned map whose type/key/value/size differs from the new object's definition. */
export class MapResetRefused extends Error {
  constructor(
    readonly program: string,
    readonly maps: readonly string[],
  ) {
    super(
      `bpf program ${program}: ${maps.join('; ')}. Keeping the pinned map is impossible and replacing it loses its contents; ` +
        'refused (pass --allow-map-reset or set VOLTRON_ALLOW_MAP_RESET=1 to replace the map and lose its data). Nothing was changed.',
    );
    this.name = 'MapResetRefused';
  }
}

/**
 * The program's directory holds pins but no record: not made by this Voltron (by hand, or an
 * older one killed mid-create). Never touched: its pins may keep a program attached.
 */
export class ForeignBpfDir extends Error {
  constructor(
    readonly program: string,
    readonly dir: string,
  ) {
    super(foreignDirProblem(program, dir));
    this.name = 'ForeignBpfDir';
  }
}

export function foreignDirProblem(program: string, dir: string): string {
  return (
    `bpf program ${program}: ${dir} holds pins but no record of Voltron's (made by hand, or left by an older Voltron killed mid-create); it is not touched. ` +
    `A pinned link in it keeps its program attached (a clsact program stays in its tc filter until \`tc filter del\`): look with \`bpftool link show pinned ${dir}/link\`, \`ls -R ${dir}\`; remove it with \`rm -r ${dir}\` (that detaches what only its pins hold)`
  );
}

/** Load failure with the verifier's explanation in the message (the CLI prints the message). */
export class BpfLoadFailed extends Error {
  constructor(
    readonly program: string,
    readonly error: Error,
  ) {
    const log = error instanceof BpfError ? (error.verifierLog ?? '').trimEnd() : '';
    const lib = error instanceof BpfError ? error.libbpfLog.filter((l) => l.trim()).map((l) => `  ${l.trim()}`).join('\n') : '';
    super(
      `loading bpf program ${program} failed: ${error.message}` +
        (log ? `\nverifier log:\n${log}` : '') +
        (lib && !log ? `\nlibbpf:\n${lib}` : '') +
        '\nThe previously attached program (if any) is still attached.',
    );
    this.name = 'BpfLoadFailed';
  }
}

const HOOKS: Record<string, number> = {
  ingress: AttachType.CGROUP_INET_INGRESS,
  egress: AttachType.CGROUP_INET_EGRESS,
  sock_ops: AttachType.CGROUP_SOCK_OPS,
};

interface Loaded {
  readonly obj: BpfObject;
  readonly prog: ObjectProgram;
  /** Maps that got a fresh instance (shape changed, reset allowed): pinned after the switch. */
  readonly reset: readonly string[];
}

export { describeShape };

/** Open + check pinned maps + load. Throws MapResetRefused / BpfLoadFailed; nothing attached. */
function load(res: BpfProgramRes, dir: string): Loaded {
  let obj: BpfObject;
  try {
    obj = openForProgram(res.object, res.program);
  } catch (e) {
    throw new BpfLoadFailed(res.name, e as Error);
  }
  try {
    const reset: string[] = [];
    const problems: string[] = [];
    for (const m of res.maps) {
      const om = obj.map(m);
      const pin = mapPin(dir, m);
      if (fs.existsSync(pin)) {
        const pm = BpfMap.openPinned(pin);
        let have;
        try {
          have = pm.info();
        } finally {
          pm.close();
        }
        const want = { type: om.type, keySize: om.keySize, valueSize: om.valueSize, maxEntries: om.maxEntries };
        if (have.type !== want.type || have.keySize !== want.keySize || have.valueSize !== want.valueSize || have.maxEntries !== want.maxEntries) {
          problems.push(`map ${m} is pinned as (${describeShape(have)}) but ${path.basename(res.object)} defines (${describeShape(want)})`);
          reset.push(m);
          continue;
        }
      }
      om.setPinPath(pin);
    }
    if (problems.length && !mapResetAllowed()) throw new MapResetRefused(res.name, problems);
    try {
      obj.load();
    } catch (e) {
      throw new BpfLoadFailed(res.name, e as Error);
    }
    return { obj, prog: obj.program(res.program), reset };
  } catch (e) {
    obj.close();
    throw e;
  }
}

/** Replace reset maps' pins by the new instances (after the program switched to them). */
function repinReset(l: Loaded, dir: string): void {
  for (const m of l.reset) {
    const pin = mapPin(dir, m);
    fs.rmSync(pin, { force: true });
    l.obj.map(m).pin(pin);
  }
}

function hexBuf(hex: string): Buffer {
  return Buffer.from(hex, 'hex');
}

/** Write declared initial entries (per-CPU maps: a one-CPU value is written to every CPU). */
function writeEntries(res: BpfProgramRes, l: Loaded, only?: readonly string[]): void {
  for (const [m, list] of Object.entries(res.mapEntries ?? {})) {
    if (only && !only.includes(m)) continue;
    const map = l.obj.map(m);
    for (const { key, value } of list) {
      const k = hexBuf(key);
      const v = hexBuf(value);
      if (k.length !== map.keySize) throw new Error(`bpf program ${res.name}: map ${m} key ${key} is ${k.length} bytes, the map's key is ${map.keySize}`);
      if (PER_CPU_MAP_TYPES.has(map.type) && v.length === map.valueSize) {
        const stride = Math.ceil(map.valueSize / 8) * 8;
        const one = Buffer.alloc(stride);
        v.copy(one);
        map.updatePerCpu(k, Array.from({ length: numPossibleCpus() }, () => one));
      } else {
        if (v.length !== map.valueSize) throw new Error(`bpf program ${res.name}: map ${m} value ${value} is ${v.length} bytes, the map's value is ${map.valueSize}`);
        map.update(k, v);
      }
    }
  }
}

type Attached =
  | { readonly kind: 'link'; readonly link: BpfLink; readonly target: BpfMeta['target'] }
  | ({ readonly kind: 'filter' } & ClsactAttached);

/**
 * `prev`: the directory's record, so a clsact filter still at the same place is swapped, not
 * duplicated. `onPlace`: told a clsact filter's place before it is added (see attachClsact).
 */
function attach(session: KernelSession, prog: ObjectProgram, a: BpfAttach, prev?: BpfMeta, onPlace?: (t: ClsactTarget, clsactCreated: boolean) => void): Attached {
  switch (a.type) {
    case 'tcx': {
      const netns = session.physical(a.namespace ?? '');
      const link = attachTcx(prog, { ifname: a.dev!, netns, direction: a.direction! });
      return { kind: 'link', link, target: { netns, ifindex: link.info().ifindex! } };
    }
    case 'xdp': {
      const netns = session.physical(a.namespace ?? '');
      const link = attachXdp(prog, { ifname: a.dev!, netns });
      return { kind: 'link', link, target: { netns, ifindex: link.info().ifindex! } };
    }
    case 'cgroup': {
      const cg = path.join(cgroupRoot(), a.cgroup ?? '');
      const type = HOOKS[a.hook ?? ''];
      if (type === undefined) throw new Error(`cgroup hook ${a.hook} is not supported`);
      return { kind: 'link', link: attachCgroup(prog, cg, type), target: { cgroup: cg } };
    }
    case 'clsact':
      return { kind: 'filter', ...attachClsact(session, prog, a, prev, onPlace) };
  }
}

/** Let go of the handle: a link fd is closed (its pin keeps it); a filter is kept, never detached. */
function releaseAttached(a: Attached): void {
  if (a.kind === 'link') a.link.close();
  else a.filter.release();
}

/**
 * clsact: pin the next program as `prog_new` before the filter runs it, so the filter always
 * runs a program pinned in our directory (see ownProgIds); `commitProg` renames it over `prog`.
 */
function stageProg(dir: string, prog: ObjectProgram): void {
  const next = stagedProgPin(dir);
  fs.rmSync(next, { force: true });
  prog.pin(next);
}

function commitProg(dir: string): void {
  fs.renameSync(stagedProgPin(dir), progPin(dir));
}

/** Run `fn` after staging the program; the staged pin goes again if `fn` fails. */
function withStagedProg<T>(dir: string, prog: ObjectProgram, fn: () => T): T {
  stageProg(dir, prog);
  try {
    return fn();
  } catch (e) {
    fs.rmSync(stagedProgPin(dir), { force: true });
    throw e;
  }
}

/** The previous clsact filter, unless `a` is that very filter (re-attached in place). */
function dropOldFilter(session: KernelSession, prev: BpfMeta | undefined, a: Attached): void {
  if (!prev || prev.attach.type !== 'clsact') return;
  const old = recordedTarget(prev);
  if (old && a.kind === 'filter' && sameTarget(old, a.target)) return;
  dropFilter(session, prev);
}

/** Pins and record for a fresh attachment; drops what the previous record attached elsewhere. */
function commit(session: KernelSession, dir: string, res: BpfProgramRes, l: Loaded, a: Attached, prev: BpfMeta | undefined): void {
  if (a.kind === 'link') {
    const next = stagedLinkPin(dir);
    fs.rmSync(next, { force: true });
    a.link.pin(next);
    checkpoint('pin');
    dropLink(linkPin(dir));
    fs.renameSync(next, linkPin(dir));
    dropOldFilter(session, prev, a);
    fs.rmSync(progPin(dir), { force: true });
    checkpoint('meta');
    record(dir, res, l.prog.tag, a.link.id, a.target);
  } else {
    commitProg(dir);
    dropLink(linkPin(dir));
    dropOldFilter(session, prev, a);
    checkpoint('meta');
    record(dir, res, l.prog.tag, 0, a.target, { progId: l.prog.id, clsactCreated: a.clsactCreated });
  }
}

function record(dir: string, res: BpfProgramRes, tag: string, linkId: number, target: BpfMeta['target'], extra: Pick<BpfMeta, 'progId' | 'clsactCreated' | 'pending'> = {}): void {
  writeMeta(dir, {
    version: 1,
    name: res.name,
    object: res.object,
    program: res.program,
    attach: res.attach,
    maps: res.maps,
    ...(res.mapEntries !== undefined ? { mapEntries: res.mapEntries } : {}),
    tag,
    linkId,
    target,
    ...extra,
    updated: new Date().toISOString(),
  });
}

/** Detach and unpin the link at `pin` (a defunct or already detached link is fine). */
function dropLink(pin: string): void {
  if (!fs.existsSync(pin)) return;
  try {
    const l = BpfLink.openPinned(pin);
    try {
      l.detach();
    } catch {
      // defunct links (target gone) refuse detach: unpinning below releases them
    } finally {
      l.close();
    }
  } catch {
    // not a link any more: just remove the pin
  }
  fs.rmSync(pin, { force: true });
}

function unpinDroppedMaps(dir: string, keep: readonly string[]): void {
  const md = mapsDir(dir);
  if (!fs.existsSync(md)) return;
  const want = new Set(keep.map(bpffsName));
  for (const f of fs.readdirSync(md)) if (!want.has(f)) fs.rmSync(path.join(md, f), { force: true });
}

/**
 * Attach and commit; a filter this call added is removed again if committing fails. `pending`:
 * the directory has only the intent record, which then learns a clsact filter's place before the
 * filter is added (a crash leaves a record naming it, for recover to remove).
 */
function attachAndCommit(session: KernelSession, dir: string, res: BpfProgramRes, l: Loaded, prev: BpfMeta | undefined, pending = false): void {
  // The new attachment is named in the record before it is made: a crash leaves it findable.
  const intend = (target?: ClsactTarget, clsactCreated?: boolean): void => {
    if (pending) record(dir, res, '', 0, target ?? {}, { ...(clsactCreated !== undefined ? { clsactCreated } : {}), pending: true });
    else if (prev) writeMeta(dir, { ...prev, next: { attach: res.attach, ...(target ? { target, clsactCreated: clsactCreated ?? false } : {}) } });
  };
  if (!pending && res.attach.type !== 'clsact') intend(); // clsact: once its place is known (not for an in-place swap)
  const a = res.attach.type === 'clsact' ? withStagedProg(dir, l.prog, () => attach(session, l.prog, res.attach, prev, intend)) : attach(session, l.prog, res.attach, prev);
  try {
    checkpoint('attach');
    commit(session, dir, res, l, a, prev);
  } catch (e) {
    if (a.kind === 'filter') undoAttach(session, a, res.attach.namespace ?? '');
    throw e;
  } finally {
    releaseAttached(a);
  }
}

/**
 * Attach from scratch (also repairs a directory whose link or filter is missing or defunct). A
 * new program gets its intent record (pending) before its first pin, so a crash at any point
 * leaves a directory Voltron knows as its own; one left so is discarded whole first.
 */
function create(session: KernelSession, res: BpfProgramRes, dir: string): void {
  const root = path.dirname(dir);
  ensureRoot(root);
  let prev = readMeta(dir);
  if (prev?.pending) {
    dropProgramDir(session, dir, prev);
    prev = undefined;
  } else if (!prev && holdsPins(dir)) throw new ForeignBpfDir(res.name, dir);
  const fresh = !prev;
  try {
    if (fresh) {
      fs.mkdirSync(dir, { recursive: true, mode: 0o700 }); // may exist, empty: a crash before its first record
      record(dir, res, '', 0, {}, { pending: true });
      checkpoint('pending');
    }
    fs.mkdirSync(mapsDir(dir), { recursive: true, mode: 0o700 });
    const l = load(res, dir);
    try {
      repinReset(l, dir);
      writeEntries(res, l);
      checkpoint('maps');
      dropLink(linkPin(dir)); // a stale pin from a detached link
      attachAndCommit(session, dir, res, l, prev, fresh);
      unpinDroppedMaps(dir, res.maps);
    } finally {
      l.obj.close();
    }
  } catch (e) {
    if (fresh) {
      fs.rmSync(dir, { recursive: true, force: true });
      releaseRootIfEmpty(root);
    }
    throw e;
  }
}

function entriesChanged(c: Change): boolean {
  return c.fields.some((f) => f.field === 'mapEntries' || f.field.startsWith('mapEntries.'));
}

/** Swap the program behind the pinned link; maps are the pinned ones, so their state carries over. */
function update(session: KernelSession, c: Change, res: BpfProgramRes, dir: string): void {
  if (res.attach.type === 'clsact') return updateClsact(session, c, res, dir);
  let link: BpfLink;
  try {
    link = BpfLink.openPinned(linkPin(dir));
  } catch {
    return create(session, res, dir);
  }
  try {
    const info = link.info();
    if (isDefunct(info)) {
      link.close();
      return create(session, res, dir);
    }
    const l = load(res, dir);
    try {
      const old = BpfProgram.fromId(info.progId);
      try {
        link.update(l.prog, old); // BPF_F_REPLACE: fails if someone swapped it meanwhile
      } finally {
        old.close();
      }
      repinReset(l, dir);
      if (entriesChanged(c)) writeEntries(res, l);
      else if (l.reset.length) writeEntries(res, l, l.reset);
      unpinDroppedMaps(dir, res.maps);
      const target = info.ifindex !== undefined ? { netns: session.physical(res.attach.namespace ?? ''), ifindex: info.ifindex } : { cgroup: path.join(cgroupRoot(), res.attach.cgroup ?? '') };
      record(dir, res, l.prog.tag, info.id, target);
    } finally {
      l.obj.close();
    }
  } finally {
    link.close();
  }
}

/**
 * clsact: `tc filter replace` at the recorded handle/priority (cls_bpf swaps the program
 * atomically, no packet passes unfiltered), then re-pin `prog`. Filter gone: attach again.
 */
function updateClsact(session: KernelSession, c: Change, res: BpfProgramRes, dir: string): void {
  const prev = readMeta(dir);
  const t = prev && recordedTarget(prev);
  if (!prev || !t || !liveFilter(session, prev)) return create(session, res, dir);
  const l = load(res, dir);
  try {
    withStagedProg(dir, l.prog, () => filterAt(t).update(l.prog));
    commitProg(dir);
    repinReset(l, dir);
    if (entriesChanged(c)) writeEntries(res, l);
    else if (l.reset.length) writeEntries(res, l, l.reset);
    unpinDroppedMaps(dir, res.maps);
    record(dir, res, l.prog.tag, 0, t, { progId: l.prog.id, clsactCreated: prev.clsactCreated ?? false });
  } finally {
    l.obj.close();
  }
}

/** New attach point: attach the new link or filter first, then detach the old one. */
function replace(session: KernelSession, res: BpfProgramRes, dir: string): void {
  const prev = readMeta(dir);
  if (!prev || (prev.attach.type !== 'clsact' && !fs.existsSync(linkPin(dir)))) return create(session, res, dir);
  const l = load(res, dir);
  try {
    attachAndCommit(session, dir, res, l, prev);
    repinReset(l, dir);
    writeEntries(res, l, l.reset);
    unpinDroppedMaps(dir, res.maps);
  } finally {
    l.obj.close();
  }
}

/** Detach, unpin the link (or filter + prog) and the maps, remove the directory (only inside the owned root). */
export function removeProgram(session: KernelSession, name: string): void {
  const root = bpfRoot(session.sandbox);
  const dir = programDir(root, name);
  const meta = readMeta(dir);
  if (!meta) return; // gone, or not Voltron's (no record): never touched
  dropProgramDir(session, dir, meta);
  releaseRootIfEmpty(root);
}

/** What a record's directory holds, detached and unpinned; pending records included. */
function dropProgramDir(session: KernelSession, dir: string, meta: BpfMeta): void {
  dropLink(linkPin(dir));
  dropLink(stagedLinkPin(dir)); // a crash between the new link's pin and its rename
  if (meta.next) dropNextFilter(session, meta, meta.next);
  if (meta.attach.type === 'clsact') dropFilter(session, meta);
  fs.rmSync(dir, { recursive: true, force: true });
}

/** The filter an interrupted attach added at its new place (record.next), if ours; not the recorded one. */
function dropNextFilter(session: KernelSession, meta: BpfMeta, next: BpfNext): void {
  if (next.attach.type !== 'clsact' || !next.target) return;
  const at: BpfMeta = { ...meta, attach: next.attach, target: next.target, clsactCreated: next.clsactCreated ?? false };
  const nt = recordedTarget(at);
  const old = recordedTarget(meta);
  if (nt && !(old && sameTarget(old, nt))) dropFilter(session, at);
}

function pinnedLinkId(pin: string): number | undefined {
  if (!fs.existsSync(pin)) return undefined;
  try {
    const l = BpfLink.openPinned(pin);
    try {
      return l.id;
    } finally {
      l.close();
    }
  } catch {
    return undefined;
  }
}

/**
 * Undo what an interrupted replace or re-attach made (record.next): its link (`link_new`, or
 * `link` once renamed over the recorded one: another id) and its filter at the new place. The
 * record is then true again, and the change runs on it.
 */
function settle(session: KernelSession, dir: string, meta: BpfMeta & { next: BpfNext }): void {
  dropLink(stagedLinkPin(dir));
  const id = pinnedLinkId(linkPin(dir));
  if (id !== undefined && id !== meta.linkId) dropLink(linkPin(dir));
  dropNextFilter(session, meta, meta.next);
  const { next: _next, ...rest } = meta;
  writeMeta(dir, rest);
}

/**
 * The config declares the clsact the program leaves (Change.clsactDeclared): it is the config's
 * from now on, so the record no longer says the program made it (delete and replace read it).
 */
function disownClsact(dir: string): void {
  const meta = readMeta(dir);
  if (meta?.clsactCreated) writeMeta(dir, { ...meta, clsactCreated: false });
}

export function executeBpf(c: Change, session: KernelSession, at?: (point: string) => void): void {
  checkpoint = at ?? (() => {});
  try {
    executeBpfChange(c, session);
  } finally {
    checkpoint = () => {};
  }
}

function executeBpfChange(c: Change, session: KernelSession): void {
  // bpf(2) calls are not netlink, so no socket counts them: one write per change, else the
  // apply summary said "0 kernel write(s)" after swapping a program.
  session.extraWrites++;
  if (c.clsactDeclared) disownClsact(programDir(bpfRoot(session.sandbox), (c.before as BpfProgramRes).name));
  if (c.action === 'delete') return removeProgram(session, (c.before as BpfProgramRes).name);
  const res = c.after as BpfProgramRes;
  const dir = programDir(bpfRoot(session.sandbox), res.name);
  // An interrupted create (read as tag `incomplete`): whatever the plan says, start it over.
  const meta = readMeta(dir);
  if (c.action === 'create' || meta?.pending) return create(session, res, dir);
  if (meta?.next) settle(session, dir, { ...meta, next: meta.next });
  if (c.action === 'update') return update(session, c, res, dir);
  return replace(session, res, dir);
}
