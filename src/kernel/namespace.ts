// Network namespaces Voltron creates (named, /run/netns), mapped through the session.
import type { NamespaceRes } from '../model/types';
import { createNetns, deleteNetns, listNetns } from './netns';
import type { KernelSession, NsContext } from './session';
import { readLinks, type RawLink } from './link';
import { AttrWriter } from './netlink/attrs';
import { RTM_DELLINK, RTM_NEWLINK, ifinfomsg } from './netlink/rtnl';
import { NetlinkError } from './netlink/socket';

/** Every named namespace visible, as logical names within the session's mapping. */
export function readNamespaces(session: KernelSession): NamespaceRes[] {
  const out: NamespaceRes[] = [];
  for (const p of listNetns()) {
    const logical = session.logicalOf(p);
    if (logical !== undefined) out.push({ kind: 'namespace', name: logical });
  }
  return out;
}

export function createNamespace(session: KernelSession, ns: NamespaceRes): void {
  const p = session.physical(ns.name);
  if (p === null) throw new Error('the host root namespace always exists');
  createNetns(p);
  session.extraWrites++;
  // Like a fresh host: loopback up, so local traffic and seg6local End on ::1 work.
  const ctx = session.ns(ns.name);
  // Learn the new namespace's links (lo, maybe fallback tunnels): later creates choose indexes.
  ctx.learnIndexes();
  ctx.sock.request(16 /* RTM_NEWLINK */, 0, loUp(ctx.ifindex('lo')), 'set lo up');
}

function loUp(index: number): Buffer {
  const b = Buffer.alloc(16);
  b.writeInt32LE(index, 4);
  b.writeUInt32LE(1, 8);
  b.writeUInt32LE(1, 12);
  return b;
}

export function deleteNamespace(session: KernelSession, ns: NamespaceRes): void {
  const p = session.physical(ns.name);
  if (p === null) throw new Error('refusing to delete the host root namespace');
  // The kernel tears a namespace down asynchronously; veths whose peers live elsewhere
  // would linger there for a while. Delete them first so the result is visible at once.
  const ctx = session.ns(ns.name);
  const crossing = readLinks(ctx).filter((l) => l.res.type === 'veth' && l.linkNetnsId !== undefined);
  if (crossing.length > 0) deleteAtOnce(ctx, crossing);
  session.forgetNamespace(ns.name);
  deleteNetns(p);
  session.extraWrites++;
}

const IFLA_GROUP = 27;
/** Device group marking the links a namespace deletion removes first (any non-zero value). */
const DOOMED_GROUP = 0x766f6c74;

/**
 * Delete links in one kernel teardown: each single delete waits for its own RCU grace periods
 * (~16-30 ms a veth, measured: 70 veths took 2 s one by one), a group delete waits once. Only in
 * a namespace about to go, where every link dies anyway, so others sharing the group lose nothing.
 */
function deleteAtOnce(ctx: NsContext, links: readonly RawLink[]): void {
  const group = () => new AttrWriter().u32(IFLA_GROUP, DOOMED_GROUP).view();
  for (const l of links) ctx.sock.request(RTM_NEWLINK, 0, [ifinfomsg({ index: l.index }), group()], `mark link ${l.name} for deletion`);
  try {
    ctx.sock.request(RTM_DELLINK, 0, [ifinfomsg({}), group()], `delete ${links.length} links`);
  } catch (e) {
    // EOPNOTSUPP: a device in the group cannot be deleted (a physical one given it): one by one.
    if (!(e instanceof NetlinkError)) throw e;
    for (const l of links) ctx.sock.request(RTM_DELLINK, 0, ifinfomsg({ index: l.index }), `delete link ${l.name}`);
  }
}
