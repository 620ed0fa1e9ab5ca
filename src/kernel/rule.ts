// Policy routing rules: one RTM_GETRULE dump per namespace; rules cannot be modified, so
// a change is delete + add (the plan calls it replace).
import { VOLTRON_RTPROT, type RuleAction, type RuleRes } from '../model/types';
import { AttrWriter, Attrs, bufferToIp, ipToBuffer } from './netlink/attrs';
import * as R from './netlink/rtnl';
import { NLM_F_CREATE, NLM_F_EXCL } from './netlink/socket';
import type { KernelSession, NsContext } from './session';
import { stripUndefined } from './link';

const ACTIONS: Record<number, RuleAction> = { 1: 'lookup', 6: 'blackhole', 7: 'unreachable', 8: 'prohibit' };
const ACTION_NUM: Record<RuleAction, number> = { lookup: 1, blackhole: 6, unreachable: 7, prohibit: 8 };

function fibRuleHdr(family: number, dstLen: number, srcLen: number, table: number, action: number): Buffer {
  const b = Buffer.alloc(12);
  b.writeUInt8(family, 0);
  b.writeUInt8(dstLen, 1);
  b.writeUInt8(srcLen, 2);
  b.writeUInt8(table > 255 ? 0 : table, 4);
  b.writeUInt8(action, 7);
  return b;
}

/** Dump the policy routing rules of a namespace (of one family, or both). */
export function readRules(ctx: NsContext, family?: 4 | 6): RuleRes[] {
  const out: RuleRes[] = [];
  const af = R.afOf(family);
  for (const m of ctx.sock.dump(R.RTM_GETRULE, fibRuleHdr(af, 0, 0, 0, 0), 'dump rules')) {
    if (m.type !== R.RTM_NEWRULE) continue;
    // An unspecified-family dump also returns multicast routing rules (ipmr/ip6mr families).
    const fam = m.data.readUInt8(0);
    if (fam !== R.AF_INET && fam !== R.AF_INET6) continue;
    const family = fam === R.AF_INET ? 4 : 6;
    const dstLen = m.data.readUInt8(1);
    const srcLen = m.data.readUInt8(2);
    const action = ACTIONS[m.data.readUInt8(7)];
    if (!action) continue;
    const a = Attrs.parse(m.data, 12);
    const src = a.get(R.FRA_SRC);
    const dst = a.get(R.FRA_DST);
    out.push(
      stripUndefined<RuleRes>({
        kind: 'rule',
        namespace: ctx.logical,
        family,
        priority: a.u32(R.FRA_PRIORITY) ?? 0,
        action,
        table: action === 'lookup' ? a.u32(R.FRA_TABLE) ?? m.data.readUInt8(4) : undefined,
        from: src ? `${bufferToIp(src)}/${srcLen}` : undefined,
        to: dst ? `${bufferToIp(dst)}/${dstLen}` : undefined,
        // The kernel leaves out a zero mark but keeps its mask (`fwmark 0/0xff`).
        fwmark: a.u32(R.FRA_FWMARK) ?? (a.u32(R.FRA_FWMASK) !== undefined ? 0 : undefined),
        fwmask: a.u32(R.FRA_FWMASK),
        iif: a.str(R.FRA_IIFNAME),
        oif: a.str(R.FRA_OIFNAME),
        protocol: a.u8(R.FRA_PROTOCOL),
        unmodelled: unmodelledRule(m.data, a),
      }),
    );
  }
  return out;
}

const FIB_RULE_INVERT = 0x2;
const FRA_FLOW = 11;
const FRA_TUN_ID = 12;
const FRA_SUPPRESS_IFGROUP = 13;
const FRA_SUPPRESS_PREFIXLEN = 14;
const FRA_L3MDEV = 19;
const FRA_UID_RANGE = 20;
const FRA_IP_PROTO = 22;
const FRA_SPORT_RANGE = 23;
const FRA_DPORT_RANGE = 24;
const FRA_DSCP = 25;
const FRA_FLOWLABEL = 26;
const UNSET = 0xffffffff;

/**
 * What Voltron never writes, as ip(8) shows it: `not` (the selectors inverted), a TOS/DSCP, an
 * IP protocol, ports, a uid range, l3mdev, suppressors, realms, a tunnel id, a flow label (each
 * dumped only when set, but the suppressors: -1 when not). Such a rule is another rule than the one its modelled fields describe
 * (`not from 10.0.0.0/8` is not `from 10.0.0.0/8`): never taken for a declared one.
 */
