// The inventory: what Voltron created (prune only from here), original values of settings
// it changed, and the last applied revision. Written atomically (tmp + fsync + rename).
// Ownership holds for one boot: all it covers is volatile kernel state, so after a reboot an
// object of the same name was made by someone else (the boot, another daemon) and is not ours.
import fs from 'node:fs';
import path from 'node:path';
import { resourceKey } from '../model/keys';
import { VOLTRON_RTPROT, type Resource, type RouteRes, type StateMap } from '../model/types';
import { leftoverKey } from '../plan/handover';
import type { Change, Inventory } from '../plan/types';
import { EMPTY_INVENTORY } from '../plan/types';
import { isPlainObject } from '../plan/compare';
import { bootId, fromEarlierBoot } from '../util/boot';
import { legacyVnis } from '../util/ranges';
import { stateDirError } from './statedir';
import { ensureDir, removeQuietly, writeAll } from '../util/fsx';
import { pidAlive } from './lock';

export function stateDirFor(base: string, sandbox: string | undefined): string {
  return sandbox === undefined ? base : path.join(base, 'sandbox', sandbox.replace(/[^A-Za-z0-9_.-]/g, '_'));
}

export function inventoryPath(stateDir: string): string {
  return path.join(stateDir, 'inventory.json');
}

/**
 * A damaged inventory is an error naming the file, never an empty one: read as "owns nothing",
 * objects Voltron created would become foreign (never pruned, never destroyed).
 */
function parseInventory(p: string, text: string): Inventory {
  const damaged = (why: string) =>
    new Error(`${p}: damaged inventory (${why}). Restore it from your own backups (Voltron keeps none), or move it aside to start over (Voltron then owns nothing it created before).`);
  let data: unknown;
  try {
    data = JSON.parse(text, legacyVnis);
  } catch (e) {
    throw damaged(text.trim() === '' ? 'empty file' : (e as Error).message);
  }
  if (!isPlainObject(data)) throw damaged('not a JSON object');
  if (data.version !== 1) throw new Error(`${p}: unsupported inventory version ${String(data.version)}`);
  if (!isPlainObject(data.owned)) throw damaged('no "owned" object');
  // A hand-edited entry (null, a number) would otherwise fail later as a bare TypeError.
  const bad = Object.entries(data.owned).find(([, r]) => !isPlainObject(r) || typeof r.kind !== 'string');
  if (bad) throw damaged(`"owned" entry ${JSON.stringify(bad[0])} is not an object with a "kind"`);
  if (data.original !== undefined && !isPlainObject(data.original)) throw damaged('"original" is not an object');
  if (data.adopted !== undefined && !(isPlainObject(data.adopted) && Object.values(data.adopted).every((r) => isPlainObject(r) && r.kind === 'route'))) throw damaged('"adopted" is not an object of routes');
  if (data.ifindex !== undefined && !isPlainObject(data.ifindex)) throw damaged('"ifindex" is not an object');
  if (data.netnsCookie !== undefined && !isCookieMap(data.netnsCookie)) throw damaged('"netnsCookie" is not an object of decimal strings');
  if (data.host !== undefined && typeof data.host !== 'string') throw damaged('"host" is not a string');
  if (data.ignore !== undefined && !(Array.isArray(data.ignore) && data.ignore.every((g) => typeof g === 'string'))) throw damaged('"ignore" is not a list of strings');
  return { ...data, original: data.original ?? {} } as unknown as Inventory;
}

/** Cookies are u64: kept as decimal text, which JSON numbers could round. */
function isCookieMap(v: unknown): boolean {
  return isPlainObject(v) && Object.values(v).every((c) => typeof c === 'string' && /^[0-9]+$/.test(c));
}

export function loadInventory(stateDir: string): Inventory {
  const p = inventoryPath(stateDir);
  const text = readInventoryText(stateDir);
  if (text === undefined) return EMPTY_INVENTORY;
  const data = parseInventory(p, text);
  if (fromEarlierBoot(data.bootId)) return { ...data, owned: {}, original: {}, ifindex: {}, netnsCookie: {}, bootId: bootId() };
  return data;
}

/**
 * The inventory's text, undefined when there is none. Only a missing file (or a state dir that is
 * a file) means none: one that cannot be read (no permission, a symlink loop) is an error, never
 * "owns nothing" (existsSync says false for those too).
 */
