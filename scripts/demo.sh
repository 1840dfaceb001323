#!/usr/bin/env bash
# make demo: boots two real VMs (the tiny test guest, built from Debian
# packages) with QEMU, drives them through their lifecycle and removes them.
# The data dir is a throwaway folder, so nothing of yours is touched.
set -euo pipefail

vmctl=${1:-build/bin/vmctl}
build=$(dirname "$(dirname "$vmctl")")
root=$(cd "$(dirname "$0")/.." && pwd)
data=$(mktemp -d)
export VMCTL_DATA_DIR=$data
# TCG works everywhere, including machines whose /dev/kvm opens but cannot
# run nested guests; export VMCTL_ACCEL=auto to use KVM where it works.
export VMCTL_ACCEL=${VMCTL_ACCEL:-tcg}

cleanup() {
  for vm in web db; do "$vmctl" -q destroy "$vm" 2>/dev/null || true; done
  rm -rf "$data"
}
trap cleanup EXIT

run() {
  printf '\n$ vmctl %s\n' "$*"
  "$vmctl" "$@"
}

echo "== building the tiny guest (cached after the first run)"
"$root/tests/guest/build-tiny-guest.sh" "$build/guest-cache"
guest=$build/guest-cache
boot=(--image "$guest/disk.qcow2" --kernel "$guest/vmlinuz" --initrd "$guest/initrd.img"
      --append "console=ttyS0 panic=-1" --memory 256)

echo "== vmctl demo: real VMs on QEMU (accel: $VMCTL_ACCEL), data dir $data"
run create --name web "${boot[@]}" --vcpus 2 --start --wait
run create --name db "${boot[@]}"
run start db --wait
run list
run ssh web -- uname -sr          # OpenSSH with the VM's own key and pinned host key
run ssh db -- sudo -n id -u
echo "hello from the host" >"$data/hello.txt"
run cp "$data/hello.txt" web:/tmp/hello.txt
run ssh web -- cat /tmp/hello.txt
run ssh-config web
run log web -n 8
run suspend web
run status web
run resume web
run stop web          # ACPI power button: the guest shuts itself down
run log web -n 2
run stop db --force   # no ACPI: straight to SIGTERM
run list
printf '\n$ vmctl resume web   # refused: web is stopped\n'
"$vmctl" resume web || echo "(exit status $?)"
run destroy web
run destroy db
run list
echo
echo "demo finished: two VMs booted, were logged into over SSH, driven through their lifecycle and removed."
