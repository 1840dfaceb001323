#!/usr/bin/env bash
# Installs the library into a temporary prefix, builds examples/embed against
# it with CMake (find_package) and with pkg-config, and runs both: the first
# also boots the tiny test guest under QEMU, waits for SSH and runs
# `uname -a` in it.
set -euo pipefail

build=${1:-build}
root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
# A QEMU of ours that outlived a failed run is found by its private work dir.
trap 'pkill -9 -f -- "$work/data/vms/" || true; rm -rf "$work"' EXIT

guest="$build/guest-cache"
"$root/tests/guest/build-tiny-guest.sh" "$guest" >/dev/null
guest=$(cd "$guest" && pwd)

cmake --install "$build" --prefix "$work/prefix" >/dev/null

cmake -S "$root/examples/embed" -B "$work/embed" -G Ninja -DCMAKE_PREFIX_PATH="$work/prefix" >/dev/null
cmake --build "$work/embed" >/dev/null
out=$(VMCTL_ACCEL=${VMCTL_ACCEL:-tcg} LD_LIBRARY_PATH="$work/prefix/lib" "$work/embed/embed" "$work/data" "$guest")
echo "$out"
grep -q '^destroy  -> destroyed$' <<<"$out"
grep -q '^uname (exit 0): Linux ' <<<"$out"
grep -q '^destroyed embedded-qemu$' <<<"$out"

libdir=$(ls -d "$work"/prefix/lib* | head -n1)
PKG_CONFIG_PATH="$libdir/pkgconfig" pkg-config --exists vm-manager
# shellcheck disable=SC2046 # pkg-config output is a list of flags
g++ -o "$work/embed-pc" "$root/examples/embed/main.cpp" \
  $(PKG_CONFIG_PATH="$libdir/pkgconfig" pkg-config --cflags --libs vm-manager)
LD_LIBRARY_PATH="$libdir" "$work/embed-pc" "$work/data-pc" | grep -q '^destroy  -> destroyed$'
echo "check-embed: find_package and pkg-config builds both work"
