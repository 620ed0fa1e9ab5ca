// In-memory kernel simulator for plan tests. Deliberately written independently of src/plan (no
// shared cascade code) so that tests compare two implementations of the kernel's behaviour.
// It is strict like the kernel: creating an existing object is EEXIST, deleting a missing one is
// ENOENT, and references (namespace, master, dev, parent, gateway, prefsrc, clsact) must exist.
import { resourceKey, resourceNamespace } from '../../src/model/keys';
import { networkOf } from '../../src/model/net';
import { mergeRanges } from '../../src/util/ranges';
import type { AddressRes, LinkRes, Resource, RouteRes } from '../../src/model/types';
import type { Change } from '../../src/plan/types';

export type MemState = Map<string, Resource>;

export class KernelError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(`${code}: ${message}`);
  }
}

export function memState(resources: Iterable<Resource>): MemState {
  const m: MemState = new Map();
  for (const r of resources) m.set(resourceKey(r), clone(r));
  return m;
}

function clone<T>(v: T): T {
  return structuredClone(v);
}

/** What a kernel reader would return: every object, fully populated, in key order. */
export function readState(state: MemState): Map<string, Resource> {
  return new Map([...state.keys()].sort().map((k) => [k, clone(state.get(k)!)]));
}

/** Deterministic locally administered MAC for a link (like a stable random one). */
export function macFor(ns: string, name: string): string {
  let h = 0x811c9dc5;
  for (const ch of `${ns}/${name}`) h = Math.imul(h ^ ch.charCodeAt(0), 0x01000193) >>> 0;
  let h2 = Math.imul(h ^ 0x5bd1e995, 0x01000193) >>> 0;
  const b = [0x02, h & 0xff, (h >>> 8) & 0xff, (h >>> 16) & 0xff, (h >>> 24) & 0xff, (h2 & 0xff) | 1];
  h2 >>>= 8;
  return b.map((x) => x.toString(16).padStart(2, '0')).join(':');
}

// ---- small IP helpers (enough for prefix containment) ----
function ipBits(ip: string): { fam: 4 | 6; n: bigint } | undefined {
  if (ip.includes(':')) {
    const [head, tail] = ip.split('::') as [string, string | undefined];
    const h = head ? head.split(':') : [];
    const t = tail !== undefined && tail !== '' ? tail.split(':') : [];
    const groups = tail === undefined ? h : [...h, ...Array(8 - h.length - t.length).fill('0'), ...t];
    if (groups.length !== 8) return undefined;
    return { fam: 6, n: groups.reduce((a, g) => (a << 16n) | BigInt(parseInt(g || '0', 16)), 0n) };
  }
  const p = ip.split('.').map(Number);
  if (p.length !== 4 || p.some((x) => !(x >= 0 && x <= 255))) return undefined;
  return { fam: 4, n: p.reduce((a, x) => (a << 8n) | BigInt(x), 0n) };
}

function inPrefix(ip: string, cidr: string): boolean {
  const [net, lenS] = cidr.split('/') as [string, string];
  const a = ipBits(ip);
  const b = ipBits(net);
  if (!a || !b || a.fam !== b.fam) return false;
  const width = a.fam === 4 ? 32n : 128n;
  const shift = width - BigInt(Number(lenS));
  return a.n >> shift === b.n >> shift;
}

const linkKey = (ns: string, name: string) => `link:${ns}/${name}`;

