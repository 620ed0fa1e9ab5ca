// SRv6 encapsulation source (`ip sr tunsrc`), per namespace, over generic netlink (SEG6 family).
import type { Seg6TunsrcRes } from '../model/types';
import { AttrWriter, Attrs, bufferToIp, ipToBuffer } from './netlink/attrs';
import { NETLINK_GENERIC, NetlinkSocket } from './netlink/socket';
import type { KernelSession } from './session';

const GENL_ID_CTRL = 16;
const CTRL_CMD_GETFAMILY = 3;
const CTRL_ATTR_FAMILY_ID = 1;
const CTRL_ATTR_FAMILY_NAME = 2;
const SEG6_CMD_SET_TUNSRC = 3;
const SEG6_CMD_GET_TUNSRC = 4;
const SEG6_ATTR_DST = 1;

function genlhdr(cmd: number): Buffer {
  return Buffer.from([cmd, 1, 0, 0]);
}

function withSeg6<T>(session: KernelSession, ns: string, fn: (s: NetlinkSocket, family: number) => T): T {
  const s = new NetlinkSocket(session.physical(ns), NETLINK_GENERIC);
  try {
    const req = Buffer.concat([genlhdr(CTRL_CMD_GETFAMILY), new AttrWriter().str(CTRL_ATTR_FAMILY_NAME, 'SEG6').toBuffer()]);
    const reply = s.request(GENL_ID_CTRL, 0, req, 'resolve genetlink family SEG6', false)[0];
    if (!reply) throw new Error('SEG6 generic netlink family not available (kernel without IPv6 segment routing)');
    const family = Attrs.parse(reply.data, 4).u16(CTRL_ATTR_FAMILY_ID)!;
    return fn(s, family);
  } finally {
    s.close();
  }
}

export function readTunsrc(session: KernelSession, ns: string): Seg6TunsrcRes {
  return withSeg6(session, ns, (s, family) => {
    const reply = s.request(family, 0, genlhdr(SEG6_CMD_GET_TUNSRC), 'get seg6 tunsrc', false)[0];
    const dst = reply ? Attrs.parse(reply.data, 4).get(SEG6_ATTR_DST) : undefined;
    return { kind: 'tunsrc', namespace: ns, address: dst ? bufferToIp(dst) : '::' };
  });
}

export function writeTunsrc(session: KernelSession, t: { namespace: string; address: string }): void {
  withSeg6(session, t.namespace, (s, family) => {
    const req = Buffer.concat([genlhdr(SEG6_CMD_SET_TUNSRC), new AttrWriter().raw(SEG6_ATTR_DST, ipToBuffer(t.address)).toBuffer()]);
    s.request(family, 0, req, `set seg6 tunsrc ${t.address}`);
  });
  session.extraWrites++;
}
