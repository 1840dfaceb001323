#!/usr/bin/env bash
# make bench: builds the tiny guest and runs bench/vmctl_bench against it.
# BENCH_RUNS sets the runs per median; BENCH_ONLY=start,stop runs only those
# groups (version, qmp, startup, ssh, start, stop, list, timeouts, mounts, snapshots).
set -euo pipefail
build=${1:-build}
runs=${BENCH_RUNS:-7}
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/tests/guest/build-tiny-guest.sh" "$build/guest-cache" >/dev/null
data=$(mktemp -d)
trap 'rm -rf "$data"' EXIT
VMCTL_ACCEL=${VMCTL_ACCEL:-tcg} "$build/bin/vmctl_bench" "$build/bin/vmctl" "$build/guest-cache" "$data" "$runs" "${BENCH_ONLY:-}"
