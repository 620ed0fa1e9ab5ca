// rtnetlink message types, attribute numbers and fixed headers (values from the uapi
// headers of this machine: linux/rtnetlink.h, if_link.h, fib_rules.h, seg6*.h, pkt_*.h).
import { AttrWriter } from './attrs';

export const AF_UNSPEC = 0;
export const AF_INET = 2;
export const AF_BRIDGE = 7;
export const AF_INET6 = 10;

/** Address family of an IP version; undefined (both) is AF_UNSPEC, as dumps take it. */
export function afOf(family: 4 | 6 | undefined): number {
  return family === undefined ? AF_UNSPEC : family === 4 ? AF_INET : AF_INET6;
}

export const RTM_NEWLINK = 16;
export const RTM_DELLINK = 17;
export const RTM_GETLINK = 18;
export const RTM_SETLINK = 19;
export const RTM_NEWADDR = 20;
export const RTM_DELADDR = 21;
export const RTM_GETADDR = 22;
export const RTM_NEWROUTE = 24;
export const RTM_DELROUTE = 25;
export const RTM_GETROUTE = 26;
export const RTM_NEWRULE = 32;
export const RTM_DELRULE = 33;
export const RTM_GETRULE = 34;
export const RTM_NEWQDISC = 36;
export const RTM_DELQDISC = 37;
export const RTM_GETQDISC = 38;
export const RTM_NEWTCLASS = 40;
export const RTM_DELTCLASS = 41;
export const RTM_GETTCLASS = 42;
export const RTM_NEWTFILTER = 44;
export const RTM_DELTFILTER = 45;
export const RTM_GETTFILTER = 46;
export const RTM_NEWVLAN = 112;
export const RTM_DELVLAN = 113;
export const RTM_GETVLAN = 114;
export const RTM_NEWTUNNEL = 120;
export const RTM_DELTUNNEL = 121;
export const RTM_GETTUNNEL = 122;

export const IFF_UP = 1;
export const IFF_RUNNING = 0x40;
export const IFF_LOWER_UP = 0x10000;

export const IFLA_ADDRESS = 1;
export const IFLA_IFNAME = 3;
export const IFLA_MTU = 4;
export const IFLA_LINK = 5;
export const IFLA_MASTER = 10;
export const IFLA_PROTINFO = 12;
export const IFLA_OPERSTATE = 16;
export const IFLA_LINKINFO = 18;
export const IFLA_IFALIAS = 20;
export const IFLA_AF_SPEC = 26;
export const IFLA_NET_NS_FD = 28;
export const IFLA_EXT_MASK = 29;
export const IFLA_LINK_NETNSID = 37;
/** A link's alternative names (`ip link property add ... altname`): nested IFLA_ALT_IFNAME strings. */
export const IFLA_PROP_LIST = 52;
export const IFLA_ALT_IFNAME = 53;

export const IF_OPER_UP = 6;
/** IFLA_PROTINFO of a bridge port (AF_BRIDGE): its STP state (BR_STATE_*). */
export const IFLA_BRPORT_STATE = 1;
export const BR_STATE_LISTENING = 1;
export const BR_STATE_LEARNING = 2;
export const BR_STATE_FORWARDING = 3;
export const BR_STATE_BLOCKING = 4;

export const IFLA_INFO_KIND = 1;
export const IFLA_INFO_DATA = 2;
export const IFLA_INFO_SLAVE_KIND = 4;
export const IFLA_INFO_SLAVE_DATA = 5;
export const VETH_INFO_PEER = 1;

export const IFLA_BR_FORWARD_DELAY = 1;
export const IFLA_BR_AGEING_TIME = 4;
export const IFLA_BR_STP_STATE = 5;
export const IFLA_BR_TOPOLOGY_CHANGE = 14;
export const IFLA_BR_VLAN_FILTERING = 7;
export const IFLA_BR_MCAST_SNOOPING = 23;
export const IFLA_BR_VLAN_DEFAULT_PVID = 39;

