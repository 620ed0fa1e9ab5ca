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
    const actionNum = m.data.readUInt8(7);
    const jump = actionNum === R.FR_ACT_GOTO || actionNum === R.FR_ACT_NOP;
    // A goto or nop rule is read (show lists it as unmanaged) under no action of the config's.
    const action = jump ? 'lookup' : ACTIONS[actionNum];
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
        table: action === 'lookup' && !jump ? a.u32(R.FRA_TABLE) ?? m.data.readUInt8(4) : undefined,
        from: src ? `${bufferToIp(src)}/${srcLen}` : undefined,
        to: dst ? `${bufferToIp(dst)}/${dstLen}` : undefined,
        // The kernel leaves out a zero mark but keeps its mask (`fwmark 0/0xff`).
        fwmark: a.u32(R.FRA_FWMARK) ?? (a.u32(R.FRA_FWMASK) !== undefined ? 0 : undefined),
        fwmask: a.u32(R.FRA_FWMASK),
        iif: a.str(R.FRA_IIFNAME),
        oif: a.str(R.FRA_OIFNAME),
        protocol: a.u8(R.FRA_PROTOCOL),
        unmodelled: unmodelledRule(m.data, a, actionNum),
      }),
    );
  }
  return out;
}

/** A port range attribute (struct fib_rule_port_range) as `ip rule` prints it. */
function portRange(b: Buffer | undefined): string | undefined {
  if (!b || b.length < 4) return undefined;
  const lo = b.readUInt16LE(0);
  const hi = b.readUInt16LE(2);
  return lo === hi ? `${lo}` : `${lo}-${hi}`;
}

/**
 * What the config cannot declare about a rule, in `ip rule` words, or undefined: an inverted
 * match, a TOS, goto/nop, and the selectors and options the model lacks. Read back as a plain
 * rule such a rule would mean something else (a `uidrange` rule would match every packet), so
 * it is never taken for a declared one and `show` lists it apart.
 */
function unmodelledRule(hdr: Buffer, a: Attrs, action: number): string | undefined {
  const uid = a.get(R.FRA_UID_RANGE);
  // The kernel dumps the suppressors as -1 when unset.
  const suppressPrefix = a.u32(R.FRA_SUPPRESS_PREFIXLEN) ?? 0xffffffff;
  const suppressGroup = a.u32(R.FRA_SUPPRESS_IFGROUP) ?? 0xffffffff;
  const sport = portRange(a.get(R.FRA_SPORT_RANGE));
  const dport = portRange(a.get(R.FRA_DPORT_RANGE));
  const form = [
    (hdr.readUInt32LE(8) & R.FIB_RULE_INVERT) !== 0 ? 'not' : '',
    hdr.readUInt8(3) !== 0 ? `tos 0x${hdr.readUInt8(3).toString(16).padStart(2, '0')}` : '',
    action === R.FR_ACT_GOTO ? `goto ${a.u32(R.FRA_GOTO) ?? '?'}` : '',
    action === R.FR_ACT_NOP ? 'nop' : '',
    suppressPrefix !== 0xffffffff ? `suppress_prefixlength ${suppressPrefix}` : '',
    suppressGroup !== 0xffffffff ? `suppress_ifgroup ${suppressGroup}` : '',
    uid && uid.length >= 8 ? `uidrange ${uid.readUInt32LE(0)}-${uid.readUInt32LE(4)}` : '',
    a.u8(R.FRA_L3MDEV) ? 'l3mdev' : '',
    a.u32(R.FRA_FLOW) ? `realms 0x${a.u32(R.FRA_FLOW)!.toString(16)}` : '',
    a.get(R.FRA_TUN_ID) ? 'tun_id' : '',
    a.u8(R.FRA_IP_PROTO) ? `ipproto ${a.u8(R.FRA_IP_PROTO)}` : '',
    sport ? `sport ${sport}` : '',
    dport ? `dport ${dport}` : '',
    // DSCP is dumped beside a TOS too (the same bits): named only when no TOS was.
    a.get(R.FRA_DSCP) && hdr.readUInt8(3) === 0 ? `dscp ${a.u8(R.FRA_DSCP)}` : '',
    a.get(R.FRA_FLOWLABEL) ? 'flowlabel' : '',
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
  // As createRoute: a snapshot's protocol (a rollback recreating an adopted rule), else Voltron's.
  session.ns(r.namespace).sock.request(R.RTM_NEWRULE, NLM_F_CREATE | NLM_F_EXCL, ruleMsg(r, r.protocol ?? VOLTRON_RTPROT), `add rule priority ${r.priority}`);
}

export function deleteRule(session: KernelSession, r: RuleRes): void {
  // The kernel deletes the first rule the request matches, and selectors left out match any: a
  // foreign rule at the same priority with more selectors (`from ...`) would go instead of ours.
  // The protocol as read tells them apart (an adopted rule may carry another; Voltron's otherwise).
  session.ns(r.namespace).sock.request(R.RTM_DELRULE, 0, ruleMsg(r, r.protocol ?? VOLTRON_RTPROT), `delete rule priority ${r.priority}`);
}
