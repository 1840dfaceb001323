#!/usr/bin/env bash
# make bench: builds the tiny guest and runs bench/vmctl_bench against it.
set -euo pipefail
build=${1:-build}
runs=${BENCH_RUNS:-7}
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/tests/guest/build-tiny-guest.sh" "$build/guest-cache" >/dev/null
data=$(mktemp -d)
trap 'rm -rf "$data"' EXIT
VMCTL_ACCEL=${VMCTL_ACCEL:-tcg} "$build/bin/vmctl_bench" "$build/bin/vmctl" "$build/guest-cache" "$data" "$runs"
