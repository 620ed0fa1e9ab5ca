// The normalised, kernel-independent model shared by config, kernel, plan and apply.
// Every resource is a plain readonly object with a `kind` discriminant; its identity is
// `resourceKey(r)` (see keys.ts). Namespace names are *logical*: '' is the host's root
// namespace; the kernel layer maps logical names to real netns names (sandbox prefix).

export const ROOT_NS = '';

/** Protocol number on routes, rules and addresses Voltron installs (`rtm_protocol`, IFA_PROTO). */
export const VOLTRON_RTPROT = 194;

/** 'other': a live link of a kind Voltron does not manage (eth0, lo, tun...); never declared. */
export type LinkType = 'veth' | 'bridge' | 'vxlan' | 'macvlan' | 'other';
export type LinkState = 'up' | 'down';

/** Where a resource was declared; line and column are resolved on demand (config/positions.ts). */
export interface SourceRef {
  readonly file: string;
  /** JSON path of the object in its file, e.g. `/links/3`. */
  readonly path: string;
  /** The position is that of the mapping key naming the object (sysctls). */
  readonly key?: boolean;
}

export interface NamespaceRes {
  readonly kind: 'namespace';
  readonly name: string;
  readonly source?: SourceRef;
}

export interface BridgeOptions {
  readonly vlanFiltering?: boolean;
  readonly stp?: boolean;
  readonly vlanDefaultPvid?: number;
  readonly ageingTime?: number; // centiseconds, as the kernel reports
  readonly forwardDelay?: number; // centiseconds
  readonly multicastSnooping?: boolean;
}

export interface VxlanOptions {
  readonly vni?: number; // absent with external
  readonly local?: string;
  readonly remote?: string;
  readonly group?: string;
  readonly dev?: string; // underlay device, same namespace
  readonly dstport?: number;
  readonly learning?: boolean;
  /** 'inherit': the inner packet's TTL (`ttl inherit`); 0 is auto (64, or 1 for a multicast group). */
  readonly ttl?: number | 'inherit';
  readonly external?: boolean;
  readonly vnifilter?: boolean;
}

/**
 * A VXLAN's address family: IPv6 when any of its addresses is. One without addresses is IPv4 (the
 * kernel's default), which is how Voltron creates it.
 */
export function vxlanIsV6(x: VxlanOptions): boolean {
  return [x.local, x.remote, x.group].some((a) => a !== undefined && a.includes(':'));
}

export type MacvlanMode = 'private' | 'vepa' | 'bridge' | 'passthru' | 'source';

export interface MacvlanOptions {
  readonly mode?: MacvlanMode;
  readonly parent: string; // same namespace
}

export interface VethPeerRef {
  readonly name: string;
  readonly namespace: string;
}

export interface VethOptions {
  readonly peer: VethPeerRef;
  /** The end that creates the pair (declared in config); the other end is created with it. */
  readonly primary: boolean;
}

/** An inclusive run of VNIs [first, last]; a single VNI is [n, n]. */
export type VniRange = readonly [first: number, last: number];

export interface BridgeVlan {
  readonly vid: number;
  readonly pvid?: boolean;
  readonly untagged?: boolean;
}

export interface LinkRes {
  readonly kind: 'link';
  readonly namespace: string;
  readonly name: string;
  readonly type: LinkType;
  readonly mtu?: number;
  readonly mac?: string; // lower-case aa:bb:cc:dd:ee:ff
  readonly state?: LinkState;
  readonly master?: string; // bridge in the same namespace
  readonly alias?: string;
  readonly bridge?: BridgeOptions;
  readonly vxlan?: VxlanOptions;
  readonly macvlan?: MacvlanOptions;
  readonly veth?: VethOptions;
  /** For type 'other': the kernel's link kind (IFLA_INFO_KIND), '' when none. */
  readonly otherKind?: string;
  /** Bridge VLANs: on a port (master is a vlan_filtering bridge) or on the bridge itself (`self`). */
  readonly vlans?: readonly BridgeVlan[];
  /**
   * VXLAN VNI filter entries (vnifilter) as inclusive [first, last] runs, sorted and merged (no two
   * overlap or touch): a filter may hold all 2^24 VNIs, so it is never expanded VNI by VNI.
   */
  readonly vnis?: readonly VniRange[];
  /**
   * Read only: what the config cannot declare about a live link and that changes its traffic
   * (a VXLAN's `gbp`, `gpe`, remote checksum offload: another packet format). Such a link is
   * never taken for a declared one (plan refuses; `show` lists it under x-unmanaged-links).
   */
  readonly unmodelled?: string;
  /**
   * Read only: the device a link is stacked on where the model has no field for it (a VLAN,
   * macvtap, ipvlan or macsec device on its lower device; a macvlan made on a device of another
   * namespace): the kernel deletes the link with that device. Namespace and name `?` when the
   * device is in a namespace not read.
   */
  readonly lower?: { readonly namespace: string; readonly name: string };
  /** Read only: the namespace a VXLAN moved in was made in, where its sockets and VNI stay ('?': not read). */
  readonly madeIn?: string;
  readonly source?: SourceRef;
}

