// Shared state of the semantic pass: positioned error reporting and reference lookups.
import type { SourceRef } from '../model/types';
import { nsLabel } from '../model/keys';
import { isPoisoned, type Poison } from './merge';
import { ptrJoin, type ConfigError, type Entry } from './types';
import type { YamlFile } from './yamlpos';

export class Ctx {
  readonly errors: ConfigError[] = [];
  /** Declared namespaces (logical names, root excluded). */
  readonly namespaces = new Set<string>();
  /** Link names per namespace: `${ns}/${name}` → link type (declared ends and veth peers). */
  readonly links = new Map<string, string>();
  /** Declared MTUs per link (`${ns}/${name}`), for checks that depend on them. */
  readonly linkMtus = new Map<string, number>();
  /** Below 1280 without a declared mtu: what the kernel gives the link (from its lower devices or ports), and how. */
  readonly derivedLowMtus = new Map<string, { mtu: number; why: string }>();
  /** Links declared `state: down` (`${ns}/${name}`). */
  readonly downLinks = new Set<string>();

  constructor(
    private readonly files: ReadonlyMap<string, YamlFile>,
    readonly poison: Poison,
    /** Namespaces and links removed by a `state: absent` entry (Merged.removed). */
    private readonly removed: ReadonlyMap<string, Entry> = new Map(),
  ) {}

  pos(file: string, ptr: string, key = false): { line: number; column: number } {
    return this.files.get(file)?.pos(ptr, key) ?? { line: 1, column: 1 };
  }

  /** Error at field `sub` (a/b/c, '' = the entry itself) of an entry. */
  err(e: Entry, sub: string, message: string, key = false): void {
    const path = sub === '' ? e.ptr : ptrJoin(e.ptr, ...sub.split('/'));
    this.errors.push({ file: e.file, ...this.pos(e.file, path, key), path, message });
  }

  /** Where a resource came from; `key` points at the mapping key (sysctls). */
  source(e: Entry, key = false): SourceRef {
    return key ? { file: e.file, path: e.ptr, key } : { file: e.file, path: e.ptr };
  }

  where(e: Entry): string {
    const p = this.pos(e.file, e.ptr);
    return `${e.file}:${p.line}:${p.column}`;
  }

  /** Interface name rules of the kernel (dev_valid_name) plus '%' (name templates). */
  ifname(name: string, e: Entry, sub: string): boolean {
    const bytes = Buffer.byteLength(name, 'utf8');
    let why: string | undefined;
    if (name === '') why = 'must not be empty';
    else if (bytes > 15) why = `is ${bytes} bytes long (at most 15)`;
    else if (name === '.' || name === '..') why = `must not be '.' or '..'`;
    else if (/[/:%\s]/.test(name) || /[\x00-\x1f\x7f]/.test(name)) why = `contains an illegal character (/ : % whitespace or control)`;
    if (why) this.err(e, sub, `interface name '${name}' ${why}`);
    return why === undefined;
  }

  /** Logical namespace names: they become netns file names (with a prefix), so keep them tame. */
  nsName(name: string, e: Entry, sub: string): boolean {
    const ok = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,31}$/.test(name);
    if (!ok) this.err(e, sub, `illegal namespace name '${name}' (1..32 of A-Z a-z 0-9 _ . -, not starting with '.' or '-')`);
    return ok;
  }

  /** A `namespace:` reference: '' (root) or a declared namespace. */
  nsRef(ns: string, e: Entry, sub: string): void {
    if (ns === '' || this.namespaces.has(ns) || isPoisoned(this.poison, 'namespaces', ns)) return;
    // Plans print the root namespace as "(root)": a user may copy that into the config.
    const hint = this.removedHint('namespaces', ns) || (/^\(?root\)?$/i.test(ns) ? ` (the root namespace is written '' or by leaving out 'namespace')` : '');
    this.err(e, sub, `namespace '${ns}' is not declared in namespaces${hint}`);
  }

  /** ` (removed by …)` when a `state: absent` entry removed the object named `id`, else ''. */
  removedHint(kind: 'namespaces' | 'links', id: string): string {
    const e = this.removed.get(`${kind}:${id}`);
    return e ? ` (removed by the state: absent entry at ${this.where(e)})` : '';
  }

  /**
   * IPv6 on `dev` is impossible when its declared MTU is below 1280: the kernel disables IPv6
   * on such a device, so addresses and routes on it fail mid-apply.
   */
  ipv6Dev(ns: string, dev: string, e: Entry, sub: string): void {
    const problem = this.ipv6MtuProblem(ns, dev);
    if (problem) this.err(e, sub, problem);
  }

  /** Why IPv6 cannot live on `dev` (its declared or derived MTU is below 1280), or undefined. */
  ipv6MtuProblem(ns: string, dev: string): string | undefined {
    const mtu = this.linkMtus.get(`${ns}/${dev}`);
    const derived = this.derivedLowMtus.get(`${ns}/${dev}`);
    if (mtu !== undefined && mtu < 1280) return `IPv6 on '${dev}' needs mtu >= 1280 (it has mtu ${mtu}; the kernel disables IPv6 below that)`;
    if (mtu === undefined && derived) return `IPv6 on '${dev}' needs mtu >= 1280 (it declares none and gets mtu ${derived.mtu}, ${derived.why}; the kernel disables IPv6 below that)`;
    return undefined;
  }

  /**
   * An IPv6 address on a link declared down: the kernel flushes a link's IPv6 addresses when it
   * is set down (addrconf_ifdown), so an apply taking the link down would never verify.
   */
  ipv6AddressUp(ns: string, dev: string, e: Entry, sub: string): void {
    if (this.downLinks.has(`${ns}/${dev}`))
      this.err(e, sub, `IPv6 address on '${dev}', which is declared 'state: down': the kernel removes a link's IPv6 addresses when it is set down (bring the link up, or declare the address once it is)`);
  }

  /**
   * A device reference. In Voltron's own namespaces every device must be declared (or be lo);
   * in the root namespace an undeclared name is a host device Voltron does not manage (eth1).
   * Returns false when an error was reported.
   */
  devRef(ns: string, name: string, e: Entry, sub: string, what: string): boolean {
    if (!this.ifname(name, e, sub)) return false;
    if (name === 'lo' || ns === '' || this.links.has(`${ns}/${name}`)) return true;
    if (isPoisoned(this.poison, 'links', `${ns}/${name}`)) return true;
    // In an undeclared namespace the namespace error (nsRef) says what is wrong.
    if (!this.namespaces.has(ns)) return false;
    this.err(e, sub, `${what} '${name}' is not a link declared in namespace ${nsLabel(ns)}${this.removedHint('links', `${ns}/${name}`)}`);
    return false;
  }
}

/** Copy without undefined-valued fields, so optional model fields are truly absent. */
export function compact<T extends object>(o: T): T {
  // A fresh object, not `delete`: deleting properties turns objects into slow dictionaries.
  const r: Record<string, unknown> = {};
  for (const k in o) if (o[k] !== undefined) r[k] = o[k];
  return r as T;
}
