// What a kernel refusal met mid-apply most likely means, where the plan could not see it coming
// (the cause is outside what Voltron reads): a line for the user after the error.
import { NetlinkError } from '../kernel/netlink/socket';
import type { Change } from '../plan/types';
import { failedHalfDone } from './execute';

const EEXIST = 17;

export function failureHint(change: Change, error: unknown): string | undefined {
  if (failedHalfDone(error)) {
    // "0 of N applied" would hide that the new rule is live beside the old one.
    return 'note: the new rule was added and the old one is still there: a rollback deletes the new one; kept (--no-rollback), the next apply deletes the old one.';
  }
  if (!(error instanceof NetlinkError)) return undefined;
  if (change.kind === 'link' && error.errno === EEXIST && /VXLAN device with the specified VNI already exists/.test(error.extack ?? '')) {
    // The VNI is claimed in the namespace a VXLAN was created in, wherever it lives now.
    return (
      'hint: no VXLAN with this VNI and port is in this namespace, so one created here was probably moved to another ' +
      '(`ip link set DEV netns NS`): it keeps its VNI here. Find it with `ip -all netns exec ip -d link show type vxlan`, ' +
      'and delete it or move it back.'
    );
  }
  return undefined;
}