export interface AddressRes {
  readonly kind: 'address';
  readonly namespace: string;
  readonly dev: string;
  readonly address: string; // canonical CIDR with host part kept: 10.0.0.1/24, 2001:db8::1/64
  /**
   * As read (never declared, never compared): an IPv4 secondary address (IFA_F_SECONDARY). The
   * kernel removes it with its subnet's primary unless the device promotes secondaries.
   */
  readonly secondary?: boolean;
  /** As read, on an IPv4 primary: its device promotes a secondary when it goes (promote_secondaries). */
  readonly promotes?: boolean;
  /** Read only: what Voltron never writes (`noprefixroute`, a peer, a scope, a lifetime ...), as ip shows it; such an address is foreign. */
  readonly unmodelled?: string;
  /**
   * IFA_PROTO as read (0 when the kernel reports none); never declared. Voltron tags the
   * addresses it creates with VOLTRON_RTPROT (Linux 6.3+), as it does its routes and rules.
   */
  readonly protocol?: number;
  readonly source?: SourceRef;
}

/** The IFA_PROTO an address is created with: a snapshot's own (a rollback), else Voltron's. */
export function addressProtocol(a: AddressRes): number {
  return a.protocol ?? VOLTRON_RTPROT;
}

export type RouteType = 'unicast' | 'blackhole' | 'unreachable' | 'prohibit';

/** rtm_scope as iproute2 names it (rt_scopes); a scope without a name is its number. */
export type RouteScope = 'global' | 'site' | 'link' | 'host' | 'nowhere' | number;

const SCOPE_NAMES: Readonly<Record<number, RouteScope>> = { 0: 'global', 200: 'site', 253: 'link', 254: 'host', 255: 'nowhere' };
const SCOPE_NUMBERS: Readonly<Record<string, number>> = { global: 0, site: 200, link: 253, host: 254, nowhere: 255 };

/** A scope's canonical spelling: its name if it has one (`253` → `link`), else its number. */
export function routeScopeName(n: number): RouteScope {
  return SCOPE_NAMES[n] ?? n;
}

export function routeScopeNumber(s: RouteScope): number {
  return typeof s === 'number' ? s : SCOPE_NUMBERS[s]!;
}

/**
 * The scope ip(8) gives a route it is not told one for (iproute_modify): link for an IPv4
 * unicast route without a gateway, else global. IPv6 routes have none (the kernel stores and
 * dumps every one as global, whatever it is sent).
 */
export function defaultRouteScope(r: { readonly family: 4 | 6; readonly type: RouteType; readonly via?: string; readonly dev?: string }): number {
  return r.family === 4 && r.type === 'unicast' && r.via === undefined && r.dev !== undefined ? 253 : 0;
}

/** A route's scope as written: declared, else ip(8)'s default. */
export function routeScopeOf(r: RouteRes): number {
  return r.scope !== undefined ? routeScopeNumber(r.scope) : defaultRouteScope(r);
}

/**
 * The narrowest scope a route to a route's gateway may have, as fib_check_nh_v4_gw looks it up:
 * narrower than the route's own, and at least link. A device route of scope global is no way to
 * a gateway; for a gateway route of scope link, only a device route of scope host is.
 */
export function gatewayScope(r: RouteRes): number {
  return r.family === 4 ? Math.max(routeScopeOf(r) + 1, 253) : 0;
}
export type Seg6Mode = 'encap' | 'inline' | 'l2encap';
/**
 * A mode as read: the declared ones, the kernel's reduced encapsulations (`ip` writes them as
 * `encap.red`, `l2encap.red`), or the number of one this code does not know. Never declared.
 */
