#!/usr/bin/env bash
# Runs every test: pure unit/property/golden tests, then real-kernel tests (root, namespaces).
set -uo pipefail
cd "$(dirname "$0")/.."
if [[ $(id -u) -ne 0 ]]; then
  echo "test: the kernel tests need root (they create their own network namespaces)" >&2
  exit 1
fi
mapfile -t unit < <(find dist/test/unit -name '*.test.js' | sort)
mapfile -t kernel < <(find dist/test/kernel -name '*.test.js' 2>/dev/null | sort)
status=0
echo "== unit, golden and property tests (${#unit[@]} files)"
node --test --test-concurrency=2 "${unit[@]}" || status=1
echo "== real-kernel tests (${#kernel[@]} files, one at a time)"
# One file at a time: 2 cores, and packet tests must not compete for CPU.
node --test --test-concurrency=1 "${kernel[@]}" || status=1
exit $status
