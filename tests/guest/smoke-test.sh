#!/usr/bin/env bash
# smoke-test.sh - build the tiny guest and check it end to end under QEMU/TCG:
# boot to "TINY-GUEST: ready", ssh (hostname, sudo, cloud-init status --wait),
# sftp, and ACPI power-off via QMP system_powerdown.
#
# Usage: tests/guest/smoke-test.sh [--cache DIR] [--seed-scsi] [--multipart] [--ignore-acpi]
#   --seed-scsi    attach the seed ISO as a virtio-scsi cdrom instead of virtio-blk
#   --multipart    wrap user-data in a multipart MIME archive (base64 part), with
#                  a custom user name and an ed25519 host key in ssh_keys
#   --ignore-acpi  boot with tiny.ignore_acpi=1 and check system_powerdown is ignored
# Needs: qemu-system-x86, openssh-client, xorriso or genisoimage, python3 (QMP).
# Prints "N passed, N failed" at the end; exit status 0 only if all passed.
# (commas inside QEMU arguments are intended; ok() never fails)
# shellcheck disable=SC2054,SC2015
set -euo pipefail

HERE=$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")
CACHE=""
SEED_SCSI=0
MULTIPART=0
IGNORE_ACPI=0
while [ $# -gt 0 ]; do
    case "$1" in
        --cache) CACHE=$2; shift ;;
        --seed-scsi) SEED_SCSI=1 ;;
        --multipart) MULTIPART=1 ;;
        --ignore-acpi) IGNORE_ACPI=1 ;;
        *) echo "usage: $0 [--cache DIR] [--seed-scsi] [--multipart] [--ignore-acpi]" >&2; exit 2 ;;
    esac
    shift
done
CACHE=${CACHE:-$HERE/../../build/guest-cache}

"$HERE/build-tiny-guest.sh" "$CACHE"
CACHE=$(readlink -f "$CACHE")

T=$(mktemp -d "${TMPDIR:-/tmp}/tiny-guest-smoke.XXXXXX")
QEMU_PID=""
cleanup() {
    if [ -n "$QEMU_PID" ] && kill -0 "$QEMU_PID" 2>/dev/null; then
        kill "$QEMU_PID" 2>/dev/null || true
        sleep 0.5
        kill -9 "$QEMU_PID" 2>/dev/null || true
    fi
    rm -rf "$T"
}
trap cleanup EXIT

PASS=0
FAIL=0
ok() { echo "ok: $*"; PASS=$((PASS + 1)); }
bad() { echo "FAIL: $*"; FAIL=$((FAIL + 1)); }

# ---------------------------------------------------------------- seed
ssh-keygen -q -t ed25519 -N '' -C smoke@host -f "$T/key"
mkdir "$T/seed"
printf 'instance-id: iid-smoke-1\nlocal-hostname: tiny1\n' >"$T/seed/meta-data"
LOGIN=vm
if [ "$MULTIPART" = 1 ]; then
    LOGIN=tester
    ssh-keygen -q -t ed25519 -N '' -C host -f "$T/hostkey"
    {
        echo "#cloud-config"
        echo "users:"
        echo "  - name: \"$LOGIN\""
        echo "    sudo: ALL=(ALL) NOPASSWD:ALL"
        echo "    ssh_authorized_keys:"
        echo "      - '$(cat "$T/key.pub")'"
        echo "ssh_keys:"
        echo "  ed25519_private: |"
        sed 's/^/    /' "$T/hostkey"
        echo "  ed25519_public: $(cat "$T/hostkey.pub")"
    } >"$T/cloud-config"
    {
        echo 'Content-Type: multipart/mixed; boundary="==BOUNDARY=="'
        echo 'MIME-Version: 1.0'
        echo
        echo '--==BOUNDARY=='
        echo 'Content-Type: text/cloud-config; charset="us-ascii"'
        echo 'Content-Transfer-Encoding: base64'
        echo
        base64 "$T/cloud-config"
        echo '--==BOUNDARY=='
        echo 'Content-Type: text/x-shellscript'
        echo
        echo '#!/bin/sh'
        echo 'echo hello'
        echo '--==BOUNDARY==--'
    } >"$T/seed/user-data"
