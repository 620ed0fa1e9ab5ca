// Addresses: one RTM_GETADDR dump per namespace; create/delete by (dev, address).
import { addressProtocol, type AddressRes } from '../model/types';
import { AttrWriter, Attrs, bufferToIp, ipToBuffer } from './netlink/attrs';
import * as R from './netlink/rtnl';
import { NLM_F_CREATE, NLM_F_EXCL } from './netlink/socket';
import type { KernelSession, NsContext } from './session';

export interface RawAddress {
  readonly res: AddressRes;
  /** Kernel-made (IPv6 autoconf and link-local): never owned by anyone. */
  readonly kernelMade: boolean;
}

const IFA_PROTO = 11;
const IFA_F_SECONDARY = 0x01;
const KERNEL_PROTOS = new Set([1, 2, 3]);

/** Dump the addresses of a namespace (of one family: 4 or 6, or both). */
export function readAddresses(ctx: NsContext, names: ReadonlyMap<number, string>, family?: 4 | 6): RawAddress[] {
  const out: RawAddress[] = [];
  const af = R.afOf(family);
  for (const m of ctx.sock.dump(R.RTM_GETADDR, R.ifaddrmsg(af, 0, 0, 0, 0), 'dump addresses')) {
    if (m.type !== R.RTM_NEWADDR) continue;
    const family = m.data.readUInt8(0);
    const prefix = m.data.readUInt8(1);
    const index = m.data.readInt32LE(4);
    const a = Attrs.parse(m.data, 8);
    const raw = a.get(R.IFA_LOCAL) ?? a.get(R.IFA_ADDRESS);
    const dev = names.get(index);
    if (!raw || !dev) continue;
    const flags = a.u32(R.IFA_FLAGS) ?? m.data.readUInt8(2);
    const ip = bufferToIp(raw);
    const base: AddressRes = { kind: 'address', namespace: ctx.logical, dev, address: `${ip}/${prefix}`, protocol: a.u8(IFA_PROTO) ?? 0 };
    const unmodelled = unmodelledAddress(family === R.AF_INET, ip, m.data.readUInt8(3), flags, a);
    const res = unmodelled === undefined ? base : { ...base, unmodelled };
    out.push({
      res: family === R.AF_INET && flags & IFA_F_SECONDARY ? { ...res, secondary: true } : res,
      // Not permanent (SLAAC, temporary), or tagged by the kernel itself (IFA_PROTO, Linux 6.3+:
      // 1 loopback, 2 router advertisement, 3 link-local): made by the kernel, never by anyone.
      kernelMade: (family === R.AF_INET6 && !(flags & R.IFA_F_PERMANENT)) || KERNEL_PROTOS.has(a.u8(IFA_PROTO) ?? 0),
    });
  }
  return out;
}

const IFA_RT_PRIORITY = 9;
const IFA_F_DADFAILED = 0x08;
const IFA_F_MANAGETEMPADDR = 0x100;
const IFA_F_NOPREFIXROUTE = 0x200;
const SCOPES: Record<number, string> = { 200: 'site', 253: 'link', 254: 'host' };

/**
 * What Voltron never writes on an address, as ip shows it: a peer, another scope than ip's own
 * (host for 127/8, global otherwise), `noprefixroute` (no subnet route: the neighbours are
 * unreachable), `mngtmpaddr`, a lifetime (`dynamic`: it goes when it expires), a prefix route
 * metric; a failed duplicate address detection. Such an address is not the declared one, though
 * its key is.
 */
function unmodelledAddress(v4: boolean, ip: string, scope: number, flags: number, a: Attrs): string | undefined {
  const peer = a.get(R.IFA_ADDRESS);
  const local = a.get(R.IFA_LOCAL);
  const metric = a.u32(IFA_RT_PRIORITY) ?? 0;
  const ownScope = ip.startsWith('127.') ? R.RT_SCOPE_HOST : R.RT_SCOPE_UNIVERSE;
  const form = [
    peer && local && !peer.equals(local) ? `peer ${bufferToIp(peer)}` : '',
    // IPv6 scopes follow from the address itself (the kernel's own choice).
    v4 && scope !== ownScope ? `scope ${SCOPES[scope] ?? scope}` : '',
    flags & IFA_F_NOPREFIXROUTE ? 'noprefixroute' : '',
    flags & IFA_F_MANAGETEMPADDR ? 'mngtmpaddr' : '',
    // Also IPv6 (SLAAC and temporary ones are read only where declared: see kernelMade).
    !(flags & R.IFA_F_PERMANENT) ? 'dynamic' : '',
    metric !== 0 ? `metric ${metric}` : '',
    // Added with DAD where another node has it: never usable (no source, no answer), for good.
    flags & IFA_F_DADFAILED ? 'dadfailed' : '',
  ].filter((x) => x);
  return form.length > 0 ? form.join(' ') : undefined;
}

function addrMsg(ctx: NsContext, a: AddressRes, protocol = 0): Buffer[] {
  const [ip, prefix] = a.address.split('/') as [string, string];
  const v6 = ip.includes(':');
  const w = new AttrWriter().raw(R.IFA_LOCAL, ipToBuffer(ip)).raw(R.IFA_ADDRESS, ipToBuffer(ip));
  if (protocol !== 0) w.u8(IFA_PROTO, protocol);
  // NODAD: a declared address is usable at once (no tentative window that breaks verify and routes).
  if (v6) w.u32(R.IFA_FLAGS, R.IFA_F_NODAD);
  // Scope host for 127/8, as ip(8) does: lo's own 127.0.0.1/8 has it, and the kernel refuses a
  // secondary in its subnet with another scope ("Invalid scope value").
  const scope = !v6 && ip.startsWith('127.') ? R.RT_SCOPE_HOST : R.RT_SCOPE_UNIVERSE;
  return [R.ifaddrmsg(v6 ? R.AF_INET6 : R.AF_INET, Number(prefix), v6 ? R.IFA_F_NODAD : 0, scope, ctx.ifindex(a.dev)), w.view()];
}

export function createAddress(session: KernelSession, a: AddressRes): void {
  const ctx = session.ns(a.namespace);
  // Tagged like Voltron's routes: a namesake someone adds after Voltron's went is told apart.
  ctx.sock.request(R.RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL, addrMsg(ctx, a, addressProtocol(a)), `add address ${a.address} dev ${a.dev}`);
}

export function deleteAddress(session: KernelSession, a: AddressRes): void {
  const ctx = session.ns(a.namespace);
  ctx.sock.request(R.RTM_DELADDR, 0, addrMsg(ctx, a), `delete address ${a.address} dev ${a.dev}`);
}