export type Seg6LiveMode = Seg6Mode | 'encap.red' | 'l2encap.red' | `mode-${number}`;

export interface Seg6Encap {
  readonly type: 'seg6';
  readonly mode: Seg6LiveMode;
  readonly segments: readonly string[]; // in travel order: segments[0] is visited first
}

export type Seg6LocalAction =
  | 'End'
  | 'End.X'
  | 'End.T'
  | 'End.DX2'
  | 'End.DX4'
  | 'End.DX6'
  | 'End.DT4'
  | 'End.DT6'
  | 'End.DT46'
  | 'End.B6'
  | 'End.B6.Encaps';

export interface Seg6LocalEncap {
  readonly type: 'seg6local';
  readonly action: Seg6LocalAction;
  readonly nh4?: string;
  readonly nh6?: string;
  readonly table?: number;
  readonly vrfTable?: number;
  readonly oif?: string;
  readonly segments?: readonly string[]; // End.B6 / End.B6.Encaps
}

export type RouteEncap = Seg6Encap | Seg6LocalEncap;

export interface PoolPathRef {
  readonly pool: string;
  readonly path: string;
}

export interface RouteRes {
  readonly kind: 'route';
  readonly namespace: string;
  readonly family: 4 | 6;
  readonly to: string; // canonical CIDR, network part only: 0.0.0.0/0, ::/0, 10.1.0.0/16
  readonly table: number; // 254 = main
  readonly metric: number; // kernel default: 0 (IPv4), 1024 (IPv6)
  readonly type: RouteType;
  readonly via?: string;
  readonly dev?: string;
  readonly src?: string;
  readonly mtu?: number;
  /** IPv4 only; absent: the default for the route (defaultRouteScope), so a plain route carries none. */
  readonly scope?: RouteScope;
  readonly encap?: RouteEncap;
  /** Where the encap's segments came from, for plan display only (not compared). */
  readonly poolRef?: PoolPathRef;
  /** rtm_protocol as read from the kernel (not declared; VOLTRON_RTPROT marks ours). */
  readonly protocol?: number;
  /**
   * As read: what makes this a route Voltron never makes nor models (`multipath`, `tos 0x04`,
   * `from 2001:db8::/64`, or a type such as `throw`: `type` is then unicast). Such a route is
   * someone else's and is never taken for a declared one.
   */
  readonly unmodelled?: string;
  /** As read, for a multipath route: its nexthops' devices (deleting one removes an IPv4 route). */
  readonly nexthopDevs?: readonly string[];
  readonly source?: SourceRef;
}

export type RuleAction = 'lookup' | 'blackhole' | 'unreachable' | 'prohibit';

export interface RuleRes {
  readonly kind: 'rule';
  readonly namespace: string;
  readonly family: 4 | 6;
  readonly priority: number;
  readonly action: RuleAction;
  readonly table?: number; // with lookup
  readonly from?: string; // canonical CIDR
  readonly to?: string;
  readonly fwmark?: number;
  readonly fwmask?: number;
  readonly iif?: string;
  readonly oif?: string;
  /** As read from the kernel (not declared; VOLTRON_RTPROT marks ours). */
  readonly protocol?: number;
  /**
   * Read only: what the config cannot declare about a live rule (`not`, `uidrange 1000-2000`,
   * `goto 150`, `suppress_prefixlength 0`, ...). Such a rule is never Voltron's (kernel/read).
   */
  readonly unmodelled?: string;
  readonly source?: SourceRef;
}

export interface SysctlRes {
  readonly kind: 'sysctl';
  readonly namespace: string;
  readonly key: string; // dotted: net.ipv6.conf.all.forwarding (only net.* is namespaced)
  readonly value: string;
  readonly source?: SourceRef;
}

/** SRv6 per-namespace settings: `seg6 tunsrc`. */
export interface Seg6TunsrcRes {
  readonly kind: 'tunsrc';
  readonly namespace: string;
  readonly address: string; // IPv6, '::' = unset
  readonly source?: SourceRef;
}

export type QdiscKind = 'pfifo' | 'htb' | 'tbf' | 'clsact' | 'fq' | 'fq_codel';
/** The kinds the config declares (a QdiscRes read from the kernel may carry any other as-is). */
export const QDISC_KINDS: ReadonlySet<string> = new Set<QdiscKind>(['pfifo', 'htb', 'tbf', 'clsact', 'fq', 'fq_codel']);

