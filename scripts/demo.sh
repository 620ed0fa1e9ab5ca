#!/usr/bin/env bash
# The quick-start demo: apply examples/overlay-host into namespaces it creates (sandbox),
# show that a second plan is empty, prove connectivity, then destroy everything.
set -euo pipefail
cd "$(dirname "$0")/.."
# VOLTRON_DEMO_SKIP_SETUP=1 and VOLTRON_DEMO_PREFIX: for the test that runs the demo.
[[ "${VOLTRON_DEMO_SKIP_SETUP:-}" == 1 ]] || bash scripts/setup.sh

PREFIX="${VOLTRON_DEMO_PREFIX:-vdemo$$-}"
STATE="$(mktemp -d /tmp/voltron-demo.XXXXXX)"
EXAMPLE="${1:-examples/overlay-host}"
V=(node bin/voltron -c "$EXAMPLE" --sandbox "$PREFIX" --state-dir "$STATE")

cleanup() {
  "${V[@]}" destroy --auto-approve >/dev/null 2>&1 || true
  # Last resort, only our own uniquely prefixed namespaces.
  for ns in $(ip netns list | awk '{print $1}' | grep "^${PREFIX}" || true); do ip netns del "$ns" || true; done
  rm -rf "$STATE"
}
trap cleanup EXIT
# Ctrl-C stops the demo (then cleans up) even when the running step survives it: ping
# catches SIGINT and exits 0, and bash would carry on with the next step.
trap 'exit 130' INT TERM

if [[ -t 1 ]]; then
  step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
else
  step() { printf '\n== %s\n' "$*"; }
fi

step "voltron validate ($EXAMPLE)"
"${V[@]}" validate
step "voltron plan (sandbox prefix ${PREFIX})"
"${V[@]}" plan
step "voltron apply --auto-approve"
"${V[@]}" apply --auto-approve
step "voltron plan --detailed-exitcode (a second plan must be empty: exit 0)"
"${V[@]}" plan --detailed-exitcode
if [[ "$EXAMPLE" == examples/overlay-host ]]; then
  step "traffic: namespace A pings C across the bridge"
  ip netns exec "${PREFIX}vovl-a" ping -c 2 -W 1 10.77.0.13
fi
if [[ "$EXAMPLE" == examples/overlay-host ]]; then
  step "drift: set br-ovl's MTU behind Voltron's back; plan sees it (exit 2), apply repairs it"
  ip -n "${PREFIX}root" link set br-ovl mtu 1400
  set +e; "${V[@]}" plan --detailed-exitcode; rc=$?; set -e
  [[ $rc -eq 2 ]] || { echo "expected the drift to show (exit 2), got $rc" >&2; exit 1; }
  "${V[@]}" apply --auto-approve
fi
step "voltron destroy --auto-approve"
"${V[@]}" destroy --auto-approve
left=$(ip netns list | grep -c "^${PREFIX}" || true)
echo "namespaces left with prefix ${PREFIX}: ${left}"
[[ "$left" == 0 ]]
trap - EXIT
rm -rf "$STATE"
step "demo complete"