function unmodelledRule(hdr: Buffer, a: Attrs): string | undefined {
  const range = (t: number): string | undefined => {
    const b = a.get(t);
    if (!b || b.length < 4) return undefined;
    const lo = b.readUInt16LE(0);
    const hi = b.readUInt16LE(2);
    return lo === hi ? `${lo}` : `${lo}-${hi}`;
  };
  const set = (t: number): boolean => (a.u32(t) ?? UNSET) !== UNSET;
  const uid = a.get(FRA_UID_RANGE);
  const tos = hdr.readUInt8(3);
  const form = [
    hdr.readUInt32LE(8) & FIB_RULE_INVERT ? 'not' : '',
    tos !== 0 ? `tos 0x${tos.toString(16).padStart(2, '0')}` : '',
    a.get(FRA_DSCP) && tos === 0 ? `dscp ${a.u8(FRA_DSCP)}` : '',
    a.get(FRA_IP_PROTO) ? `ipproto ${a.u8(FRA_IP_PROTO)}` : '',
    a.get(FRA_SPORT_RANGE) ? `sport ${range(FRA_SPORT_RANGE)}` : '',
    a.get(FRA_DPORT_RANGE) ? `dport ${range(FRA_DPORT_RANGE)}` : '',
    uid && uid.length >= 8 ? `uidrange ${uid.readUInt32LE(0)}-${uid.readUInt32LE(4)}` : '',
    a.u8(FRA_L3MDEV) ? 'l3mdev' : '',
    set(FRA_SUPPRESS_PREFIXLEN) ? `suppress_prefixlength ${a.u32(FRA_SUPPRESS_PREFIXLEN)}` : '',
    set(FRA_SUPPRESS_IFGROUP) ? `suppress_ifgroup ${a.u32(FRA_SUPPRESS_IFGROUP)}` : '',
    a.get(FRA_FLOW) ? 'realms' : '',
    a.get(FRA_TUN_ID) ? 'tun_id' : '',
    a.get(FRA_FLOWLABEL) ? 'flowlabel' : '',
  ].filter((x) => x);
  return form.length > 0 ? form.join(' ') : undefined;
}

function ruleMsg(r: RuleRes, protocol: number): Buffer {
  const family = r.family === 4 ? R.AF_INET : R.AF_INET6;
  const from = r.from?.split('/');
  const to = r.to?.split('/');
  const hdr = fibRuleHdr(family, to ? Number(to[1]) : 0, from ? Number(from[1]) : 0, r.table ?? 0, ACTION_NUM[r.action]);
  const w = new AttrWriter().u32(R.FRA_PRIORITY, r.priority);
  if (r.table !== undefined) w.u32(R.FRA_TABLE, r.table);
  if (from) w.raw(R.FRA_SRC, ipToBuffer(from[0]!));
  if (to) w.raw(R.FRA_DST, ipToBuffer(to[0]!));
  if (r.fwmark !== undefined) w.u32(R.FRA_FWMARK, r.fwmark);
  if (r.fwmask !== undefined) w.u32(R.FRA_FWMASK, r.fwmask);
  if (r.iif) w.str(R.FRA_IIFNAME, r.iif);
  if (r.oif) w.str(R.FRA_OIFNAME, r.oif);
  w.u8(R.FRA_PROTOCOL, protocol);
  return Buffer.concat([hdr, w.toBuffer()]);
}

export function createRule(session: KernelSession, r: RuleRes): void {
  session.ns(r.namespace).sock.request(R.RTM_NEWRULE, NLM_F_CREATE | NLM_F_EXCL, ruleMsg(r, VOLTRON_RTPROT), `add rule priority ${r.priority}`);
}

export function deleteRule(session: KernelSession, r: RuleRes): void {
  // The kernel deletes the first rule the request matches, and selectors left out match any: a
  // foreign rule at the same priority with more selectors (`from ...`) would go instead of ours.
  // The protocol as read tells them apart (an adopted rule may carry another; Voltron's otherwise).
  session.ns(r.namespace).sock.request(R.RTM_DELRULE, 0, ruleMsg(r, r.protocol ?? VOLTRON_RTPROT), `delete rule priority ${r.priority}`);
}