/**
 * Qdisc kinds the kernel cannot change in place (no ->change operation): an option change
 * recreates the qdisc (its classes and child qdiscs are restored), which drops what is queued.
 */
export const QDISCS_RECREATED_ON_CHANGE: ReadonlySet<QdiscKind> = new Set<QdiscKind>(['htb']);

export interface QdiscRes {
  readonly kind: 'qdisc';
  readonly namespace: string;
  readonly dev: string;
  readonly parent: string; // 'root' | 'clsact' | 'ffff:fff1' style or classid '1:10'
  readonly handle?: string; // '1:'
  readonly qdisc: QdiscKind;
  readonly options: Readonly<Record<string, number | string>>;
  readonly source?: SourceRef;
}

export interface TcClassRes {
  readonly kind: 'tclass';
  readonly namespace: string;
  readonly dev: string;
  readonly classid: string; // '1:10'
  readonly parent: string; // '1:' or '1:1'
  readonly rate: number; // bytes/s
  readonly ceil?: number; // bytes/s
  readonly source?: SourceRef;
}

export interface TcFilterRes {
  readonly kind: 'tfilter';
  readonly namespace: string;
  readonly dev: string;
  readonly direction: 'ingress' | 'egress';
  readonly priority: number;
  readonly program: string; // bpf program name (bpf.programs[].name) or object:section
  readonly tag?: string; // program tag, filled from the kernel / loader
  readonly source?: SourceRef;
}

export interface BpfAttach {
  readonly type: 'tcx' | 'clsact' | 'cgroup' | 'xdp';
  readonly namespace?: string; // tcx/clsact/xdp
  readonly dev?: string;
  readonly direction?: 'ingress' | 'egress';
  readonly cgroup?: string; // path relative to the cgroup2 mount
  readonly hook?: 'ingress' | 'egress' | 'sock_ops';
  /** clsact only: the tc filter priority (pref); default CLSACT_DEFAULT_PRIORITY. */
  readonly priority?: number;
}

/**
 * Default clsact filter priority: late (lower numbers run first), above what configs usually
 * pick. It is also the pref tc assigns to the first filter added without one: such a filter
 * makes our attach fail with EEXIST (never overwritten); set attach.priority then.
 */
export const CLSACT_DEFAULT_PRIORITY = 49152;

export interface BpfProgramRes {
  readonly kind: 'bpf';
  readonly name: string;
  readonly object: string; // path to .bpf.o, resolved relative to the config dir
  readonly program: string; // program (function) name in the object
  readonly attach: BpfAttach;
  readonly maps: readonly string[]; // names of maps to pin under the Voltron bpffs dir
  readonly mapEntries?: Readonly<Record<string, readonly { key: string; value: string }[]>>;
  readonly tag?: string; // program tag (sha of insns) computed at load, used for identity
  /**
   * Shape (type, key/value size, entries) of each map in `maps`: desired from the object's
   * definition, current from the pin. Not declared: a rebuilt object may change only a map (the
   * tag hashes instructions only), and the pin must then be replaced (--allow-map-reset).
   */
  readonly mapShapes?: Readonly<Record<string, string>>;
  readonly source?: SourceRef;
}

export type Resource =
  | NamespaceRes
  | LinkRes
  | AddressRes
  | RouteRes
  | RuleRes
  | SysctlRes
  | Seg6TunsrcRes
  | QdiscRes
  | TcClassRes
  | TcFilterRes
  | BpfProgramRes;

export type ResourceKind = Resource['kind'];

export interface SrhPath {
  readonly name: string;
  readonly segments: readonly string[];
  readonly mtu?: number;
  readonly weight?: number;
}

export interface SrhPool {
  readonly name: string;
  readonly paths: readonly SrhPath[];
  /** Binding SIDs: path name → BSID address (materialised as seg6local End.B6.Encaps). */
  readonly bsids?: Readonly<Record<string, { readonly sid: string; readonly namespace: string }>>;
  readonly source?: SourceRef;
}

/** A whole state (desired or current) keyed by resourceKey. */
export type StateMap = ReadonlyMap<string, Resource>;

export interface DesiredState {
  readonly resources: StateMap;
  readonly pools: ReadonlyMap<string, SrhPool>;
  /** Names/patterns (glob with * and ?) of links never read, planned or touched. */
  readonly ignore: readonly string[];
  /** Every logical namespace mentioned, '' included. */
  readonly namespaces: readonly string[];
}
