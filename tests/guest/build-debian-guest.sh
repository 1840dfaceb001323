#!/usr/bin/env bash
# build-debian-guest.sh - build a real Debian 12 cloud guest for vmctl's end-to-end tests.
#
# Usage: tests/guest/build-debian-guest.sh [--force] [CACHE_DIR]
#        tests/guest/build-debian-guest.sh --print-host-packages
#
#   CACHE_DIR defaults to <repo>/build/guest-cache-debian. Everything this script
#   writes goes below CACHE_DIR (plus apt's own files when it installs a missing
#   host tool). Must run as root (debootstrap, chroot). Outputs:
#     CACHE_DIR/vmlinuz      Debian cloud kernel (linux-image-<ver>-cloud-amd64)
#     CACHE_DIR/initrd.img   its initramfs-tools initrd (virtio_pci, virtio_blk,
#                            virtio_scsi, sd_mod; ext4 is built into the kernel)
#     CACHE_DIR/disk.qcow2   a 2 GiB GPT disk that boots itself like a cloud image
#                            (tests/guest/make-boot-disk.sh): GRUB for BIOS and
#                            UEFI, ext4 root (label "root") as the last partition,
#                            grown by cloud-init's growpart + resizefs to the disk.
#                            Treat it as a read-only base image (use an overlay or
#                            a copy per VM).
#     CACHE_DIR/manifest.txt kernel command line, kernel version, package versions
#   Kernel command line (GRUB's):  root=UUID=<root fs uuid> rw console=ttyS0
#   (also for booting vmlinuz + initrd.img directly; the NoCloud seed is any
#   block device labelled "cidata", e.g. a second, read-only virtio-blk disk)
#   Re-running is cheap: when the outputs exist and the SHA-256 of this script
#   and of make-boot-disk.sh matches CACHE_DIR/.stamp, it exits at once (--force or DEBIAN_GUEST_FORCE=1
#   rebuilds; newer Debian packages are only picked up then). Concurrent runs on
#   one CACHE_DIR serialise on CACHE_DIR/.lock. Downloaded .debs are kept in
#   CACHE_DIR/debs. The apt mirror is the host's Debian one (from
#   /etc/apt/sources.list*), overridable with DEBIAN_GUEST_MIRROR=URL.
#
# Host packages this script needs (for `make deps`):
HOST_PACKAGES="debootstrap e2fsprogs qemu-utils util-linux coreutils findutils fdisk dosfstools mtools grub-pc-bin grub-efi-amd64-bin"
#
# Guest packages (debootstrap --variant=minbase --include=..., no Recommends):
GUEST_PACKAGES="systemd-sysv udev dbus kmod iproute2 netbase e2fsprogs linux-image-cloud-amd64 initramfs-tools cloud-init python3-cffi-backend openssh-server sudo cloud-guest-utils"
#   python3-cffi-backend must be named explicitly or cloud-init's dependencies
#   (python3-cryptography via python3-oauthlib/jwt) fail to configure. dbus is
#   there for systemd-logind (ACPI power button -> clean shutdown) and
#   hostnamectl/timedatectl; iproute2 + systemd-networkd for cloud-init's
#   networkd renderer (DHCP on the first NIC by default). cloud-guest-utils is
#   growpart, which cloud-init runs to grow the root partition to the disk.
#
# Runtime (testing) packages, not needed to build: qemu-system-x86,
# openssh-client, xorriso (or genisoimage) for the cidata seed ISO.

set -euo pipefail
PATH=$PATH:/usr/sbin:/sbin

KERNEL_ARGS="rw console=ttyS0"   # after root=UUID=..., which make-boot-disk.sh adds
DISK_SIZE_MIB=2048
SUITE=bookworm

die() { echo "build-debian-guest: error: $*" >&2; exit 1; }
info() { echo "build-debian-guest: $*" >&2; }

SCRIPT_PATH=$(readlink -f "${BASH_SOURCE[0]}")
GUEST_SRC_DIR=$(dirname "$SCRIPT_PATH")
BOOT_DISK_BUILDER="$GUEST_SRC_DIR/make-boot-disk.sh"
REPO_DIR=$(readlink -f "$GUEST_SRC_DIR/../..")