function readInventoryText(stateDir: string): string | undefined {
  try {
    return fs.readFileSync(inventoryPath(stateDir), 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
    throw stateDirError(stateDir, e, 'read the inventory');
  }
}

export function writeFileAtomic(p: string, text: string): void {
  ensureDir(path.dirname(p));
  const tmp = `${p}.tmp-${process.pid}`;
  try {
    const fd = fs.openSync(tmp, 'w', 0o600);
    try {
      writeAll(fd, text); // a short write renamed into place was a truncated (damaged) inventory
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
  } catch (e) {
    removeQuietly(tmp); // a partial file (disk full) must not stay and take the space
    throw e;
  }
  fs.renameSync(tmp, p);
  removeStaleTemps(p);
  const dfd = fs.openSync(path.dirname(p), 'r');
  try {
    fs.fsyncSync(dfd);
  } finally {
    fs.closeSync(dfd);
  }
}

/** Temporary files of `p` left by a writer that was killed (SIGKILL) before its rename. */
function removeStaleTemps(p: string): void {
  const prefix = `${path.basename(p)}.tmp-`;
  for (const n of fs.readdirSync(path.dirname(p))) {
    if (!n.startsWith(prefix)) continue;
    const pid = Number(n.slice(prefix.length));
    if (Number.isInteger(pid) && pid !== process.pid && !pidAlive(pid)) fs.rmSync(path.join(path.dirname(p), n), { force: true });
  }
}

export function saveInventory(stateDir: string, inv: Inventory): void {
  try {
    writeFileAtomic(inventoryPath(stateDir), inventoryText(inv));
  } catch (e) {
    throw stateDirError(stateDir, e, 'save the inventory');
  }
}

function inventoryText(inv: Inventory): string {
  return `${JSON.stringify({ ...inv, bootId: bootId() }, null, 1)}\n`;
}

/**
 * Save unless the file already holds exactly this inventory (or there is none and it holds
 * nothing): a rollback restores the pre-apply one, usually still on disk, and so completes on a
 * full disk.
 */
export function saveInventoryIfChanged(stateDir: string, inv: Inventory): void {
  let text: string | undefined;
  try {
    text = readInventoryText(stateDir);
  } catch {
    return saveInventory(stateDir, inv);
  }
  if (text === undefined ? !holdsNothing(inv) : text !== inventoryText(inv)) saveInventory(stateDir, inv);
}

const holdsNothing = (inv: Inventory): boolean =>
  [inv.owned, inv.original, inv.ifindex ?? {}, inv.netnsCookie ?? {}].every((o) => Object.keys(o).length === 0);

function keepsForeignProtocol(r: Resource): boolean {
  return (r.kind === 'rule' || r.kind === 'route') && r.protocol !== undefined && r.protocol !== VOLTRON_RTPROT;
}

function strip(r: Resource): Resource {
  const { source: _s, ...rest } = r as Resource & { source?: unknown };
  return rest as Resource;
}

/** Folds executed changes into an inventory; O(1) per change (a 3000-step apply copies nothing). */
export class InventoryBuilder {
  private readonly owned: Record<string, Resource>;
  private readonly original: Record<string, string>;
  private readonly ifindex: Record<string, number>;
  private readonly netnsCookie: Record<string, string>;

  constructor(private readonly base: Inventory) {
    this.owned = { ...base.owned };
    this.original = { ...base.original };
    this.ifindex = { ...base.ifindex };
    this.netnsCookie = { ...base.netnsCookie };
  }

  /** `found`: the value a setting created without a before-state had in the kernel (execute.ts). */
  record(c: Change, found?: string): this {
    const { owned, original } = this;
    // A link created, recreated or deleted has no known index until the next verified read.
    if (c.kind === 'link' && c.action !== 'update') delete this.ifindex[c.key];
    // Likewise a namespace's cookie (a new namespace has a new one).
    if (c.kind === 'namespace' && c.action !== 'update') delete this.netnsCookie[c.key];
    if (c.action === 'delete') {
      delete owned[c.key];
      delete original[c.key];
    } else if (c.after) {
      const isSetting = c.kind === 'sysctl' || c.kind === 'tunsrc';
      // The original is the value before Voltron first took the setting over: once it owns it,
      // a later `before` is drift Voltron repairs, not a value to restore on removal.
      if (isSetting && original[c.key] === undefined && owned[c.key] === undefined) {
        const before = c.before ? (settingValue(c.before) ?? '') : found;
        if (before !== undefined) original[c.key] = before;
      }
      // Created objects are owned; settings we changed are owned (restored on removal);
      // pre-existing objects we only updated are adopted, never deleted on removal.
      // An adopted rule replaced keeps its protocol (replacingRule), and stays adopted; so does an
      // adopted route moved to another metric or table (adoptedRouteMoves: created with it).
      if (((c.action === 'create' || c.action === 'replace') && !keepsForeignProtocol(c.after)) || isSetting || owned[c.key]) owned[c.key] = strip(c.after);
      // The other end of the pair, which this create brings back after the plan deleted its
      // namesake (its own key holds that delete): made by Voltron, so owned as well.
      if (c.pairedPeer) {
        const peerKey = resourceKey(c.pairedPeer);
        owned[peerKey] = strip(c.pairedPeer);
        delete this.ifindex[peerKey];
      }
    }
    return this;
  }

  /**
   * A rule replace that failed between its two writes: the new rule is recorded as the replace's
   * would be, and the old one, still live, under leftoverKey: the next plan deletes it.
   */
  recordHalf(c: Change): this {
    this.record(c);
    if (c.before) this.owned[leftoverKey(c.key)] = strip(c.before);
    return this;
  }

  result(): Inventory {
    return { ...this.base, owned: { ...this.owned }, original: { ...this.original }, ifindex: { ...this.ifindex }, netnsCookie: { ...this.netnsCookie } };
  }
}

/** The value of a setting (sysctl, tunsrc) as compared and restored; undefined for other kinds. */
export function settingValue(r: Resource | undefined): string | undefined {
  return r?.kind === 'sysctl' ? r.value : r?.kind === 'tunsrc' ? r.address : undefined;
}

/**
 * Declared settings already at their value need no write, but Voltron takes them over all the
 * same, with the value found (`found`: the pre-apply read) as the original a removal restores.
 * Otherwise a drift repaired by a later apply would be recorded as the original instead.
 */
export function takeOverSettings(inv: Inventory, desired: StateMap, found: StateMap): Inventory {
  let owned: Record<string, Resource> | undefined;
  let original: Record<string, string> | undefined;
  for (const [k, r] of desired) {
    if ((r.kind !== 'sysctl' && r.kind !== 'tunsrc') || inv.owned[k] !== undefined) continue;
    const value = settingValue(found.get(k));
    if (value === undefined) continue; // not live yet: its create records what it finds
    owned ??= { ...inv.owned };
    original ??= { ...inv.original };
    owned[k] = strip(r);
    original[k] ??= value;
  }
  return owned ? { ...inv, owned, original: original! } : inv; // usually nothing new: no copy
}

/**
 * The declared routes found live with another protocol than Voltron's and not owned (adopted), as
 * `Inventory.adopted`: what lets the next plan move one whose metric or table the config changes
 * (adoptedRouteMoves). The inventory itself when that is what it records already.
 */
export function recordAdoptedRoutes(inv: Inventory, desired: StateMap, found: ReadonlyMap<string, Resource>): Inventory {
  let adopted: Record<string, Resource> | undefined;
  for (const [k, d] of desired) {
    if (d.kind !== 'route') continue;
    const r = found.get(k);
    if (r?.kind !== 'route' || r.protocol === undefined || r.protocol === VOLTRON_RTPROT || inv.owned[k] !== undefined) continue;
    (adopted ??= {})[k] = strip(r);
  }
  const was = inv.adopted ?? {};
  const now = adopted ?? {};
  const keys = Object.keys(now);
  const same = keys.length === Object.keys(was).length && keys.every((k) => (was[k] as RouteRes | undefined)?.protocol === (now[k] as RouteRes).protocol);
  if (same) return inv;
  const { adopted: _was, ...rest } = inv;
  return adopted === undefined ? rest : { ...rest, adopted };
}

/** Fold one executed change into the inventory (pure). */
export function recordChange(inv: Inventory, c: Change): Inventory {
  return new InventoryBuilder(inv).record(c).result();
}

export function ownedKeys(inv: Inventory): string[] {
  return Object.keys(inv.owned);
}

export function keyOf(r: Resource): string {
  return resourceKey(r);
}