else
    {
        echo "#cloud-config"
        echo "ssh_authorized_keys:"
        echo "  - $(cat "$T/key.pub")"
    } >"$T/seed/user-data"
fi
if command -v xorriso >/dev/null; then
    xorriso -as mkisofs -quiet -o "$T/seed.iso" -V cidata -J -r "$T/seed" 2>/dev/null
else
    genisoimage -quiet -o "$T/seed.iso" -V cidata -J -r "$T/seed"
fi
qemu-img create -q -f qcow2 -b "$CACHE/disk.qcow2" -F qcow2 "$T/root.qcow2"

# ---------------------------------------------------------------- boot
# A port nobody listens on; another socket may still hold it (an outgoing
# connection's local port), so QEMU's hostfwd bind can fail: boot() then
# tries another port.
pick_port() {
    PORT=""
    for _ in 1 2 3 4 5 6 7 8 9 10; do
        p=$((20000 + RANDOM % 20000))
        if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then PORT=$p; break; fi
    done
    [ -n "$PORT" ] || { echo "no free port" >&2; exit 1; }
}

APPEND="console=ttyS0 panic=-1"
[ "$IGNORE_ACPI" = 1 ] && APPEND="$APPEND tiny.ignore_acpi=1"
if [ "$SEED_SCSI" = 1 ]; then
    SEED_ARGS=(-device virtio-scsi-pci,id=scsi0 -drive "file=$T/seed.iso,format=raw,if=none,id=seed,readonly=on,media=cdrom"
               -device scsi-cd,bus=scsi0.0,drive=seed)
else
    SEED_ARGS=(-drive "file=$T/seed.iso,format=raw,if=none,id=seed,readonly=on" -device virtio-blk-pci,drive=seed)
fi
# Starts QEMU and waits for the marker, QEMU's exit, or 5 minutes (only a
# hang takes that long: the guest boots in seconds, but TCG on a loaded
# machine is slow). Sets READY, BOOT_MS and QEMU_PID.
boot() {
    QEMU=(qemu-system-x86_64 -machine q35 -accel tcg -cpu max -m 256 -nodefaults -display none -no-reboot
          -kernel "$CACHE/vmlinuz" -initrd "$CACHE/initrd.img" -append "$APPEND"
          -drive "file=$T/root.qcow2,format=qcow2,if=none,id=root" -device virtio-blk-pci,drive=root
          "${SEED_ARGS[@]}"
          -device virtio-rng-pci
          -netdev "user,id=n0,hostfwd=tcp:127.0.0.1:$PORT-:22" -device virtio-net-pci,netdev=n0,mac=52:54:00:12:34:56
          -chardev "socket,id=ser0,path=$T/ser0.sock,server=on,wait=off,logfile=$T/console.log" -serial chardev:ser0
          -qmp "unix:$T/qmp.sock,server=on,wait=off")
    echo "+ ${QEMU[*]}"
    : >"$T/qemu.out"
    rm -f "$T/console.log"
    START=$(date +%s%N)
    "${QEMU[@]}" >"$T/qemu.out" 2>&1 &
    QEMU_PID=$!
    READY=0
    DEADLINE=$(( $(date +%s) + 300 ))
    while [ "$(date +%s)" -lt "$DEADLINE" ]; do
        if grep -q 'TINY-GUEST: ready' "$T/console.log" 2>/dev/null; then READY=1; break; fi
        kill -0 "$QEMU_PID" 2>/dev/null || break
        sleep 0.1
    done
    BOOT_MS=$(( ($(date +%s%N) - START) / 1000000 ))
}

for attempt in 1 2 3; do
    pick_port
    boot
    [ "$READY" = 1 ] && break
    kill -0 "$QEMU_PID" 2>/dev/null && break
    grep -q 'host forwarding rule' "$T/qemu.out" || break
    echo "port $PORT was taken after all (attempt $attempt): $(cat "$T/qemu.out")"
done
if [ "$READY" = 1 ]; then ok "boot to ready in ${BOOT_MS} ms"; else bad "no 'TINY-GUEST: ready' (after ${BOOT_MS} ms)"; fi
if ! kill -0 "$QEMU_PID" 2>/dev/null && [ -s "$T/qemu.out" ]; then
    echo "QEMU exited: $(cat "$T/qemu.out")"