function sysctlDev(key: string): string | undefined {
  const m = /^net\.[^.]+\.(?:conf|neigh)\.([^.]+)\./.exec(key);
  return m && m[1] !== 'all' && m[1] !== 'default' ? m[1]!.replace(/\//g, '.') : undefined;
}

function need(state: MemState, key: string, what: string): Resource {
  const r = state.get(key);
  if (!r) throw new KernelError('ENODEV', `${what}: ${key} does not exist`);
  return r;
}

function checkRefs(state: MemState, r: Resource): void {
  const ns = resourceNamespace(r);
  if (r.kind !== 'namespace' && ns !== '') need(state, `namespace:${ns}`, `namespace of ${resourceKey(r)}`);
  switch (r.kind) {
    case 'link':
      if (r.master !== undefined) {
        const m = need(state, linkKey(ns, r.master), 'master');
        if (m.kind !== 'link' || m.type !== 'bridge') throw new KernelError('EOPNOTSUPP', `${r.master} is not a bridge`);
      }
      if (r.vxlan?.dev !== undefined) need(state, linkKey(ns, r.vxlan.dev), 'vxlan dev');
      if (r.macvlan) need(state, linkKey(ns, r.macvlan.parent), 'macvlan parent');
      break;
    case 'address':
    case 'qdisc':
    case 'tclass':
    case 'tfilter':
      need(state, linkKey(r.namespace, r.dev), 'dev');
      break;
    case 'route':
      checkRoute(state, r);
      break;
    case 'sysctl': {
      const dev = sysctlDev(r.key);
      if (dev !== undefined) need(state, linkKey(r.namespace, dev), `sysctl ${r.key}`);
      break;
    }
    case 'bpf':
      if (r.attach.dev !== undefined && r.attach.type !== 'cgroup') need(state, linkKey(r.attach.namespace ?? '', r.attach.dev), 'bpf attach dev');
      if (r.attach.type === 'clsact') requireClsact(state, r.attach.namespace ?? '', r.attach.dev ?? '');
      break;
    default:
      break;
  }
  if (r.kind === 'tclass') {
    const q = [...state.values()].some(
      (x) =>
        (x.kind === 'qdisc' && x.namespace === r.namespace && x.dev === r.dev && x.handle !== undefined && x.handle.split(':')[0] === r.parent.split(':')[0] && r.parent.endsWith(':')) ||
        (x.kind === 'tclass' && x.namespace === r.namespace && x.dev === r.dev && x.classid === r.parent),
    );
    if (!q) throw new KernelError('ENOENT', `class ${r.classid}: parent ${r.parent} does not exist`);
  }
  if (r.kind === 'tfilter') requireClsact(state, r.namespace, r.dev);
}

function requireClsact(state: MemState, ns: string, dev: string): void {
  const ok = [...state.values()].some((x) => x.kind === 'qdisc' && x.namespace === ns && x.dev === dev && x.qdisc === 'clsact');
  if (!ok) throw new KernelError('EINVAL', `no clsact qdisc on ${ns}/${dev}`);
}

function addressesOf(state: MemState, ns: string): AddressRes[] {
  return [...state.values()].filter((x): x is AddressRes => x.kind === 'address' && x.namespace === ns);
}

function checkRoute(state: MemState, r: RouteRes): void {
  if (r.dev !== undefined) need(state, linkKey(r.namespace, r.dev), 'route dev');
  if (r.encap?.type === 'seg6local' && r.encap.oif !== undefined) need(state, linkKey(r.namespace, r.encap.oif), 'seg6local oif');
  const addrs = addressesOf(state, r.namespace);
  if (r.via !== undefined && !r.via.toLowerCase().startsWith('fe80:')) {
    const ok = addrs.some((a) => (r.dev === undefined || a.dev === r.dev) && inPrefix(r.via!, a.address));
    if (!ok) throw new KernelError('ENETUNREACH', `route ${r.to}: gateway ${r.via} is not on a connected network`);
  }
  if (r.src !== undefined && !addrs.some((a) => a.address.split('/')[0] === r.src)) {
    throw new KernelError('EINVAL', `route ${r.to}: invalid prefsrc ${r.src}`);
  }
}

/** Bridge VLANs and VNIs as the kernel dumps them: sorted, flags only when set. */
function kernelOrder(r: Resource): Resource {
  if (r.kind !== 'link') return r;
  const o = r as unknown as Record<string, unknown>;
  if (r.vlans) {
    o['vlans'] = [...new Map(r.vlans.map((v) => [v.vid, v])).values()]
      .sort((a, b) => a.vid - b.vid)
      .map((v) => ({ vid: v.vid, ...(v.pvid ? { pvid: true } : {}), ...(v.untagged ? { untagged: true } : {}) }));
  }
  if (r.vnis) o['vnis'] = mergeRanges(r.vnis);
  return r;
}

/** The kernel's view of a new link: unset attributes get the kernel's defaults. */
function newLink(state: MemState, l: LinkRes): LinkRes {
  let mtu = 1500;
  if (l.type === 'vxlan' && l.vxlan?.dev !== undefined) {
    const low = state.get(linkKey(l.namespace, l.vxlan.dev)) as LinkRes | undefined;
    mtu = (low?.mtu ?? 1500) - 50;
  }
  if (l.type === 'macvlan' && l.macvlan) {
    const low = state.get(linkKey(l.namespace, l.macvlan.parent)) as LinkRes | undefined;
    mtu = low?.mtu ?? 1500;
  }
  const base: Record<string, unknown> = {
    kind: 'link',
    namespace: l.namespace,
    name: l.name,
    type: l.type,
    mtu,
    mac: macFor(l.namespace, l.name),
    state: 'down',
  };
  if (l.type === 'bridge') {
    base['bridge'] = { vlanFiltering: false, stp: false, vlanDefaultPvid: 1, ageingTime: 30000, forwardDelay: 1500, multicastSnooping: true, ...strip(l.bridge) };
  }
  if (l.type === 'vxlan') {
    base['vxlan'] = { dstport: 8472, learning: true, ttl: 0, external: false, vnifilter: false, ...strip(l.vxlan) };
  }
  if (l.type === 'macvlan') base['macvlan'] = { mode: 'vepa', ...strip(l.macvlan) };
  if (l.veth) base['veth'] = clone(l.veth);
  for (const [k, v] of Object.entries(l)) {
    if (v === undefined || k === 'source' || ['bridge', 'vxlan', 'macvlan', 'veth'].includes(k)) continue;
    base[k] = clone(v);
  }
  return kernelOrder(base as unknown as LinkRes) as LinkRes;
}

function strip<T extends object>(o: T | undefined): Partial<T> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(o ?? {})) if (v !== undefined) out[k] = v;
  return out as Partial<T>;
}