export const IFLA_VXLAN_ID = 1;
export const IFLA_VXLAN_GROUP = 2;
export const IFLA_VXLAN_LINK = 3;
export const IFLA_VXLAN_LOCAL = 4;
export const IFLA_VXLAN_TTL = 5;
export const IFLA_VXLAN_LEARNING = 7;
export const IFLA_VXLAN_PORT = 15;
export const IFLA_VXLAN_GROUP6 = 16;
export const IFLA_VXLAN_LOCAL6 = 17;
export const IFLA_VXLAN_COLLECT_METADATA = 25;
export const IFLA_VXLAN_TTL_INHERIT = 28; // a flag when sent, a u8 (0/1) when dumped
// Options that change the packet format (Voltron never writes them; read to tell such VXLANs apart).
export const IFLA_VXLAN_REMCSUM_TX = 21;
export const IFLA_VXLAN_REMCSUM_RX = 22;
export const IFLA_VXLAN_GBP = 23;
export const IFLA_VXLAN_REMCSUM_NOPARTIAL = 24;
export const IFLA_VXLAN_GPE = 27;
export const IFLA_VXLAN_VNIFILTER = 30;

export const IFLA_MACVLAN_MODE = 1;

export const IFLA_BRIDGE_FLAGS = 0;
export const IFLA_BRIDGE_VLAN_INFO = 2;
export const BRIDGE_VLAN_INFO_PVID = 2;
export const BRIDGE_VLAN_INFO_UNTAGGED = 4;
export const BRIDGE_FLAGS_SELF = 2;
export const RTEXT_FILTER_VF = 1;
export const RTEXT_FILTER_BRVLAN = 2;

export const VXLAN_VNIFILTER_ENTRY = 1;
export const VXLAN_VNIFILTER_ENTRY_START = 1;
export const VXLAN_VNIFILTER_ENTRY_END = 2;

export const IFA_ADDRESS = 1;
export const IFA_LOCAL = 2;
export const IFA_FLAGS = 8;
export const IFA_F_NODAD = 0x02;
export const IFA_F_PERMANENT = 0x80;

export const RTA_DST = 1;
export const RTA_SRC = 2;
export const RTA_OIF = 4;
export const RTA_GATEWAY = 5;
export const RTA_PRIORITY = 6;
export const RTA_PREFSRC = 7;
export const RTA_METRICS = 8;
export const RTA_MULTIPATH = 9;
export const RTA_FLOW = 11;
export const RTA_CACHEINFO = 12;
export const RTA_TABLE = 15;
export const RTA_VIA = 18;
export const RTA_NH_ID = 30;
export const RTA_ENCAP_TYPE = 21;
export const RTA_ENCAP = 22;
export const RTAX_MTU = 2;
export const RTAX_LOCK = 1;
/** RTAX_* names as `ip route` prints them (index = type). */
export const RTAX_NAMES = ['', 'lock', 'mtu', 'window', 'rtt', 'rttvar', 'ssthresh', 'cwnd', 'advmss', 'reordering', 'hoplimit', 'initcwnd', 'features', 'rto_min', 'initrwnd', 'quickack', 'congctl', 'fastopen_no_cookie'];
export const RTNH_F_ONLINK = 4;
export const RTA_PREF = 20;

export const RTN_UNICAST = 1;
export const RTN_LOCAL = 2;
export const RTN_BROADCAST = 3;
export const RTN_ANYCAST = 4;
export const RTN_MULTICAST = 5;
export const RTN_BLACKHOLE = 6;
export const RTN_UNREACHABLE = 7;
export const RTN_PROHIBIT = 8;
export const RT_SCOPE_UNIVERSE = 0;
export const RT_SCOPE_LINK = 253;
export const RT_SCOPE_HOST = 254;
export const RT_SCOPE_NOWHERE = 255;

export const LWTUNNEL_ENCAP_SEG6 = 5;
export const LWTUNNEL_ENCAP_SEG6_LOCAL = 7;