fi
grep 'TINY-GUEST:' "$T/console.log" || true

SSH_OPTS=(-i "$T/key" -o "UserKnownHostsFile=$T/known_hosts" -o StrictHostKeyChecking=accept-new
          -o BatchMode=yes -o ConnectTimeout=20 -o LogLevel=ERROR)
gssh() { ssh "${SSH_OPTS[@]}" -p "$PORT" "$LOGIN@127.0.0.1" "$@"; }

if [ "$READY" = 1 ]; then
    h=$(gssh hostname 2>&1) || true
    [ "$h" = tiny1 ] && ok "ssh hostname = tiny1" || bad "ssh hostname: '$h'"
    gssh sudo true && ok "sudo true" || bad "sudo true"
    u=$(gssh sudo id -u 2>&1) || true
    [ "$u" = 0 ] && ok "sudo id -u = 0" || bad "sudo id -u: '$u'"
    s=$(gssh cloud-init status --wait 2>&1) || true
    [ "$s" = "status: done" ] && ok "cloud-init status --wait" || bad "cloud-init status: '$s'"
    r=$(ssh "${SSH_OPTS[@]}" -p "$PORT" root@127.0.0.1 id -un 2>&1) || true
    [ "$r" = root ] && ok "root login" || bad "root login: '$r'"
    head -c 100000 /dev/urandom >"$T/blob"
    printf 'put %s /tmp/blob\nget /tmp/blob %s\n' "$T/blob" "$T/blob.back" >"$T/sftp.batch"
    if sftp "${SSH_OPTS[@]}" -P "$PORT" -b "$T/sftp.batch" "$LOGIN@127.0.0.1" >/dev/null && cmp -s "$T/blob" "$T/blob.back"; then
        ok "sftp put/get"
    else
        bad "sftp put/get"
    fi
    if [ "$MULTIPART" = 1 ]; then
        want=$(cut -d' ' -f2 "$T/hostkey.pub")
        got=$(grep -v '^#' "$T/known_hosts" | awk '{print $3}' | head -n1)
        [ "$want" = "$got" ] && ok "host key from user-data ssh_keys" || bad "host key mismatch"
    fi
fi

# ---------------------------------------------------------------- ACPI power-off
python3 - "$T/qmp.sock" <<'EOF'
import json, socket, sys
s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); f = s.makefile("rw")
def reply():
    while True:
        m = json.loads(f.readline())
        if "event" not in m:
            return m
reply()
for cmd in ("qmp_capabilities", "system_powerdown"):
    f.write(json.dumps({"execute": cmd}) + "\n"); f.flush(); reply()
EOF
# Powering off is waited for up to 2 minutes (a hang); an ignored power
# button is given 5 s to (wrongly) power off.
T0=$(date +%s%N)
LIMIT_MS=120000
[ "$IGNORE_ACPI" = 1 ] && LIMIT_MS=5000
while kill -0 "$QEMU_PID" 2>/dev/null && [ $(( ($(date +%s%N) - T0) / 1000000 )) -lt "$LIMIT_MS" ]; do sleep 0.1; done
OFF_MS=$(( ($(date +%s%N) - T0) / 1000000 ))
if [ "$IGNORE_ACPI" = 1 ]; then
    if kill -0 "$QEMU_PID" 2>/dev/null; then ok "system_powerdown ignored (tiny.ignore_acpi=1)"; else bad "guest powered off despite tiny.ignore_acpi=1"; fi
else
    if kill -0 "$QEMU_PID" 2>/dev/null; then
        bad "QEMU still running ${OFF_MS} ms after system_powerdown"
    else
        ok "QEMU exited ${OFF_MS} ms after system_powerdown"
        grep -q 'TINY-GUEST: powering off' "$T/console.log" && ok "powering off marker" || bad "no powering off marker"
    fi
fi
kill "$QEMU_PID" 2>/dev/null || true
wait "$QEMU_PID" 2>/dev/null || true

echo "$PASS passed, $FAIL failed"
[ "$FAIL" = 0 ]
