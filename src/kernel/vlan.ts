// Bridge VLAN membership (ports and the bridge itself) and VXLAN VNI filter entries.
import type { BridgeVlan, VniRange } from '../model/types';
import { AttrWriter, Attrs } from './netlink/attrs';
import * as R from './netlink/rtnl';
import type { NsContext } from './session';
import { mergeRanges } from '../util/ranges';

/** ifname → VLAN list, for every bridge port and bridge with VLAN data. */
export function readBridgeVlans(ctx: NsContext, names: ReadonlyMap<number, string>): Map<string, BridgeVlan[]> {
  const req = Buffer.concat([R.ifinfomsg({ family: R.AF_BRIDGE }), new AttrWriter().u32(R.IFLA_EXT_MASK, R.RTEXT_FILTER_BRVLAN).toBuffer()]);
  const out = new Map<string, BridgeVlan[]>();
  for (const m of ctx.sock.dump(R.RTM_GETLINK, req, 'dump bridge vlans')) {
    if (m.type !== R.RTM_NEWLINK) continue;
    const name = names.get(m.data.readInt32LE(4));
    const spec = Attrs.parse(m.data, 16).nested(R.IFLA_AF_SPEC);
    if (!name || !spec) continue;
    const vlans: BridgeVlan[] = [];
    for (const b of spec.all(R.IFLA_BRIDGE_VLAN_INFO)) {
      const flags = b.readUInt16LE(0);
      const v: { vid: number; pvid?: boolean; untagged?: boolean } = { vid: b.readUInt16LE(2) };
      v.pvid = (flags & R.BRIDGE_VLAN_INFO_PVID) !== 0;
      v.untagged = (flags & R.BRIDGE_VLAN_INFO_UNTAGGED) !== 0;
      vlans.push(v);
    }
    if (vlans.length) out.set(name, vlans.sort((a, b) => a.vid - b.vid));
  }
  return out;
}

function vlanInfo(v: BridgeVlan): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt16LE((v.pvid ? R.BRIDGE_VLAN_INFO_PVID : 0) | (v.untagged ? R.BRIDGE_VLAN_INFO_UNTAGGED : 0), 0);
  b.writeUInt16LE(v.vid, 2);
  return b;
}

/** Add (or re-flag) and remove VLANs on a port, or on the bridge itself when `self`. */
export function setBridgeVlans(ctx: NsContext, dev: string, self: boolean, add: readonly BridgeVlan[], remove: readonly BridgeVlan[]): void {
  const index = ctx.ifindex(dev);
  const send = (type: number, vlans: readonly BridgeVlan[], op: string) => {
    if (!vlans.length) return;
    const w = new AttrWriter().nest(R.IFLA_AF_SPEC, (s) => {
      if (self) s.u16(R.IFLA_BRIDGE_FLAGS, R.BRIDGE_FLAGS_SELF);
      for (const v of vlans) s.raw(R.IFLA_BRIDGE_VLAN_INFO, vlanInfo(v));
    });
    ctx.sock.request(type, 0, [R.ifinfomsg({ family: R.AF_BRIDGE, index }), w.view()], `${op} vlans on ${dev}`);
  };
  send(R.RTM_DELLINK, remove, 'remove');
  send(R.RTM_SETLINK, add, 'add');
}

function tunnelMsg(ifindex: number): Buffer {
  const b = Buffer.alloc(8);
  b.writeUInt8(R.AF_BRIDGE, 0);
  b.writeUInt32LE(ifindex, 4);
  return b;
}

/** ifname → filtered VNIs of every vnifilter VXLAN device, as merged runs (the kernel dumps ranges). */
export function readVnis(ctx: NsContext, names: ReadonlyMap<number, string>): Map<string, VniRange[]> {
  const out = new Map<string, VniRange[]>();
  for (const m of ctx.sock.dump(R.RTM_GETTUNNEL, tunnelMsg(0), 'dump vxlan vni filter')) {
    if (m.type !== R.RTM_NEWTUNNEL) continue;
    const name = names.get(m.data.readUInt32LE(4));
    if (!name) continue;
    const list = out.get(name) ?? [];
    for (const e of Attrs.parse(m.data, 8).all(R.VXLAN_VNIFILTER_ENTRY)) {
      const a = Attrs.parse(e);
      const start = a.u32(R.VXLAN_VNIFILTER_ENTRY_START);
      if (start === undefined) continue;
      list.push([start, a.u32(R.VXLAN_VNIFILTER_ENTRY_END) ?? start]);
    }
    out.set(name, list);
  }
  for (const [name, list] of out) out.set(name, mergeRanges(list));
  return out;
}

/**
 * Range entries per request: 20 bytes each, so a request stays far below the socket's send
 * buffer (a message over it fails with EMSGSIZE; one entry per VNI made 12 MB for 2^20 VNIs).
 */
export const VNI_ENTRIES_PER_REQUEST = 2048;

export function setVnis(ctx: NsContext, dev: string, add: readonly VniRange[], remove: readonly VniRange[]): void {
  const index = ctx.ifindex(dev);
  const send = (type: number, vnis: readonly VniRange[], op: string) => {
    for (const w of vniRequests(vnis)) ctx.sock.request(type, 0, [tunnelMsg(index), w.view()], `${op} vnis on ${dev}`);
  };
  send(R.RTM_DELTUNNEL, remove, 'remove');
  send(R.RTM_NEWTUNNEL, add, 'add');
}

/** The attributes of the requests adding or removing `vnis`: runs as START/END range entries. */
export function vniRequests(vnis: readonly VniRange[]): AttrWriter[] {
  const out: AttrWriter[] = [];
  const runs = mergeRanges(vnis);
  for (let i = 0; i < runs.length; i += VNI_ENTRIES_PER_REQUEST) {
    const w = new AttrWriter();
    for (const [lo, hi] of runs.slice(i, i + VNI_ENTRIES_PER_REQUEST)) {
      w.nest(R.VXLAN_VNIFILTER_ENTRY, (e) => {
        e.u32(R.VXLAN_VNIFILTER_ENTRY_START, lo);
        if (hi !== lo) e.u32(R.VXLAN_VNIFILTER_ENTRY_END, hi);
      });
    }
    out.push(w);
  }
  return out;
}