function withoutMeta(r: Resource): Resource {
  const o: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(r)) if (v !== undefined && k !== 'source' && k !== 'poolRef') o[k] = clone(v);
  return o as unknown as Resource;
}

function create(state: MemState, r: Resource): void {
  const key = resourceKey(r);
  if (state.has(key) && r.kind !== 'sysctl' && r.kind !== 'tunsrc') throw new KernelError('EEXIST', `${key} exists`);
  checkRefs(state, r);
  if (r.kind === 'address' && !r.address.includes(':')) {
    // The kernel makes an address a secondary when its device already has one in that subnet.
    const net = networkOf(r.address);
    const secondary = [...state.values()].some((x) => x.kind === 'address' && x.namespace === r.namespace && x.dev === r.dev && networkOf(x.address) === net);
    state.set(key, withoutMeta(secondary ? { ...r, secondary: true } : r));
    return;
  }
  if (r.kind !== 'link') {
    state.set(key, withoutMeta(r));
    return;
  }
  if (r.veth?.primary) {
    // A veth is created as a pair: the other end appears with default attributes.
    const pk = linkKey(r.veth.peer.namespace, r.veth.peer.name);
    if (r.veth.peer.namespace !== '') need(state, `namespace:${r.veth.peer.namespace}`, 'veth peer namespace');
    if (state.has(pk)) throw new KernelError('EEXIST', `veth peer ${pk} exists`);
    state.set(
      pk,
      newLink(state, {
        kind: 'link',
        namespace: r.veth.peer.namespace,
        name: r.veth.peer.name,
        type: 'veth',
        veth: { peer: { name: r.name, namespace: r.namespace }, primary: false },
      }),
    );
  } else if (r.veth) {
    throw new KernelError('EINVAL', `${key}: a veth secondary end cannot be created alone`);
  }
  state.set(key, newLink(state, r));
}

/** Set a dotted path; `undefined` removes it. */
function setPath(o: Record<string, unknown>, path: string, v: unknown): void {
  const parts = path.split('.');
  let cur = o;
  for (const p of parts.slice(0, -1)) {
    const next = cur[p];
    if (typeof next !== 'object' || next === null || Array.isArray(next)) cur[p] = {};
    cur = cur[p] as Record<string, unknown>;
  }
  const last = parts[parts.length - 1]!;
  if (v === undefined) delete cur[last];
  else cur[last] = clone(v);
}

