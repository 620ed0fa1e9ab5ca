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
      }),
    );
  }
  return out;
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
