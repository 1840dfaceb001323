#!/usr/bin/env bash
# check-layers.sh BUILD_DIR PROBE… — builds layering probes (tests/layers/).
# A plain PROBE must compile; !PROBE=HEADER must fail, and fail because
# HEADER is not on its include path (not for some unrelated reason).
set -uo pipefail
build=$1
shift
status=0
for spec in "$@"; do
  if [[ $spec == !* ]]; then
    probe=${spec#!}
    header=${probe#*=}
    probe=${probe%%=*}
    if out=$(cmake --build "$build" --target "$probe" 2>&1); then
      echo "FAIL: $probe compiled, but its layer must not see $header"
      status=1
    elif grep -q "$header: No such file or directory" <<<"$out"; then
      echo "ok: $probe cannot see $header"
    else
      echo "FAIL: $probe failed for another reason than $header:"
      echo "$out" | tail -n 20
      status=1
    fi
  else
    if out=$(cmake --build "$build" --target "$spec" 2>&1); then
      echo "ok: $spec compiles"
    else
      echo "FAIL: $spec must compile:"
      echo "$out" | tail -n 20
      status=1
    fi
  fi
done
exit $status