/** Apply the listed fields to a live object (netlink "set"/NLM_F_REPLACE semantics). */
function modify(state: MemState, key: string, change: Change): void {
  const cur = state.get(key);
  if (!cur) throw new KernelError('ENOENT', `${key} does not exist`);
  const next = clone(cur) as unknown as Record<string, unknown>;
  for (const f of change.fields) setPath(next, f.field, f.after);
  const res = next as unknown as Resource;
  if (res.kind === 'link' && cur.kind === 'link' && res.master !== cur.master) {
    // Joining or leaving a bridge flushes the port's VLANs, unless this change sets them.
    if (!change.fields.some((f) => f.field === 'vlans') && cur.vlans !== undefined) (next as { vlans?: unknown })['vlans'] = [];
  }
  checkRefs(state, res);
  state.set(key, kernelOrder(res));
}

/** Remove an object and everything the kernel removes with it. */
function remove(state: MemState, key: string): void {
  const r = state.get(key);
  if (!r) return;
  state.delete(key);
  if (r.kind === 'namespace') {
    for (const [k, x] of [...state]) if (x.kind !== 'namespace' && x.kind !== 'bpf' && resourceNamespace(x) === r.name) remove(state, k);
    for (const [k, x] of [...state]) if (x.kind === 'bpf' && x.attach.namespace === r.name && x.attach.dev !== undefined) remove(state, k);
    return;
  }
  if (r.kind === 'qdisc' || r.kind === 'tclass') {
    // Classes and child qdiscs go with their parent; filters and clsact programs with clsact.
    const major = (h: string | undefined) => (h && /^[0-9a-f]+:/i.test(h) ? parseInt(h, 16) : undefined);
    for (const [k, x] of [...state]) {
      if (!state.has(k)) continue;
      const sameDev =
        (x.kind === 'qdisc' || x.kind === 'tclass' || x.kind === 'tfilter') && x.namespace === r.namespace && x.dev === r.dev;
      let child = false;
      if (r.kind === 'qdisc' && r.qdisc === 'clsact') {
        child =
          (sameDev && x.kind === 'tfilter') ||
          (x.kind === 'bpf' && x.attach.type === 'clsact' && (x.attach.namespace ?? '') === r.namespace && x.attach.dev === r.dev);
      } else if (r.kind === 'qdisc' && sameDev) {
        const m = major(r.handle);
        child = m !== undefined && ((x.kind === 'tclass' && major(x.classid) === m) || (x.kind === 'qdisc' && major(x.parent) === m));
      } else if (r.kind === 'tclass' && sameDev) {
        child = (x.kind === 'tclass' || x.kind === 'qdisc') && x.parent === r.classid;
      }
      if (child) remove(state, k);
    }
    return;
  }
  if (r.kind === 'address' && !r.address.includes(':')) {
    // IPv4 (__inet_del_ifa): a primary takes the secondaries of its subnet along, unless the
    // device promotes one.
    if (!r.secondary && !r.promotes) {
      for (const [k, x] of [...state]) {
        if (x.kind === 'address' && x.secondary && x.namespace === r.namespace && x.dev === r.dev && networkOf(x.address) === networkOf(r.address)) remove(state, k);
      }
    }
    // fib_del_ifaddr: routes using the address as source go once no address in the namespace
    // has it; with the link's last IPv4 address, every IPv4 route over the link goes.
    const ip = r.address.split('/')[0]!;
    const v4 = [...state.values()].filter((x) => x.kind === 'address' && x.namespace === r.namespace && !x.address.includes(':')) as AddressRes[];
    const ipLeft = v4.some((x) => x.address.split('/')[0] === ip);
    const devLeft = v4.some((x) => x.dev === r.dev);
    for (const [k, x] of [...state]) {
      if (x.kind !== 'route' || x.family !== 4 || x.namespace !== r.namespace) continue;
      if ((!ipLeft && x.src === ip) || (!devLeft && x.dev === r.dev)) remove(state, k);
    }
    return;
  }
  if (r.kind !== 'link') return;
  const ns = r.namespace;
  for (const [k, x] of [...state]) {
    if (!state.has(k)) continue;
    switch (x.kind) {
      case 'address':
      case 'qdisc':
      case 'tclass':
      case 'tfilter':
        if (x.namespace === ns && x.dev === r.name) remove(state, k);
        break;
      case 'route':
        if (x.namespace === ns && x.dev === r.name) remove(state, k);
        break;
      case 'sysctl':
        if (x.namespace === ns && sysctlDev(x.key) === r.name) remove(state, k);
        break;
      case 'bpf':
        if ((x.attach.namespace ?? '') === ns && x.attach.dev === r.name && x.attach.type !== 'cgroup') remove(state, k);
        break;
      case 'link':
        if (x.namespace === ns && (x.vxlan?.dev === r.name || x.macvlan?.parent === r.name)) remove(state, k);
        else if (x.veth && x.veth.peer.name === r.name && x.veth.peer.namespace === ns) remove(state, k);
        else if (x.namespace === ns && x.master === r.name) {
          const port: Record<string, unknown> = { ...x };
          delete port['master'];
          if (x.vlans !== undefined) port['vlans'] = [];
          state.set(k, port as unknown as Resource);
        }
        break;
      default:
        break;
    }
  }
  if (r.veth) remove(state, linkKey(r.veth.peer.namespace, r.veth.peer.name));
}

