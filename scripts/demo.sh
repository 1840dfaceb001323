#!/usr/bin/env bash
# make demo: brings up the three VMs of examples/VMFile.kdl (the tiny test
# guest, built from Debian packages) with QEMU, logs into each over SSH,
# drives one through its lifecycle and tears everything down.
# The data dir is a throwaway folder, so nothing of yours is touched.
set -euo pipefail

vmctl=${1:-build/bin/vmctl}
root=$(cd "$(dirname "$0")/.." && pwd)
vmfile=$root/examples/VMFile.kdl
data=$(mktemp -d)
export VMCTL_DATA_DIR=$data
# TCG works everywhere, including machines whose /dev/kvm opens but cannot
# run nested guests; export VMCTL_ACCEL=auto to use KVM where it works.
export VMCTL_ACCEL=${VMCTL_ACCEL:-tcg}

cleanup() {
  "$vmctl" -q down --destroy --file "$vmfile" >/dev/null 2>&1 || true
  rm -rf "$data"
}
trap cleanup EXIT

run() {
  printf '\n$ vmctl %s\n' "$*"
  "$vmctl" "$@"
}

echo "== building the tiny guest (cached after the first run)"
# examples/VMFile.kdl names it by this path.
"$root/tests/guest/build-tiny-guest.sh" "$root/build/guest-cache"

# The db VM's shared folder (examples/VMFile.kdl: mount "../build/demo-shared").
mkdir -p "$root/build/demo-shared"
rm -f "$root/build/demo-shared/from-host.txt"

echo "== vmctl demo: real VMs on QEMU (accel: $VMCTL_ACCEL), data dir $data"
run validate --file "$vmfile"
run up --file "$vmfile"          # three VMs at once: create, start, wait for SSH, provision
run list
run ssh web -- cat /tmp/www/index.html
run port list web
# The page again, from the host this time: web's `forward host=18080 guest=8000`.
printf '\n$ curl http://127.0.0.1:18080/   # (bash /dev/tcp here, in case curl is missing)\n'
exec 3<>/dev/tcp/127.0.0.1/18080
printf 'GET / HTTP/1.0\r\nHost: web\r\n\r\n' >&3
sed -n '/^\r*$/,$p' <&3 | tail -n +2   # the body, after the headers
exec 3<&-
run ssh db -- cat /tmp/db/README
run ssh cache -- hostname
echo "written on the host at $(date -u +%H:%M:%S)" >"$root/build/demo-shared/from-host.txt"
run ssh db -- cat /srv/shared/from-host.txt   # a shared folder (virtiofs), read in the guest
echo "hello from the host" >"$data/hello.txt"
run cp "$data/hello.txt" web:/tmp/hello.txt
run ssh web -- cat /tmp/hello.txt
run snapshot create web before-rm   # running: its disks, RAM and device state
run ssh web -- rm /tmp/hello.txt
run snapshot restore web before-rm  # the guest resumes where it was
run ssh web -- cat /tmp/hello.txt   # the file is back
run snapshot list web
mkdir -p "$data/site/css" "$data/site/empty"
echo "body { color: teal }" >"$data/site/css/main.css"
echo "<h1>from the host</h1>" >"$data/site/index.html"
ln -s css/main.css "$data/site/style.css"
run cp -r "$data/site" web:/tmp/site     # a folder: modes kept, symlinks copied as symlinks
run ssh web -- ls -lR /tmp/site
printf '\n$ vmctl completion bash | head -n 12\n'
"$vmctl" completion bash >"$data/vmctl.bash"   # a file: no SIGPIPE under pipefail
head -n 12 "$data/vmctl.bash"
run up --file "$vmfile"          # nothing to do: all three run
run suspend web
run status web
run resume web
run stop cache --force           # no ACPI: straight to SIGTERM
run down --file "$vmfile"        # ACPI power button for the others
run list
printf '\n$ vmctl resume web   # refused: web is stopped\n'
"$vmctl" resume web || echo "(exit status $?)"
run down --destroy --file "$vmfile"
run list
echo
echo "demo finished: three VMs brought up from a VMFile, logged into over SSH, served a page to the host through a published port, read a host file through a shared folder, took a folder by cp -r, went back to a snapshot, driven through their lifecycle and removed."