FORCE=${DEBIAN_GUEST_FORCE:-0}
CACHE_DIR=""
while [ $# -gt 0 ]; do
    case "$1" in
        --force) FORCE=1 ;;
        --print-host-packages) echo "$HOST_PACKAGES"; exit 0 ;;
        -h|--help) sed -n '2,/^set -euo/p' "$SCRIPT_PATH" | sed '$d;s/^# \{0,1\}//'; exit 0 ;;
        -*) die "unknown option: $1" ;;
        *) [ -z "$CACHE_DIR" ] || die "only one CACHE_DIR allowed"; CACHE_DIR=$1 ;;
    esac
    shift
done
CACHE_DIR=${CACHE_DIR:-$REPO_DIR/build/guest-cache-debian}

OUTPUTS="vmlinuz initrd.img disk.qcow2 manifest.txt"
HASH=$(cat "$SCRIPT_PATH" "$BOOT_DISK_BUILDER" | sha256sum | cut -d' ' -f1)

outputs_fresh() {
    local f
    for f in $OUTPUTS; do
        [ -s "$CACHE_DIR/$f" ] || return 1
    done
    [ -f "$CACHE_DIR/.stamp" ] && [ "$(cat "$CACHE_DIR/.stamp")" = "$HASH" ]
}

if [ "$FORCE" != 1 ] && outputs_fresh; then
    info "up to date: $CACHE_DIR"
    exit 0
fi

[ "$(id -u)" = 0 ] || die "must run as root (debootstrap, chroot, mount)"
mkdir -p "$CACHE_DIR"
CACHE_DIR=$(readlink -f "$CACHE_DIR")

# Serialise concurrent builds into the same cache dir.
exec 9>"$CACHE_DIR/.lock"
flock 9
if [ "$FORCE" != 1 ] && outputs_fresh; then
    info "up to date (built concurrently): $CACHE_DIR"
    exit 0
fi

START_TIME=$(date +%s)

# ---------------------------------------------------------------- host tools
APT_OPTS=(-o DPkg::Lock::Timeout=600 -q)
ensure_host_tools() {
    local missing=() pair cmd pkg
    for pair in debootstrap:debootstrap mke2fs:e2fsprogs qemu-img:qemu-utils flock:util-linux \
                chroot:coreutils sha256sum:coreutils find:findutils \
                sfdisk:fdisk mkfs.vfat:dosfstools mcopy:mtools; do
        cmd=${pair%%:*}
        pkg=${pair#*:}
        command -v "$cmd" >/dev/null 2>&1 || missing+=("$pkg")
    done
    [ -f /usr/lib/grub/i386-pc/boot.img ] || missing+=(grub-pc-bin)
    [ -f /usr/lib/grub/x86_64-efi/linux.mod ] || missing+=(grub-efi-amd64-bin)
    [ ${#missing[@]} -eq 0 ] && return 0
    info "installing host packages: ${missing[*]}"
    DEBIAN_FRONTEND=noninteractive apt-get "${APT_OPTS[@]}" install -y --no-install-recommends "${missing[@]}" >&2 \
        || { apt-get "${APT_OPTS[@]}" update >&2 && \
             DEBIAN_FRONTEND=noninteractive apt-get "${APT_OPTS[@]}" install -y --no-install-recommends "${missing[@]}" >&2; }
}
ensure_host_tools

# mke2fs -d needs e2fsprogs >= 1.43 (bookworm has 1.47).
MKE2FS_VERSION=$(mke2fs -V 2>&1 || true)
grep -Eq '^mke2fs 1\.(4[3-9]|[5-9][0-9])' <<<"$MKE2FS_VERSION" || die "mke2fs too old for -d: $MKE2FS_VERSION"

# The host's Debian mirror: first deb URI serving $SUITE (deb822 or one-line format).
host_mirror() {
    local f uri
    for f in /etc/apt/sources.list.d/*.sources; do
        [ -f "$f" ] || continue
        # stanza-wise: URIs + Suites containing exactly $SUITE
        uri=$(awk -v suite="$SUITE" '
            BEGIN { RS=""; FS="\n" }
            {
                uris=""; ok=0; deb=0
                for (i = 1; i <= NF; i++) {
                    if ($i ~ /^URIs:/)   { uris=$i; sub(/^URIs:[ \t]*/, "", uris) }
                    if ($i ~ /^Types:/ && $i ~ /(^|[ \t:])deb([ \t]|$)/) deb=1
                    if ($i ~ /^Suites:/) { n=split($i, s, /[ \t]+/); for (j = 2; j <= n; j++) if (s[j] == suite) ok=1 }
                    if ($i ~ /^Enabled:[ \t]*no/) ok=0
                }
                if (ok && deb && uris != "") { split(uris, u, /[ \t]+/); print u[1]; exit }
            }' "$f")
        [ -n "$uri" ] && { echo "$uri"; return; }
    done
    for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
        [ -f "$f" ] || continue
        uri=$(sed -n "s/^deb[[:space:]]\+\(\[[^]]*\][[:space:]]\+\)\{0,1\}\([^[:space:]]\+\)[[:space:]]\+${SUITE}[[:space:]].*/\2/p" "$f" | head -n1)
        [ -n "$uri" ] && { echo "$uri"; return; }
    done
    echo "http://deb.debian.org/debian"
}
MIRROR=${DEBIAN_GUEST_MIRROR:-$(host_mirror)}
info "mirror: $MIRROR"