/**
 * Per state: bridges this kernel created without an mtu and whose mtu nobody set since (a state
 * built by memState/populate has an unknown history: its bridges count as set).
 */
const autoMtu = new WeakMap<MemState, Set<string>>();

function noteAutoMtu(state: MemState, change: Change): void {
  const set = autoMtu.get(state) ?? new Set<string>();
  autoMtu.set(state, set);
  const l = change.after;
  if (change.action === 'delete' || l?.kind !== 'link' || l.type !== 'bridge') set.delete(change.key);
  else if (change.action === 'update' ? change.fields.some((f) => f.field === 'mtu') : l.mtu !== undefined) set.delete(change.key);
  else if (change.action !== 'update') set.add(change.key);
}

/**
 * br_mtu_auto_adjust: a bridge whose mtu was never set explicitly takes its ports' lowest mtu
 * (1500 without ports) whenever a port joins, leaves or changes its mtu.
 */
function adjustBridgeMtus(state: MemState): void {
  for (const k of autoMtu.get(state) ?? []) {
    const b = state.get(k);
    if (b?.kind !== 'link') continue;
    const ports = [...state.values()].filter((x): x is LinkRes => x.kind === 'link' && x.namespace === b.namespace && x.master === b.name);
    const mtu = ports.length ? Math.min(...ports.map((p) => p.mtu ?? 1500)) : 1500;
    if (b.mtu !== mtu) state.set(k, { ...b, mtu });
  }
}

// ---- net.ipv6.conf.*.disable_ipv6 ----
const ALL6 = 'net.ipv6.conf.all.disable_ipv6';
const on6 = (v: string): boolean => /^[-+]?0+$/.test(v.trim());
const disable6Key = (ns: string, dev: string) => `sysctl:${ns}/net.ipv6.conf.${dev.replace(/\./g, '/')}.disable_ipv6`;

/** Per state: devices (`ns/dev`) an `all` write turned off and no own key turned on since. */
const offByAll = new WeakMap<MemState, Set<string>>();

/** A device's disable_ipv6: its own key, else what the last `all` write set (every device), else 0. */
function disable6(state: MemState, ns: string, dev: string): string {
  const own = state.get(disable6Key(ns, dev)) ?? state.get(`sysctl:${ns}/${ALL6}`);
  return own?.kind === 'sysctl' ? own.value : '0';
}

/** The devices of a namespace: its links, and lo (which a state need not list). */
function devicesOf(state: MemState, ns: string): string[] {
  const out = new Set(['lo']);
  for (const x of state.values()) if (x.kind === 'link' && x.namespace === ns) out.add(x.name);
  return [...out];
}

/** The device an IPv6 route goes through: its own, lo for a reject route, else its gateway's. */
function route6Device(state: MemState, r: RouteRes): string | undefined {
  if (r.dev !== undefined) return r.dev;
  if (r.type !== 'unicast') return 'lo';
  return r.via === undefined ? undefined : addressesOf(state, r.namespace).find((a) => inPrefix(r.via!, a.address))?.dev;
}

/**
 * addrconf_disable_change: writing `all` sets every device (and default) to the value; a device
 * whose IPv6 it turns off loses its IPv6 addresses and the IPv6 routes through it (lo: the reject
 * routes). Returns what to do once the `all` key itself is written.
 */