export const FRA_DST = 1;
export const FRA_SRC = 2;
export const FRA_IIFNAME = 3;
export const FRA_PRIORITY = 6;
export const FRA_FWMARK = 10;
export const FRA_TABLE = 15;
export const FRA_FWMASK = 16;
export const FRA_OIFNAME = 17;
export const FRA_PROTOCOL = 21;
// Rule selectors and actions Voltron does not model (read only to tell such rules apart).
export const FRA_GOTO = 4;
export const FRA_FLOW = 11;
export const FRA_TUN_ID = 12;
export const FRA_SUPPRESS_IFGROUP = 13;
export const FRA_SUPPRESS_PREFIXLEN = 14;
export const FRA_L3MDEV = 19;
export const FRA_UID_RANGE = 20;
export const FRA_IP_PROTO = 22;
export const FRA_SPORT_RANGE = 23;
export const FRA_DPORT_RANGE = 24;
export const FRA_DSCP = 25;
export const FRA_FLOWLABEL = 26;
export const FIB_RULE_INVERT = 0x2;
export const FR_ACT_GOTO = 2;
export const FR_ACT_NOP = 3;
export const FR_ACT_TO_TBL = 1;
export const FR_ACT_BLACKHOLE = 6;
export const FR_ACT_UNREACHABLE = 7;
export const FR_ACT_PROHIBIT = 8;

export interface IfInfo {
  family?: number;
  type?: number;
  index?: number;
  flags?: number;
  change?: number;
}

/** struct ifinfomsg (16 bytes). */
export function ifinfomsg(i: IfInfo): Buffer {
  const b = Buffer.alloc(16);
  b.writeUInt8(i.family ?? AF_UNSPEC, 0);
  b.writeUInt16LE(i.type ?? 0, 2);
  b.writeInt32LE(i.index ?? 0, 4);
  b.writeUInt32LE(i.flags ?? 0, 8);
  b.writeUInt32LE(i.change ?? 0, 12);
  return b;
}

const RTEXT_FILTER_SKIP_STATS = 1 << 3;

/** RTM_GETLINK dump request without statistics (a fifth of a link dump's bytes, never compared). */
export function linkDumpRequest(): Buffer {
  return Buffer.concat([ifinfomsg({}), new AttrWriter().u32(IFLA_EXT_MASK, RTEXT_FILTER_SKIP_STATS).toBuffer()]);
}

/** struct ifaddrmsg (8 bytes). */
export function ifaddrmsg(family: number, prefixlen: number, flags: number, scope: number, index: number): Buffer {
  const b = Buffer.alloc(8);
  b.writeUInt8(family, 0);
  b.writeUInt8(prefixlen, 1);
  b.writeUInt8(flags, 2);
  b.writeUInt8(scope, 3);
  b.writeInt32LE(index, 4);
  return b;
}

export interface RtMsg {
  family: number;
  dstLen: number;
  srcLen?: number;
  tos?: number;
  table: number;
  protocol: number;
  scope: number;
  type: number;
  flags?: number;
}

/** struct rtmsg (12 bytes); table > 255 goes in RTA_TABLE by the caller. */
export function rtmsg(m: RtMsg): Buffer {
  const b = Buffer.alloc(12);
  b.writeUInt8(m.family, 0);
  b.writeUInt8(m.dstLen, 1);
  b.writeUInt8(m.srcLen ?? 0, 2);
  b.writeUInt8(m.tos ?? 0, 3);
  b.writeUInt8(m.table > 255 ? 252 /* RT_TABLE_COMPAT */ : m.table, 4);
  b.writeUInt8(m.protocol, 5);
  b.writeUInt8(m.scope, 6);
  b.writeUInt8(m.type, 7);
  b.writeUInt32LE(m.flags ?? 0, 8);
  return b;
}

export function parseRtMsg(b: Buffer): Required<RtMsg> {
  return {
    family: b.readUInt8(0),
    dstLen: b.readUInt8(1),
    srcLen: b.readUInt8(2),
    tos: b.readUInt8(3),
    table: b.readUInt8(4),
    protocol: b.readUInt8(5),
    scope: b.readUInt8(6),
    type: b.readUInt8(7),
    flags: b.readUInt32LE(8),
  };
}

/** struct tcmsg (20 bytes). */
export function tcmsg(family: number, ifindex: number, handle: number, parent: number, info: number): Buffer {
  const b = Buffer.alloc(20);
  b.writeUInt8(family, 0);
  b.writeInt32LE(ifindex, 4);
  b.writeUInt32LE(handle >>> 0, 8);
  b.writeUInt32LE(parent >>> 0, 12);
  b.writeUInt32LE(info >>> 0, 16);
  return b;
}
