#!/usr/bin/env bash
# check-one-change-path.sh SRC_DIR — the lock → load → act → save sequence
# lives in VmManager only (src/manager/), on top of the store (src/store/).
# Fails when any other source takes a VM's lock or saves or creates a record
# itself (`lock(`, `save(`, `create(` called on a store: store., store_.,
# store()., store->).
set -uo pipefail
src=${1:?usage: check-one-change-path.sh SRC_DIR}
hits=$(grep -rnE '\bstore\w*(\(\))?(\.|->)(lock\w*|save|create)\(' "$src" --include='*.cpp' --include='*.hpp' \
       | grep -vE "^$src/(manager|store)/")
if [[ -n $hits ]]; then
  echo "a VM is changed outside VmManager; go through it (src/manager/manager.cpp) instead:"
  echo "$hits"
  exit 1
fi
echo "check-one-change-path: only src/manager/ locks, saves and creates VM records"
