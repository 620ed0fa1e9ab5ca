// The ports of a bridge whose STP was just turned off. The kernel stops STP but lets listening
// and learning ports run out their forward-delay timers (twice the delay: 30 s at the default),
// and a port STP had blocked stays blocked, although with STP off every port forwards (a port
// that joins such a bridge forwards at once). Voltron sets them forwarding, as the declared
// `stp: false` means; iproute2's `bridge link set dev P state 3` does the same per port.
import { AttrWriter, Attrs } from './netlink/attrs';
import * as R from './netlink/rtnl';
import type { NsContext } from './session';

const HELD = new Set([R.BR_STATE_LISTENING, R.BR_STATE_LEARNING, R.BR_STATE_BLOCKING]);

/** Ports of `bridge` that are up and held by the STP it had. */
function heldBridgePorts(ctx: NsContext, bridge: string): { index: number; name: string }[] {
  const master = ctx.ifindex(bridge);
  const held: { index: number; name: string }[] = [];
  // An AF_BRIDGE dump lists bridge ports only, each with its STP state in IFLA_PROTINFO.
  for (const m of ctx.sock.dump(R.RTM_GETLINK, R.ifinfomsg({ family: R.AF_BRIDGE }), `dump ports of ${bridge}`)) {
    if (m.type !== R.RTM_NEWLINK) continue;
    const a = Attrs.parse(m.data, 16);
    if (a.u32(R.IFLA_MASTER) !== master || a.u8(R.IFLA_OPERSTATE) !== R.IF_OPER_UP) continue;
    const state = a.nested(R.IFLA_PROTINFO)?.u8(R.IFLA_BRPORT_STATE);
    if (state !== undefined && HELD.has(state)) held.push({ index: m.data.readInt32LE(4), name: a.str(R.IFLA_IFNAME) ?? '' });
  }
  return held;
}

/** Set every held port of `bridge` forwarding (the bridge's STP must be off already). */
export function releaseBridgePorts(ctx: NsContext, bridge: string): void {
  for (const p of heldBridgePorts(ctx, bridge)) {
    const w = new AttrWriter().nest(R.IFLA_PROTINFO, (i) => i.u8(R.IFLA_BRPORT_STATE, R.BR_STATE_FORWARDING));
    ctx.sock.request(R.RTM_SETLINK, 0, [R.ifinfomsg({ family: R.AF_BRIDGE, index: p.index }), w.view()], `set bridge port ${p.name} forwarding (STP of ${bridge} turned off)`);
  }
}
