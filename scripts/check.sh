#!/usr/bin/env bash
# make check: runs each step (a make target) in order, stops at the first
# that fails, and prints how long each took and the total, also on failure.
# Usage: scripts/check.sh STEP...   (MAKE names the make to run the steps with)
set -uo pipefail

make_cmd=${MAKE:-make}
steps=()
seconds=()
failed=""
start=$(date +%s)

report() {
  local total=$(( $(date +%s) - start ))
  echo
  echo "make check: time per step"
  for i in "${!steps[@]}"; do
    printf '  %-20s %4dm%02ds\n' "${steps[$i]}" $(( seconds[i] / 60 )) $(( seconds[i] % 60 ))
  done
  printf '  %-20s %4dm%02ds\n' "total" $(( total / 60 )) $(( total % 60 ))
  if [[ -n "$failed" ]]; then
    echo "make check: FAILED in step $failed"
  else
    echo "make check: passed"
  fi
}

for step in "$@"; do
  step_start=$(date +%s)
  "$make_cmd" --no-print-directory "$step"
  rc=$?
  steps+=("$step")
  seconds+=($(( $(date +%s) - step_start )))
  if [[ $rc -ne 0 ]]; then
    failed=$step
    report
    exit "$rc"
  fi
done
report