function disable6Broadcast(state: MemState, change: Change): (() => void) | undefined {
  const r = (change.after ?? change.before) as Resource | undefined;
  if (change.kind !== 'sysctl' || r?.kind !== 'sysctl' || r.key !== ALL6) return undefined;
  const v = change.action === 'delete' ? (change.restore as { value?: string } | undefined)?.value : (change.after as { value: string }).value;
  if (v === undefined) return undefined;
  const ns = r.namespace;
  const off = devicesOf(state, ns).filter((d) => on6(disable6(state, ns, d)) && !on6(v));
  return () => {
    for (const [k, x] of [...state]) {
      if (x.kind === 'sysctl' && x.namespace === ns && /^net\.ipv6\.conf\.[^.]+\.disable_ipv6$/.test(x.key)) state.set(k, { ...x, value: v });
    }
    const set = offByAll.get(state) ?? new Set<string>();
    offByAll.set(state, set);
    for (const d of devicesOf(state, ns)) if (on6(v)) set.delete(`${ns}/${d}`);
    for (const d of off) set.add(`${ns}/${d}`);
    const gone = new Set(off);
    const routes = [...state].filter(([, x]) => x.kind === 'route' && x.family === 6 && x.namespace === ns && gone.has(route6Device(state, x) ?? ''));
    for (const [k] of routes) state.delete(k);
    for (const [k, x] of [...state]) if (x.kind === 'address' && x.namespace === ns && x.address.includes(':') && gone.has(x.dev)) state.delete(k);
  };
}

/** A device's own disable_ipv6 written 0 turns its IPv6 back on. */
function noteDisable6(state: MemState, change: Change): void {
  const r = change.after;
  const m = r?.kind === 'sysctl' ? /^net\.ipv6\.conf\.([^.]+)\.disable_ipv6$/.exec(r.key) : null;
  if (r?.kind === 'sysctl' && m && m[1] !== 'all' && m[1] !== 'default' && on6(r.value)) offByAll.get(state)?.delete(`${r.namespace}/${m[1]!.replace(/\//g, '.')}`);
}

/** EACCES "IPv6 is disabled on this device", for devices an `all` write turned off. */
function checkIpv6On(state: MemState, r: Resource): void {
  const off = offByAll.get(state);
  if (!off?.size) return;
  let dev: string | undefined;
  if (r.kind === 'address' && r.address.includes(':')) dev = r.dev;
  else if (r.kind === 'route' && r.family === 6 && r.type === 'unicast') dev = route6Device(state, r);
  if (dev !== undefined && off.has(`${resourceNamespace(r)}/${dev}`)) throw new KernelError('EACCES', `${resourceKey(r)}: IPv6 is disabled on ${dev}`);
}

/**
 * fib_disable_ip, rt6_sync_down_dev, addrconf_ifdown: a link set down loses the routes over it
 * (both families) and its IPv6 addresses; one whose mtu drops below 1280 loses its IPv6 objects.
 * (A kernel read gives every unicast route its `dev`.)
 */
function stripLink(state: MemState, change: Change): void {
  const b = change.before;
  const a = change.after;
  if (b?.kind !== 'link' || a?.kind !== 'link') return;
  const down = b.state === 'up' && a.state === 'down';
  const off6 = (b.mtu ?? 1280) >= 1280 && a.mtu !== undefined && a.mtu < 1280;
  if (!down && !off6) return;
  for (const [k, x] of [...state]) {
    if (resourceNamespace(x) !== a.namespace) continue;
    const addr6 = x.kind === 'address' && x.dev === a.name && x.address.includes(':');
    const route = x.kind === 'route' && x.dev === a.name && (down || x.family === 6);
    if (addr6 || route) state.delete(k);
  }
}

/**
 * A delete request (not a removal the kernel makes with a link or namespace). Deleting an IPv6
 * address (ipv6_del_addr → rt6_remove_prefsrc) clears the source of the IPv6 routes using it,
 * in every table, once no address of the namespace has the ip (a link-local one: on the
 * route's device); the routes stay.
 */
function deleteExplicitly(state: MemState, key: string): void {
  const r = state.get(key);
  remove(state, key);
  if (r?.kind !== 'address' || !r.address.includes(':')) return;
  const ip = r.address.split('/')[0]!;
  const linkLocal = /^fe[89ab][0-9a-f]:/i.test(ip);
  for (const [k, x] of [...state]) {
    if (x.kind !== 'route' || x.family !== 6 || x.namespace !== r.namespace || x.src !== ip) continue;
    const kept = addressesOf(state, r.namespace).some((a) => a.address.split('/')[0] === ip && (!linkLocal || a.dev === x.dev));
    if (kept) continue;
    const { src: _cleared, ...rest } = x;
    state.set(k, rest);
  }
}

