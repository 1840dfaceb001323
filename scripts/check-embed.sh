#!/usr/bin/env bash
# Installs the library into a temporary prefix, builds examples/embed against
# it with CMake (find_package) and with pkg-config, and runs both.
set -euo pipefail

build=${1:-build}
root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

cmake --install "$build" --prefix "$work/prefix" >/dev/null

cmake -S "$root/examples/embed" -B "$work/embed" -G Ninja -DCMAKE_PREFIX_PATH="$work/prefix" >/dev/null
cmake --build "$work/embed" >/dev/null
out=$(LD_LIBRARY_PATH="$work/prefix/lib" "$work/embed/embed" "$work/data")
echo "$out"
grep -q '^destroy  -> destroyed$' <<<"$out"

libdir=$(ls -d "$work"/prefix/lib* | head -n1)
PKG_CONFIG_PATH="$libdir/pkgconfig" pkg-config --exists vm-manager
# shellcheck disable=SC2046 # pkg-config output is a list of flags
g++ -o "$work/embed-pc" "$root/examples/embed/main.cpp" \
  $(PKG_CONFIG_PATH="$libdir/pkgconfig" pkg-config --cflags --libs vm-manager)
LD_LIBRARY_PATH="$libdir" "$work/embed-pc" "$work/data-pc" | grep -q '^destroy  -> destroyed$'
echo "check-embed: find_package and pkg-config builds both work"
