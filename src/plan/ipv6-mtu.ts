// A device's IPv6 mtu (`net.ipv6.conf.<dev>.mtu`) is not kept by the kernel: it sets it to the
// link's mtu whenever that changes (NETDEV_CHANGEMTU), and whenever the link comes up or gets its
// carrier with the two differing (addrconf_notify, NETDEV_UP/NETDEV_CHANGE). A declared one is
// therefore written (again) after every change in the plan that can do either: the link's own
// create, replace or mtu/state/master change, and those of the links its carrier follows (a veth
// end's peer, a bridge's ports, a macvlan's parent, a VXLAN's device). A bridge's ports include the
// ones leaving it or deleted: a bridge whose mtu nobody set follows its ports' lowest (measured:
// deleting its 1500 port moved a bridge to its other port's 9000, and its IPv6 mtu with it). Else the apply leaves the
// link mtu there and fails to verify (and so does its rollback). A carrier that comes on is acted
// on later by the kernel (link watch): the executor waits for that before it writes the key.
import type { LinkRes, Resource, SysctlRes } from '../model/types';
import { isLink, rewriteSysctlDraft, runAfterAll, type Draft } from './drafts';
import { linkKey } from './refs';

/** `net.ipv6.conf.<dev>.mtu` → the device (a '/' in the key is a '.' in the name). */
export function ipv6MtuDevice(key: string): string | undefined {
  const m = /^net\.ipv6\.conf\.([^.]+)\.mtu$/.exec(key);
  return m && m[1] !== 'all' && m[1] !== 'default' ? m[1]!.replace(/\//g, '.') : undefined;
}

/** Whether a link change can change the link's mtu, bring it up or change its carrier. */
function moves(x: Draft): boolean {
  if (x.kind !== 'link') return false;
  if (x.action === 'delete') return true; // a port leaving with it (the link itself has no key left)
  return x.action !== 'update' || x.fields.some((f) => f.field === 'mtu' || f.field === 'state' || f.field === 'master');
}

/** The links (keys) whose changes reach link `l`'s mtu or carrier, itself included (ports: declared or live). */
function carriers(l: LinkRes, desired: ReadonlyMap<string, Resource>, current: ReadonlyMap<string, Resource>): string[] {
  const out = [linkKey(l.namespace, l.name)];
  if (l.veth) out.push(linkKey(l.veth.peer.namespace, l.veth.peer.name));
  if (l.macvlan) out.push(linkKey(l.namespace, l.macvlan.parent));
  if (l.vxlan?.dev !== undefined) out.push(linkKey(l.namespace, l.vxlan.dev));
  if (l.type === 'bridge')
    for (const m of [desired, current])
      for (const [k, p] of m) if (isLink(p) && p.namespace === l.namespace && p.master === l.name && !out.includes(k)) out.push(k);
  return out;
}

/** Writes declared IPv6 device mtus after the link changes that reset them; `runAfter` orders them. */
export function rewriteIpv6MtuAfterLinks(
  drafts: Map<string, Draft>,
  desired: ReadonlyMap<string, Resource>,
  current: ReadonlyMap<string, Resource>,
  runAfter: Map<string, Set<string>>,
): void {
  for (const [key, d] of desired) {
    if (d.kind !== 'sysctl') continue;
    const dev = ipv6MtuDevice(d.key);
    const link = dev === undefined ? undefined : desired.get(linkKey(d.namespace, dev));
    if (!isLink(link)) continue;
    const by = carriers(link, desired, current).filter((k) => {
      const x = drafts.get(k);
      return x !== undefined && moves(x);
    });
    if (by.length === 0) continue;
    runAfterAll(runAfter, key, by);
    const live = current.get(key) as SysctlRes | undefined;
    if (drafts.has(key) || live === undefined) continue;
    const names = by.map((k) => k.slice(k.indexOf('/') + 1));
    const why = `written again after ${names.join(' and ')} change${names.length === 1 ? 's' : ''}: the kernel resets a device's IPv6 mtu to its link mtu when that changes or the link comes up`;
    drafts.set(key, rewriteSysctlDraft(key, live, d, why));
  }
}
