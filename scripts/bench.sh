#!/usr/bin/env bash
# make bench: builds the tiny guest and runs bench/vmctl_bench against it.
# BENCH_RUNS sets the runs per median; BENCH_ONLY=start,stop runs only those
# groups (version, qmp, startup, ssh, start, stop, list, timeouts, mounts, snapshots,
# libvirt: vmctl against virsh on a libvirtd the bench starts, as the tests do).
set -euo pipefail
build=${1:-build}
runs=${BENCH_RUNS:-7}
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/tests/guest/build-tiny-guest.sh" "$build/guest-cache" >/dev/null
data=$(mktemp -d)
trap 'rm -rf "$data"' EXIT
only=${BENCH_ONLY:-}
status=0
if [[ "$only" != "libvirt" ]]; then
  VMCTL_ACCEL=${VMCTL_ACCEL:-tcg} "$build/bin/vmctl_bench" "$build/bin/vmctl" "$build/guest-cache" "$data/qemu" "$runs" "$only" || status=1
fi
if [[ -z "$only" || ",$only," == *",libvirt,"* ]]; then
  [[ -x "$build/bin/libvirt_bench" ]] || { echo "bench: $build/bin/libvirt_bench is not built (VMCTL_WITH_LIBVIRT=OFF?)" >&2; exit 1; }
  VMCTL_ACCEL=${VMCTL_ACCEL:-tcg} "$build/bin/libvirt_bench" "$build/bin/vmctl" "$build/guest-cache" "$data/libvirt" "$runs" || status=1
fi
exit $status
