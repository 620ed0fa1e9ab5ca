// A kernel session: netlink sockets per namespace, the logical → real namespace mapping
// (sandbox prefix), and a per-namespace ifindex cache. One process, several namespaces.
import { NetlinkSocket } from './netlink/socket';
import { netnsExists } from './netns';
import { ifinfomsg, linkDumpRequest, RTM_GETLINK, RTM_NEWLINK, IFLA_IFNAME, IFLA_EXT_MASK } from './netlink/rtnl';
import { AttrWriter, Attrs } from './netlink/attrs';

export interface SessionOptions {
  /** Map the root namespace and every declared namespace onto `<prefix><name>` (root: `<prefix>root`). */
  readonly sandbox?: string;
}

export class NsContext {
  private sockCache: NetlinkSocket | undefined;
  private readonly index = new Map<string, number>();
  /** Whether every ifindex in use is known (from a complete link dump), and the next free one. */
  private indexesKnown = false;
  private nextIndex = 1;
  /** Alternative link names (altname → the link's name), as of the last link dump. */
  private altnameCache: ReadonlyMap<string, string> = new Map();
  /** The namespace's netns cookie, read once per socket (null: not read yet). */
  private cookieCache: string | undefined | null = null;

  constructor(
    readonly logical: string,
    /** Real namespace name; null = the process's own namespace. */
    readonly physical: string | null,
    private readonly onSocket: (s: NetlinkSocket) => void,
  ) {}

  get sock(): NetlinkSocket {
    if (!this.sockCache) {
      this.sockCache = new NetlinkSocket(this.physical);
      this.onSocket(this.sockCache);
    }
    return this.sockCache;
  }

  /** Netns cookie of this namespace (see NetlinkSocket.netnsCookie); undefined on old kernels. */
  cookie(): string | undefined {
    if (this.cookieCache === null) this.cookieCache = this.sock.netnsCookie();
    return this.cookieCache;
  }

  rememberIndex(name: string, ifindex: number): void {
    this.index.set(name, ifindex);
  }

  rememberAltnames(altnames: ReadonlyMap<string, string>): void {
    this.altnameCache = altnames;
  }

  /**
   * The link that has `name` as an alternative name, as of the last link dump. Altnames share
   * the kernel's name space with link names: a create of that name fails (EEXIST), and a lookup
   * by it finds that link. Dumps report links by their name only.
   */
  altnameHolder(name: string): string | undefined {
    return this.altnameCache.get(name);
  }

  forgetIndex(name: string): void {
    this.index.delete(name);
  }

  /** Learn the links (names and ifindexes) of a namespace this run just created: one small dump. */
  learnIndexes(): void {
    for (const m of this.sock.dump(RTM_GETLINK, linkDumpRequest(), 'dump links')) {
      if (m.type !== RTM_NEWLINK) continue;
      const idx = m.data.readInt32LE(4);
      const name = Attrs.parse(m.data, 16).str(IFLA_IFNAME);
      if (name !== undefined) this.index.set(name, idx);
      if (idx >= this.nextIndex) this.nextIndex = idx + 1;
    }
    this.indexesKnown = true; // every ifindex in use is known (see allocateIndex for when)
  }

  /**
   * An ifindex for a link about to be created, so the create request needs no NLM_F_ECHO to
   * learn it (with nobody else listening, the kernel would build a full link message just for
   * that reply: ~0.1 s of kernel time over 2000 creates, measured). Only in a namespace this
   * run created (learnIndexes): nothing was ever deleted there, so no index is reused, which
   * the kernel's own cursor also guarantees elsewhere (there the kernel chooses and echoes).
   * Undefined when not known. Another process may take it first: the caller retries without.
   */
  allocateIndex(): number | undefined {
    return this.indexesKnown ? this.nextIndex++ : undefined;
  }

  /** Someone else created links here (a veth peer, a lost race): indexes no longer known. */
  unknowIndexes(): void {
    this.indexesKnown = false;
  }

  /** ifindex of a link by name (cached; one RTM_GETLINK on a miss). Throws ENODEV text if absent. */
  ifindex(name: string): number {
    const hit = this.index.get(name);
    if (hit !== undefined) return hit;
    const w = new AttrWriter().str(IFLA_IFNAME, name).u32(IFLA_EXT_MASK, 1);
    const replies = this.sock.request(RTM_GETLINK, 0, [ifinfomsg({}), w.view()], `get link ${name}`, false);
    const m = replies[0];
    if (!m) throw new Error(`link ${name} not found in namespace ${this.logical || '(root)'}`);
    const idx = m.data.readInt32LE(4);
    this.index.set(name, idx);
    return idx;
  }

  /** Drop the socket (the namespace was deleted or is about to be). */
  reset(): void {
    this.sockCache?.close();
    this.sockCache = undefined;
    this.cookieCache = null;
    this.index.clear();
    this.altnameCache = new Map();
    this.indexesKnown = false;
    this.nextIndex = 1;
  }
}

export class KernelSession {
  private readonly contexts = new Map<string, NsContext>();
  private readonly sockets: NetlinkSocket[] = [];
  /** Writes made outside netlink (sysctl files, netns create/delete). */
  extraWrites = 0;

  constructor(readonly options: SessionOptions = {}) {}

  get sandbox(): string | undefined {
    return this.options.sandbox;
  }

  /** Real namespace name of a logical namespace (null: our own, i.e. the host root). */
  physical(logical: string): string | null {
    const p = this.options.sandbox;
    if (p === undefined) return logical === '' ? null : logical;
    return logical === '' ? `${p}root` : `${p}${logical}`;
  }

  /** Inverse of physical() for names found in /run/netns; undefined if outside our mapping. */
  logicalOf(physical: string): string | undefined {
    const p = this.options.sandbox;
    if (p === undefined) return physical;
    if (!physical.startsWith(p)) return undefined;
    const rest = physical.slice(p.length);
    return rest === 'root' ? '' : rest;
  }

  exists(logical: string): boolean {
    const p = this.physical(logical);
    return p === null || netnsExists(p);
  }

  ns(logical: string): NsContext {
    let c = this.contexts.get(logical);
    if (!c) {
      c = new NsContext(logical, this.physical(logical), (s) => this.sockets.push(s));
      this.contexts.set(logical, c);
    }
    return c;
  }

  /** Total kernel writes made through this session. */
  get writes(): number {
    return this.sockets.reduce((n, s) => n + s.stats.writes, 0) + this.extraWrites;
  }

  get requests(): number {
    return this.sockets.reduce((n, s) => n + s.stats.requests + s.stats.dumps, 0);
  }

  forgetNamespace(logical: string): void {
    this.contexts.get(logical)?.reset();
    this.contexts.delete(logical);
  }

  close(): void {
    for (const c of this.contexts.values()) c.reset();
    this.contexts.clear();
  }
}