# ---------------------------------------------------------------- work dir
rm -rf --one-file-system "$CACHE_DIR"/.work.*   # leftovers of interrupted runs (we hold the lock)
WORK=$(mktemp -d "$CACHE_DIR/.work.XXXXXX")
ROOT="$WORK/root"
unmount_below() {   # unmount everything mounted below $1, deepest first
    local m
    awk -v w="$1/" 'index($2, w) == 1 { print $2 }' /proc/mounts | sort -r | while read -r m; do
        umount "$m" 2>/dev/null || umount -l "$m" || true
    done
}
cleanup() {
    unmount_below "$WORK"
    rm -rf --one-file-system "$WORK"
}
trap cleanup EXIT
mkdir -p "$ROOT/etc/dpkg/dpkg.cfg.d" "$CACHE_DIR/debs"

# No docs/man pages/translations for anything dpkg installs in the second stage
# (and for later installs in the guest); copyright files are kept.
cat >"$ROOT/etc/dpkg/dpkg.cfg.d/01-vmctl-nodoc" <<'EOF'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/lintian/*
path-exclude /usr/share/locale/*
path-include /usr/share/locale/locale.alias
EOF

# ---------------------------------------------------------------- debootstrap
info "debootstrap $SUITE (amd64, minbase + ${GUEST_PACKAGES// /,})"
if ! debootstrap --arch=amd64 --variant=minbase --merged-usr \
        --include="${GUEST_PACKAGES// /,}" --cache-dir="$CACHE_DIR/debs" \
        "$SUITE" "$ROOT" "$MIRROR" >"$WORK/debootstrap.out" 2>&1; then
    tail -n 30 "$WORK/debootstrap.out" >&2
    [ -f "$ROOT/debootstrap/debootstrap.log" ] && tail -n 30 "$ROOT/debootstrap/debootstrap.log" >&2
    die "debootstrap failed"
fi
unmount_below "$ROOT"

# Drop cached .debs that this build did not use (older versions).
find "$CACHE_DIR/debs" -maxdepth 1 -name '*.deb' -printf '%f\n' | while read -r deb; do
    pkg=${deb%%_*}
    ver=$(dpkg-query --admindir="$ROOT/var/lib/dpkg" -W -f '${Version}' "$pkg" 2>/dev/null || true)
    ver=${ver//:/%3a}
    case "$deb" in
        "${pkg}_${ver}_amd64.deb"|"${pkg}_${ver}_all.deb") [ -n "$ver" ] && continue ;;
    esac
    rm -f "$CACHE_DIR/debs/$deb"
done

KVER=$(find "$ROOT/boot" -maxdepth 1 -name 'vmlinuz-*-cloud-amd64' -printf '%f\n' | sed 's/^vmlinuz-//' | sort -V | tail -n1)
[ -n "$KVER" ] || die "no cloud kernel in $ROOT/boot"
info "kernel: $KVER"
for m in virtio_pci virtio_blk virtio_net isofs; do
    [ -n "$(find "$ROOT/lib/modules/$KVER/kernel" -name "$m.ko*" -print -quit)" ] \
        || grep -q "/$m.ko" "$ROOT/lib/modules/$KVER/modules.builtin" \
        || die "kernel $KVER has no $m"
done
grep -q '/ext4.ko' "$ROOT/lib/modules/$KVER/modules.builtin" \
    || [ -n "$(find "$ROOT/lib/modules/$KVER/kernel" -name 'ext4.ko*' -print -quit)" ] \
    || die "kernel $KVER has no ext4"

# ---------------------------------------------------------------- guest configuration
# The root filesystem is found by its UUID, as on cloud images: device names
# depend on the bus the disk is on.
ROOT_UUID=$(cat /proc/sys/kernel/random/uuid)
KERNEL_CMDLINE="root=UUID=$ROOT_UUID $KERNEL_ARGS"
cat >"$ROOT/etc/fstab" <<EOF
# <file system> <mount point> <type> <options> <dump> <pass>
UUID=$ROOT_UUID /             ext4   rw,errors=remount-ro 0 1
EOF
echo debian >"$ROOT/etc/hostname"
printf '127.0.0.1\tlocalhost\n::1\t\tlocalhost ip6-localhost ip6-loopback\n' >"$ROOT/etc/hosts"

# apt sources for later use inside the guest (the guest never needs them in tests)
cat >"$ROOT/etc/apt/sources.list" <<EOF
deb $MIRROR $SUITE main
deb $MIRROR $SUITE-updates main
deb http://deb.debian.org/debian-security $SUITE-security main
EOF

# No root password (locked); logins only with SSH keys injected by cloud-init.
chroot "$ROOT" usermod -p '*' root

# Small initramfs: just what is needed to find /dev/vda (ext4 is built in).
cat >"$ROOT/etc/initramfs-tools/conf.d/vmctl.conf" <<'EOF'
MODULES=list
COMPRESS=gzip
EOF
cat >>"$ROOT/etc/initramfs-tools/modules" <<'EOF'
virtio_pci
virtio_blk
virtio_scsi
sd_mod
EOF

# cloud-init: NoCloud only, networkd renderer, no slow/unneeded modules.
cat >"$ROOT/etc/cloud/cloud.cfg.d/90-vmctl.cfg" <<'EOF'
# vmctl end-to-end test guest (tests/guest/build-debian-guest.sh)
datasource_list: [ NoCloud, None ]
datasource:
  NoCloud:
    fs_label: cidata
system_info:
  network:
    renderers: [ networkd ]
manage_etc_hosts: localhost
# rsa host keys are slow to make under TCG; injected ssh_keys are used as they are
ssh_genkeytypes: [ ed25519, ecdsa ]
# the root partition is the disk's last: growpart grows it to a larger disk,
# then resizefs grows ext4 into it
growpart:
  mode: auto
  devices: [ "/" ]
package_update: false
package_upgrade: false
cloud_init_modules:
 - seed_random
 - bootcmd
 - write-files
 - growpart
 - resizefs
 - disk_setup
 - mounts
 - set_hostname
 - update_hostname
 - update_etc_hosts
 - users-groups
 - ssh
cloud_config_modules:
 - set-passwords
 - timezone
 - runcmd
cloud_final_modules:
 - write-files-deferred
 - scripts-vendor
 - scripts-per-once
 - scripts-per-boot
 - scripts-per-instance
 - scripts-user
 - ssh-authkey-fingerprints
 - keys-to-console
 - final-message
 - power-state-change
EOF

# systemd: networkd for the network config cloud-init writes (DHCP fallback on
# the first NIC); mask units that only slow a test VM's boot.
SYSD="$ROOT/etc/systemd/system"
mkdir -p "$SYSD/multi-user.target.wants" "$SYSD/sockets.target.wants" "$SYSD/network-online.target.wants" \
         "$SYSD/sysinit.target.wants"
ln -sf /lib/systemd/system/systemd-networkd.service "$SYSD/multi-user.target.wants/systemd-networkd.service"
ln -sf /lib/systemd/system/systemd-networkd.service "$SYSD/dbus-org.freedesktop.network1.service"
ln -sf /lib/systemd/system/systemd-networkd.socket "$SYSD/sockets.target.wants/systemd-networkd.socket"
ln -sf /lib/systemd/system/systemd-networkd-wait-online.service \
    "$SYSD/network-online.target.wants/systemd-networkd-wait-online.service"
for u in apt-daily.timer apt-daily-upgrade.timer apt-daily.service apt-daily-upgrade.service \
         e2scrub_all.timer e2scrub_all.service e2scrub_reap.service fstrim.timer \
         dpkg-db-backup.timer man-db.timer man-db.service systemd-timesyncd.service \
         logrotate.timer getty@tty1.service \
         systemd-networkd-wait-online@.service \
         cloud-init-hotplugd.socket; do
    ln -sf /dev/null "$SYSD/$u"
done
# Wait only for one interface to be configured, and not forever.
mkdir -p "$SYSD/systemd-networkd-wait-online.service.d"
cat >"$SYSD/systemd-networkd-wait-online.service.d/vmctl.conf" <<'EOF'
[Service]
ExecStart=
ExecStart=/lib/systemd/systemd-networkd-wait-online --any --timeout=30
EOF
# Journal in memory only: less disk I/O under TCG.
mkdir -p "$ROOT/etc/systemd/journald.conf.d"
printf '[Journal]\nStorage=volatile\n' >"$ROOT/etc/systemd/journald.conf.d/vmctl.conf"

# sshd: no password logins; keep host keys out of the image (cloud-init writes
# the injected ssh_keys, or generates ed25519+ecdsa, before ssh.service starts).
mkdir -p "$ROOT/etc/ssh/sshd_config.d"
cat >"$ROOT/etc/ssh/sshd_config.d/vmctl.conf" <<'EOF'
PasswordAuthentication no
KbdInteractiveAuthentication no
UseDNS no
EOF
rm -f "$ROOT"/etc/ssh/ssh_host_*

# ---------------------------------------------------------------- initramfs
mount -t proc proc "$ROOT/proc"
info "update-initramfs"
chroot "$ROOT" update-initramfs -u -k "$KVER" >"$WORK/initramfs.out" 2>&1 \
    || { cat "$WORK/initramfs.out" >&2; die "update-initramfs failed"; }
# the initramfs must have virtio_pci + virtio_blk (ext4 is built in)
chroot "$ROOT" lsinitramfs "/boot/initrd.img-$KVER" >"$WORK/initrd.list"
for m in virtio_pci virtio_blk; do
    grep -q "/$m.ko" "$WORK/initrd.list" || die "initrd lacks $m"
done

# Boot time under TCG is dominated by cloud-init's Python start-up with a cold
# page cache. vmctl-prefetch.service reads the files cloud-init's imports need
# (list made here, in import order) in parallel with early boot, so the
# cloud-init-local stage finds them cached. Nothing is ordered after it.
mkdir -p "$ROOT/usr/local/share/vmctl-guest"
chroot "$ROOT" python3 - >"$ROOT/usr/local/share/vmctl-guest/prefetch.list" <<'EOF_PY' \
    || die "cannot make the prefetch list"
import importlib, os, sys
mods = ["cloudinit.cmd.main", "cloudinit.config.modules", "cloudinit.config.schema",
        "cloudinit.sources.DataSourceNoCloud", "cloudinit.sources.DataSourceNone",
        "cloudinit.distros.debian", "cloudinit.net.networkd", "cloudinit.net.renderers",
        "cloudinit.net.activators", "cloudinit.cmd.status", "cloudinit.handlers.cloud_config",
        "cloudinit.handlers.shell_script", "cloudinit.handlers.jinja_template"]
mods += ["cloudinit.config.cc_" + m for m in (
    "seed_random bootcmd write_files growpart resizefs disk_setup mounts set_hostname update_hostname "
    "update_etc_hosts users_groups ssh set_passwords timezone runcmd write_files_deferred "
    "scripts_vendor scripts_per_once scripts_per_boot scripts_per_instance scripts_user "
    "ssh_authkey_fingerprints keys_to_console final_message power_state_change").split()]
for m in mods:
    try:
        importlib.import_module(m)
    except Exception as e:  # a missing module only shortens the list
        print("prefetch: cannot import %s: %s" % (m, e), file=sys.stderr)
paths = []
with open("/proc/self/maps") as f:
    for line in f:
        parts = line.split(None, 5)
        if len(parts) == 6 and parts[5].startswith("/"):
            paths.append(parts[5].strip())
for mod in list(sys.modules.values()):
    for attr in ("__cached__", "__file__"):
        p = getattr(mod, attr, None)
        if isinstance(p, str) and not p.endswith(".py") and os.path.isfile(p):
            paths.append(p)
print("\n".join(dict.fromkeys(os.path.realpath(p) for p in paths)))
EOF_PY
[ "$(wc -l <"$ROOT/usr/local/share/vmctl-guest/prefetch.list")" -gt 100 ] || die "prefetch list too short"
cat >"$SYSD/vmctl-prefetch.service" <<'EOF'
[Unit]
Description=Prefetch cloud-init's Python files into the page cache (vmctl test guest)
DefaultDependencies=no

[Service]
Type=simple
ExecStart=/usr/bin/xargs -r -d \n -a /usr/local/share/vmctl-guest/prefetch.list cat
StandardOutput=null
EOF
ln -sf ../vmctl-prefetch.service "$SYSD/sysinit.target.wants/vmctl-prefetch.service"

# ---------------------------------------------------------------- manifest
{
    echo "# Debian 12 end-to-end test guest (tests/guest/build-debian-guest.sh)"
    echo "kernel_cmdline=$KERNEL_CMDLINE"
    echo "kernel_version=$KVER"
    echo "root=UUID=$ROOT_UUID (ext4, label root, partition 3 of a ${DISK_SIZE_MIB} MiB GPT disk)"
    echo "mirror=$MIRROR"
    echo "built=$(date -u +%Y-%m-%dT%H:%M:%SZ)"
    echo "# packages"
    # shellcheck disable=SC2016 # dpkg-query format, not shell
    chroot "$ROOT" dpkg-query -W -f '${binary:Package}=${Version}\n' | LC_ALL=C sort
} >"$WORK/manifest.txt"
umount "$ROOT/proc"

# ---------------------------------------------------------------- trim the root fs
install -m 0644 "$ROOT/boot/vmlinuz-$KVER" "$WORK/vmlinuz"
install -m 0644 "$ROOT/boot/initrd.img-$KVER" "$WORK/initrd.img"
chroot "$ROOT" apt-get clean
rm -rf "$ROOT"/var/lib/apt/lists/* "$ROOT"/var/cache/apt/*.bin "$ROOT"/var/cache/debconf/*-old \
       "$ROOT"/var/lib/dpkg/*-old "$ROOT"/var/log/*.log "$ROOT"/var/log/apt/* "$ROOT/debootstrap" \
       "$ROOT"/usr/share/man/* "$ROOT"/usr/share/info/* "$ROOT"/usr/share/lintian/* \
       "$ROOT"/var/lib/cloud/* "$ROOT"/var/log/cloud-init*
find "$ROOT/usr/share/doc" -mindepth 1 ! -name copyright ! -type d -delete 2>/dev/null || true
find "$ROOT/usr/share/doc" -mindepth 1 -type d -empty -delete 2>/dev/null || true
find "$ROOT/usr/share/locale" -mindepth 1 -maxdepth 1 ! -name locale.alias -exec rm -rf {} + 2>/dev/null || true
# Every boot of a fresh overlay is a new machine.
: >"$ROOT/etc/machine-id"
rm -f "$ROOT/var/lib/dbus/machine-id" "$ROOT/var/lib/systemd/random-seed"
# Device nodes debootstrap made: systemd mounts devtmpfs on /dev anyway.
find "$ROOT/dev" -mindepth 1 -delete

# ---------------------------------------------------------------- disk image
# GRUB boots /boot/vmlinuz and /boot/initrd.img (relative links, as Debian's
# kernel-img.conf link_in_boot makes them).
ln -sfn "vmlinuz-$KVER" "$ROOT/boot/vmlinuz"
ln -sfn "initrd.img-$KVER" "$ROOT/boot/initrd.img"
info "make-boot-disk.sh (GPT, GRUB for BIOS and UEFI, ext4 root)"
"$BOOT_DISK_BUILDER" --size "${DISK_SIZE_MIB}M" --label root --uuid "$ROOT_UUID" --append "$KERNEL_ARGS" \
    "$ROOT" "$WORK/disk.qcow2" || die "make-boot-disk.sh failed"

for f in $OUTPUTS; do
    mv -f "$WORK/$f" "$CACHE_DIR/$f"
done
echo "$HASH" >"$CACHE_DIR/.stamp"

info "built in $(( $(date +%s) - START_TIME ))s: $CACHE_DIR/{vmlinuz,initrd.img,disk.qcow2,manifest.txt} (kernel $KVER, disk.qcow2 $(( $(stat -c %s "$CACHE_DIR/disk.qcow2") / 1048576 )) MiB)"
info "kernel command line: $KERNEL_CMDLINE"
