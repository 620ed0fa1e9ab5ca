// Network namespaces Voltron creates (named, /run/netns), mapped through the session.
import type { NamespaceRes } from '../model/types';
import { createNetns, deleteNetns, listNetns } from './netns';
import type { KernelSession } from './session';
import { readLinks } from './link';
import { RTM_DELLINK, ifinfomsg } from './netlink/rtnl';

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
  for (const l of readLinks(ctx)) {
    if (l.res.type === 'veth' && l.linkNetnsId !== undefined) {
      ctx.sock.request(RTM_DELLINK, 0, ifinfomsg({ index: l.index }), `delete link ${l.name}`);
    }
  }
  session.forgetNamespace(ns.name);
  deleteNetns(p);
  session.extraWrites++;
}
