#!/usr/bin/env bash
# make demo: a tour of vmctl in a throwaway data dir.
# For now this runs on the noop backend, which keeps an honest lifecycle but
# starts no real VM; later issues bring up real QEMU guests here.
set -euo pipefail

vmctl=${1:-build/bin/vmctl}
data=$(mktemp -d)
trap 'rm -rf "$data"' EXIT
export VMCTL_DATA_DIR=$data

run() {
  printf '\n$ vmctl %s\n' "$*"
  "$vmctl" "$@"
}

echo "vmctl demo — NOTE: this uses the noop backend: no real VM is started."
echo "data dir: $data"
run create --name web --backend noop --vcpus 2 --memory 2048 --start
run create --name db --backend noop --memory 4096
run list
run suspend web
run status web
run resume web
run start db
run list --json
run stop web
run stop db --force
printf '\n$ vmctl resume web   # refused: web is stopped\n'
"$vmctl" resume web || echo "(exit status $?)"
run destroy web
run destroy db
run list
echo
echo "demo finished: every VM was created, driven through its lifecycle and destroyed."