/**
 * addrconf_sysctl_stable_secret: writing a device's stable_secret sets its addr_gen_mode to 2
 * (stable privacy); writing `default`'s sets every device's (not `default`'s own).
 */
function stableSecretSideEffect(state: MemState, change: Change): void {
  const r = change.after;
  const m = change.action !== 'delete' && r?.kind === 'sysctl' ? /^net\.ipv6\.conf\.([^.]+)\.stable_secret$/.exec(r.key) : null;
  if (!r || r.kind !== 'sysctl' || !m || m[1] === 'all') return;
  for (const [k, x] of [...state]) {
    const d = x.kind === 'sysctl' && x.namespace === r.namespace ? /^net\.ipv6\.conf\.([^.]+)\.addr_gen_mode$/.exec(x.key)?.[1] : undefined;
    if (d === undefined || d === 'all' || d === 'default' || (m[1] !== 'default' && d !== m[1])) continue;
    state.set(k, { ...(x as Resource & { kind: 'sysctl' }), value: '2' });
  }
}

/** Execute one change like the executor would against a real kernel. */
export function applyChange(state: MemState, change: Change): void {
  const broadcast = disable6Broadcast(state, change);
  if (change.action !== 'delete' && change.after) checkIpv6On(state, change.after);
  applyOne(state, change);
  broadcast?.();
  stableSecretSideEffect(state, change);
  noteDisable6(state, change);
  noteAutoMtu(state, change);
  adjustBridgeMtus(state);
}

function applyOne(state: MemState, change: Change): void {
  const key = change.key;
  switch (change.action) {
    case 'create':
      if (change.createdBy !== undefined) {
        // The end was created with its pair: only its own attributes are set.
        if (!state.has(key)) throw new KernelError('ENOENT', `${key} was not created by ${change.createdBy}`);
        modify(state, key, change);
      } else create(state, change.after!);
      if (change.pairedPeer) state.set(resourceKey(change.pairedPeer), newLink(state, change.pairedPeer));
      return;
    case 'update':
      // A route update is an NLM_F_CREATE|NLM_F_REPLACE: it also adds a route the kernel removed.
      if (change.kind === 'route' && !state.has(key)) create(state, change.after!);
      else modify(state, key, change);
      stripLink(state, change);
      return;
    case 'replace':
      if (change.createdBy !== undefined) {
        if (!state.has(key)) throw new KernelError('ENOENT', `${key} was not recreated by ${change.createdBy}`);
        modify(state, key, change);
        return;
      }
      if (!state.has(key)) throw new KernelError('ENOENT', `replace: ${key} does not exist`);
      deleteExplicitly(state, key);
      create(state, change.after!);
      if (change.pairedPeer) state.set(resourceKey(change.pairedPeer), newLink(state, change.pairedPeer));
      return;
    case 'delete': {
      const cur = state.get(key);
      if (!cur && change.kind === 'route') return; // the executor ignores a route already gone (ESRCH)
      if (!cur) throw new KernelError('ENOENT', `delete: ${key} does not exist`);
      if (cur.kind === 'sysctl' || cur.kind === 'tunsrc') {
        if (!change.restore) throw new KernelError('EINVAL', `${key}: a ${cur.kind} cannot be deleted, only restored`);
        state.set(key, withoutMeta(change.restore));
        return;
      }
      deleteExplicitly(state, key);
      return;
    }
  }
}

/**
 * A kernel state holding `resources` as a reader would report them: links get the attributes
 * the kernel fills in (mtu, mac, state, driver defaults). References are not checked.
 */
export function populate(resources: Iterable<Resource>): MemState {
  const state: MemState = new Map();
  const list = [...resources];
  for (const r of list) if (r.kind !== 'link') state.set(resourceKey(r), withoutMeta(r));
  // Lower devices first so that stacked devices inherit their mtu.
  const rank = (l: LinkRes) => (l.type === 'vxlan' || l.type === 'macvlan' ? 1 : 0);
  const links = list.filter((r): r is LinkRes => r.kind === 'link').sort((a, b) => rank(a) - rank(b));
  for (const l of links) state.set(resourceKey(l), newLink(state, l));
  return state;
}

export function applyPlan(state: MemState, changes: readonly Change[]): void {
  for (const c of changes) applyChange(state, c);
}
