#!/usr/bin/env bash
# build-tiny-guest.sh - build a tiny Linux test guest for vmctl's integration tests.
#
# Usage: tests/guest/build-tiny-guest.sh [--force] [CACHE_DIR]
#        tests/guest/build-tiny-guest.sh --print-host-packages
#
#   CACHE_DIR defaults to <repo>/build/guest-cache. Everything this script writes
#   goes below CACHE_DIR (plus apt's own cache when it installs missing host tools
#   or refreshes package lists). Outputs:
#     CACHE_DIR/vmlinuz      Debian cloud kernel (linux-image-<ver>-cloud-amd64)
#     CACHE_DIR/initrd.img   gzip'ed newc cpio: busybox, dropbear, sftp-server,
#                            kernel modules, tests/guest/init as /init
#     CACHE_DIR/disk.qcow2   small blank qcow2 (for a virtio-blk root disk; the
#                            guest never mounts it). Treat it as a read-only base
#                            image (use an overlay or a copy per VM).
#     CACHE_DIR/disk-boot.qcow2  64 MiB GPT disk that boots itself under BIOS
#                            or UEFI: GRUB, then vmlinuz + initrd.img from its
#                            ext4 root (tests/guest/make-boot-disk.sh)
#     CACHE_DIR/manifest.txt kernel version and the .deb files used
#   Re-running is cheap: when the outputs exist and the content hash of this
#   script, of tests/guest/init and of make-boot-disk.sh is unchanged, it exits at once (--force or
#   TINY_GUEST_FORCE=1 rebuilds; a newer Debian kernel is only picked up then).
#   Concurrent runs on one CACHE_DIR serialise on CACHE_DIR/.lock.
#
# Host packages this script needs (for `make deps`):
HOST_PACKAGES="apt dpkg tar coreutils findutils util-linux gzip cpio kmod qemu-utils fdisk dosfstools mtools e2fsprogs grub-pc-bin grub-efi-amd64-bin"
#   Missing ones (typically cpio, kmod, qemu-utils) are apt-get installed when
#   running as root. Nothing else is installed on the host: the guest's packages below
#   are fetched with `apt-get download` into CACHE_DIR/debs and unpacked with
#   `dpkg-deb -x`; only the Debian 12 (bookworm) amd64 apt sources are needed.
#
# Guest packages (downloaded, never installed):
#   linux-image-cloud-amd64 -> its versioned linux-image-<ver>-cloud-amd64
GUEST_PACKAGES="busybox-static dropbear-bin openssh-sftp-server libc6 libcrypt1 libtomcrypt1 libtommath1 libgmp10 zlib1g"
#
# Runtime (testing) packages, not needed to build: qemu-system-x86,
# openssh-client, xorriso (or genisoimage) for the cidata seed ISO.

set -euo pipefail
PATH=$PATH:/usr/sbin:/sbin

# Kernel modules the guest loads (names as in modules.dep, '-' == '_').
# Required ones must exist as a module or be built in (modules.builtin).
REQUIRED_MODULES="virtio_pci virtio_blk virtio_net virtio_rng virtio_scsi sd_mod sr_mod cdrom isofs button evdev af_packet unix virtiofs"
OPTIONAL_MODULES="virtio_console virtio_balloon virtio_input vfat nls_cp437 nls_utf8 nls_ascii nls_iso8859_1"

die() { echo "build-tiny-guest: error: $*" >&2; exit 1; }
info() { echo "build-tiny-guest: $*" >&2; }

SCRIPT_PATH=$(readlink -f "${BASH_SOURCE[0]}")
GUEST_SRC_DIR=$(dirname "$SCRIPT_PATH")
BOOT_DISK_BUILDER="$GUEST_SRC_DIR/make-boot-disk.sh"
INIT_SRC="$GUEST_SRC_DIR/init"
REPO_DIR=$(readlink -f "$GUEST_SRC_DIR/../..")

FORCE=${TINY_GUEST_FORCE:-0}
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
CACHE_DIR=${CACHE_DIR:-$REPO_DIR/build/guest-cache}
[ -f "$INIT_SRC" ] || die "missing $INIT_SRC"

mkdir -p "$CACHE_DIR"
CACHE_DIR=$(readlink -f "$CACHE_DIR")
OUTPUTS="vmlinuz initrd.img disk.qcow2 disk-boot.qcow2"

input_hash() {
    cat "$SCRIPT_PATH" "$INIT_SRC" "$BOOT_DISK_BUILDER" | sha256sum | cut -d' ' -f1
}

outputs_fresh() {
    local f
    for f in $OUTPUTS; do
        [ -s "$CACHE_DIR/$f" ] || return 1
    done
    [ -f "$CACHE_DIR/.stamp" ] && [ "$(cat "$CACHE_DIR/.stamp")" = "$1" ]
}

HASH=$(input_hash)
if [ "$FORCE" != 1 ] && outputs_fresh "$HASH"; then
    info "up to date: $CACHE_DIR"
    exit 0
fi

# Serialise concurrent builds into the same cache dir.
exec 9>"$CACHE_DIR/.lock"
flock 9
if [ "$FORCE" != 1 ] && outputs_fresh "$HASH"; then
    info "up to date (built concurrently): $CACHE_DIR"
    exit 0
fi

START_TIME=$(date +%s)
rm -rf "$CACHE_DIR"/.work.*   # leftovers of interrupted runs (we hold the lock)

# ---------------------------------------------------------------- host tools
APT_OPTS=(-o DPkg::Lock::Timeout=600 -q)
IS_ROOT=0
[ "$(id -u)" = 0 ] && IS_ROOT=1
if [ "$IS_ROOT" = 1 ]; then
    # apt's _apt sandbox user usually can't write into CACHE_DIR.
    APT_OPTS+=(-o APT::Sandbox::User=root)
fi

ensure_host_tools() {
    local missing=() pair cmd pkg
    for pair in cpio:cpio qemu-img:qemu-utils dpkg-deb:dpkg apt-get:apt gzip:gzip \
                flock:util-linux sha256sum:coreutils find:findutils depmod:kmod \
                sfdisk:fdisk mkfs.vfat:dosfstools mcopy:mtools mkfs.ext4:e2fsprogs; do
        cmd=${pair%%:*}
        pkg=${pair#*:}
        command -v "$cmd" >/dev/null 2>&1 || missing+=("$pkg")
    done
    [ -f /usr/lib/grub/i386-pc/boot.img ] || missing+=(grub-pc-bin)
    [ -f /usr/lib/grub/x86_64-efi/linux.mod ] || missing+=(grub-efi-amd64-bin)
    [ ${#missing[@]} -eq 0 ] && return 0
    [ "$IS_ROOT" = 1 ] || die "missing host packages: ${missing[*]} (run as root or install them)"
    info "installing host packages: ${missing[*]}"
    DEBIAN_FRONTEND=noninteractive apt-get "${APT_OPTS[@]}" install -y --no-install-recommends "${missing[@]}" >&2 \
        || { apt-get "${APT_OPTS[@]}" update >&2 && \
             DEBIAN_FRONTEND=noninteractive apt-get "${APT_OPTS[@]}" install -y --no-install-recommends "${missing[@]}" >&2; }
}
ensure_host_tools

# ---------------------------------------------------------------- work dir
WORK=$(mktemp -d "$CACHE_DIR/.work.XXXXXX")
cleanup() { rm -rf "$WORK"; }
trap cleanup EXIT

DEBS="$CACHE_DIR/debs"
mkdir -p "$DEBS"

APT_UPDATED=0
apt_refresh() {
    [ "$APT_UPDATED" = 0 ] || return 1
    [ "$IS_ROOT" = 1 ] || return 1
    info "refreshing apt package lists"
    apt-get "${APT_OPTS[@]}" update >&2 || return 1
    APT_UPDATED=1
}

# Print the versioned kernel package that linux-image-cloud-amd64 depends on.
resolve_kernel_pkg() {
    local dep
    dep=$(apt-cache depends linux-image-cloud-amd64 2>/dev/null \
          | sed -n 's/^ *Depends: \(linux-image-[0-9][^ ]*-cloud-amd64\)$/\1/p' | head -n1)
    if [ -z "$dep" ] && apt_refresh; then
        dep=$(apt-cache depends linux-image-cloud-amd64 2>/dev/null \
              | sed -n 's/^ *Depends: \(linux-image-[0-9][^ ]*-cloud-amd64\)$/\1/p' | head -n1)
    fi
    [ -n "$dep" ] || die "cannot resolve linux-image-cloud-amd64 (apt sources for Debian 12 amd64 needed)"
    echo "$dep"
}

# Download the candidate .debs of the given packages into $DEBS (skipping those
# already there) and set DEB_FILE[pkg] to each file's path. One apt run resolves
# all of them (apt start-up is slow on a busy machine).
declare -A DEB_FILE=()
fetch_debs() {
    local uris pkg file size missing=()
    # (in an empty dir: apt prints nothing for files already present in cwd)
    mkdir -p "$WORK/empty"
    uris=$(cd "$WORK/empty" && apt-get "${APT_OPTS[@]}" download --print-uris "$@" 2>/dev/null) || uris=""
    if [ "$(grep -c '^.' <<<"$uris")" != $# ] && apt_refresh; then
        uris=$(cd "$WORK/empty" && apt-get "${APT_OPTS[@]}" download --print-uris "$@" 2>/dev/null) || uris=""
    fi
    # lines: 'URI' FILENAME SIZE HASH ; FILENAME is PKG_VERSION_ARCH.deb
    while read -r _ file size _; do
        [ -n "$file" ] || continue
        pkg=${file%%_*}
        DEB_FILE[$pkg]="$DEBS/$file"
        if [ ! -f "$DEBS/$file" ] || [ "$(stat -c %s "$DEBS/$file")" != "$size" ]; then
            missing+=("$pkg")
            # drop other versions of the same package
            find "$DEBS" -maxdepth 1 -name "${pkg}_*.deb" ! -name "$file" -delete
        fi
    done <<<"$uris"
    for pkg in "$@"; do
        [ -n "${DEB_FILE[$pkg]:-}" ] || die "apt-get cannot find package $pkg"
    done
    if [ ${#missing[@]} -gt 0 ]; then
        info "downloading ${missing[*]}"
        (cd "$DEBS" && apt-get "${APT_OPTS[@]}" download "${missing[@]}" >&2) || die "apt-get download failed"
        for pkg in "${missing[@]}"; do
            [ -f "${DEB_FILE[$pkg]}" ] || die "apt-get download did not produce ${DEB_FILE[$pkg]}"
        done
    fi
}

KPKG=$(resolve_kernel_pkg)
KVER=${KPKG#linux-image-}
info "kernel package: $KPKG"

ROOTSTAGE="$WORK/pkgroot"   # unpacked userland packages
KSTAGE="$WORK/kernel"       # unpacked kernel package
INITRD="$WORK/initrd"       # initramfs tree
mkdir -p "$ROOTSTAGE" "$KSTAGE" "$INITRD"

: >"$WORK/manifest.txt"
echo "kernel_version=$KVER" >>"$WORK/manifest.txt"
# shellcheck disable=SC2086 # GUEST_PACKAGES is a word list
fetch_debs "$KPKG" $GUEST_PACKAGES
for pkg in "$KPKG" $GUEST_PACKAGES; do
    echo "deb=${DEB_FILE[$pkg]##*/}" >>"$WORK/manifest.txt"
done
# kernel: only the image and the modules tree
dpkg-deb --fsys-tarfile "${DEB_FILE[$KPKG]}" | tar -x -C "$KSTAGE" --wildcards './boot/vmlinuz-*' './lib/modules/*'
for pkg in $GUEST_PACKAGES; do
    dpkg-deb -x "${DEB_FILE[$pkg]}" "$ROOTSTAGE"
done

# ---------------------------------------------------------------- kernel
[ -f "$KSTAGE/boot/vmlinuz-$KVER" ] || die "no boot/vmlinuz-$KVER in $KPKG"
MODSRC="$KSTAGE/lib/modules/$KVER"
[ -d "$MODSRC/kernel" ] || die "no lib/modules/$KVER/kernel in $KPKG"
# modules.dep is made by the package's postinst, so generate it here.
depmod -b "$KSTAGE" "$KVER" || die "depmod failed"
[ -f "$MODSRC/modules.dep" ] || die "depmod made no modules.dep"

# ---------------------------------------------------------------- initramfs tree
for d in bin sbin usr/bin usr/sbin usr/lib usr/libexec usr/share/udhcpc lib/x86_64-linux-gnu lib64 \
         etc/dropbear etc/acpi/PWRF etc/acpi/PWRB etc/tiny-guest dev proc sys run tmp root home mnt \
         var/log var/lib/cloud usr/lib/openssh usr/lib/tiny-guest/suid; do
    mkdir -p "$INITRD/$d"
done
chmod 700 "$INITRD/root"
chmod 1777 "$INITRD/tmp"
ln -s /run "$INITRD/var/run"

# busybox + applet links
BB="$ROOTSTAGE/bin/busybox"
[ -x "$BB" ] || die "busybox-static has no /bin/busybox"
install -m 0755 "$BB" "$INITRD/bin/busybox"
# A setuid-root copy used only by /usr/bin/sudo (its `su` applet).
install -m 4755 "$BB" "$INITRD/usr/lib/tiny-guest/suid/busybox"
"$BB" --list-full >"$WORK/applets" || die "cannot run busybox --list-full"
while read -r applet; do
    case "$applet" in
        linuxrc|bin/busybox|sbin/poweroff|sbin/reboot|sbin/halt) continue ;;
    esac
    mkdir -p "$INITRD/$(dirname "$applet")"
    [ -e "$INITRD/$applet" ] || ln -s /bin/busybox "$INITRD/$applet"
    # sessions of unprivileged users get PATH=/usr/bin:/bin from dropbear
    case "$applet" in
        sbin/*|usr/sbin/*)
            [ -e "$INITRD/usr/bin/${applet##*/}" ] || ln -s /bin/busybox "$INITRD/usr/bin/${applet##*/}" ;;
    esac
done <"$WORK/applets"

# dropbear + sftp-server
install -m 0755 "$ROOTSTAGE/usr/sbin/dropbear" "$INITRD/usr/sbin/dropbear"
for b in dropbearkey dropbearconvert dbclient; do
    install -m 0755 "$ROOTSTAGE/usr/bin/$b" "$INITRD/usr/bin/$b"
done
SFTP="$ROOTSTAGE/usr/lib/openssh/sftp-server"
[ -x "$SFTP" ] || die "openssh-sftp-server has no /usr/lib/openssh/sftp-server"
install -m 0755 "$SFTP" "$INITRD/usr/lib/openssh/sftp-server"
# Debian's dropbear runs /usr/lib/sftp-server; upstream uses /usr/libexec/sftp-server.
ln -s /usr/lib/openssh/sftp-server "$INITRD/usr/lib/sftp-server"
ln -s /usr/lib/openssh/sftp-server "$INITRD/usr/libexec/sftp-server"

# shared libraries, resolved with the unpacked glibc's own loader
LDSO="$ROOTSTAGE/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2"
[ -f "$LDSO" ] || die "libc6 has no ld-linux-x86-64.so.2"
LIBPATH="$ROOTSTAGE/lib/x86_64-linux-gnu:$ROOTSTAGE/usr/lib/x86_64-linux-gnu"
: >"$WORK/libs"
for bin in usr/sbin/dropbear usr/bin/dropbearkey usr/bin/dropbearconvert usr/bin/dbclient usr/lib/openssh/sftp-server; do
    "$LDSO" --inhibit-cache --library-path "$LIBPATH" --list "$ROOTSTAGE/$bin" >"$WORK/ldd.out" \
        || die "cannot list shared libraries of $bin"
    sed -n 's/^[[:space:]]*\([^[:space:]]*\) => \([^[:space:]]*\) .*/\1 \2/p' "$WORK/ldd.out" >>"$WORK/libs"
done
while read -r soname path; do
    case "$soname" in */*) continue ;; esac   # the ELF interpreter, copied below
    case "$path" in
        "$ROOTSTAGE"/*) ;;
        *) die "$soname resolved outside the guest packages ($path); add its package to GUEST_PACKAGES" ;;
    esac
    cp -L "$path" "$INITRD/lib/x86_64-linux-gnu/$soname"
    chmod 0755 "$INITRD/lib/x86_64-linux-gnu/$soname"
done < <(sort -u "$WORK/libs")
install -m 0755 "$LDSO" "$INITRD/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2"
ln -s /lib/x86_64-linux-gnu/ld-linux-x86-64.so.2 "$INITRD/lib64/ld-linux-x86-64.so.2"

# kernel modules: dependency closure from modules.dep, in load order
declare -A MODPATH=() MODDEPS=() DEPLINE=() BUILTIN=() LOADED=()
while IFS= read -r line; do
    path=${line%%:*}
    name=${path##*/}
    name=${name%.ko}
    name=${name//-/_}
    MODPATH[$name]=$path
    MODDEPS[$name]=${line#*:}
    DEPLINE[$path]=$line
done <"$MODSRC/modules.dep"
while IFS= read -r path; do
    name=${path##*/}
    name=${name%.ko}
    BUILTIN[${name//-/_}]=1
done <"$MODSRC/modules.builtin"

ORDER=()
add_module() {   # add_module NAME -> appends NAME's deps, then NAME, to ORDER
    local name=${1//-/_} dep
    [ -z "${LOADED[$name]:-}" ] || return 0
    LOADED[$name]=1
    for dep in ${MODDEPS[$name]}; do
        dep=${dep##*/}
        add_module "${dep%.ko}"
    done
    ORDER+=("${MODPATH[$name]}")
}
for m in $REQUIRED_MODULES $OPTIONAL_MODULES; do
    m=${m//-/_}
    if [ -n "${MODPATH[$m]:-}" ]; then
        add_module "$m"
    elif [ -n "${BUILTIN[$m]:-}" ]; then
        :
    else
        case " $REQUIRED_MODULES " in
            *" $m "*) die "kernel $KVER has no module or built-in '$m'" ;;
            *) info "note: optional module $m not in kernel $KVER" ;;
        esac
    fi
done
MODDST="$INITRD/lib/modules/$KVER"
mkdir -p "$MODDST"
: >"$INITRD/etc/tiny-guest/modules"
for path in "${ORDER[@]}"; do
    mkdir -p "$MODDST/$(dirname "$path")"
    cp "$MODSRC/$path" "$MODDST/$path"
    echo "$path" >>"$INITRD/etc/tiny-guest/modules"
done
# Trimmed modules.dep (only what is shipped) so busybox modprobe works too.
for path in "${ORDER[@]}"; do
    echo "${DEPLINE[$path]}"
done >"$MODDST/modules.dep"
for f in modules.builtin modules.order; do
    [ -f "$MODSRC/$f" ] && cp "$MODSRC/$f" "$MODDST/$f"
done

# /init
install -m 0755 "$INIT_SRC" "$INITRD/init"
echo "$KVER" >"$INITRD/etc/tiny-guest/kernel-version"

# ---------------------------------------------------------------- static config files
# root's password is empty (in /etc/shadow: busybox rejects an empty field in
# /etc/passwd) so that /usr/bin/sudo's setuid `su` needs no prompt; dropbear
# runs with -s (no password logins at all).
cat >"$INITRD/etc/passwd" <<'EOF'
root:x:0:0:root:/root:/bin/sh
daemon:*:1:1:daemon:/usr/sbin:/bin/false
nobody:*:65534:65534:nobody:/nonexistent:/bin/false
EOF
cat >"$INITRD/etc/shadow" <<'EOF'
root::19000:0:99999:7:::
daemon:*:19000:0:99999:7:::
nobody:*:19000:0:99999:7:::
EOF
chmod 0600 "$INITRD/etc/shadow"
cat >"$INITRD/etc/group" <<'EOF'
root:x:0:
daemon:x:1:
tty:x:5:
sudo:x:27:
nogroup:x:65534:
EOF
printf '/bin/sh\n/bin/ash\n' >"$INITRD/etc/shells"
printf 'passwd: files\ngroup: files\nshadow: files\nhosts: files dns\n' >"$INITRD/etc/nsswitch.conf"
printf '127.0.0.1 localhost\n::1 localhost\n' >"$INITRD/etc/hosts"
cat >"$INITRD/etc/profile" <<'EOF'
PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export PATH
EOF
: >"$INITRD/etc/fstab"

cat >"$INITRD/usr/share/udhcpc/default.script" <<'EOF'
#!/bin/sh
# udhcpc event script for the tiny guest: configure address, route, resolv.conf.
case "$1" in
    deconfig)
        ip -4 addr flush dev "$interface" 2>/dev/null
        ip link set "$interface" up
        ;;
    bound|renew)
        old=$(cat "/run/tiny-guest/ip.$interface" 2>/dev/null)
        if [ "$1" = bound ] || [ "$old" != "$ip" ]; then
            ip -4 addr flush dev "$interface" 2>/dev/null
            ip addr add "$ip/${mask:-24}" ${broadcast:+broadcast "$broadcast"} dev "$interface"
        fi
        if [ -n "$router" ]; then
            while ip route del default dev "$interface" 2>/dev/null; do :; done
            for r in $router; do
                ip route add default via "$r" dev "$interface" && break
            done
        fi
        {
            [ -n "$domain" ] && echo "search $domain"
            for d in $dns; do echo "nameserver $d"; done
        } >/etc/resolv.conf.new && mv /etc/resolv.conf.new /etc/resolv.conf
        mkdir -p /run/tiny-guest
        echo "$ip" >"/run/tiny-guest/ip.$interface"
        ;;
esac
exit 0
EOF
chmod 0755 "$INITRD/usr/share/udhcpc/default.script"

# Shutdown helper used by the ACPI handler, by init's signal traps and by the
# poweroff/reboot/halt commands (they replace busybox's applets, which would try
# to talk to busybox init).
cat >"$INITRD/sbin/tiny-shutdown" <<'EOF'
#!/bin/sh
# tiny-shutdown poweroff|reboot|halt [reason]
action=${1:-poweroff}
if [ "$(id -u)" != 0 ]; then
    echo "$action: must be superuser" >&2
    exit 1
fi
case "$action" in
    poweroff) msg="powering off" ;;
    reboot) msg="rebooting" ;;
    halt) msg="halting" ;;
    *) echo "tiny-shutdown: unknown action $action" >&2; exit 2 ;;
esac
# only the first caller proceeds
mkdir /run/tiny-guest/shutdown 2>/dev/null || exit 0
echo "TINY-GUEST: $msg${2:+ ($2)}" >/dev/console
[ -f /run/dropbear.pid ] && kill "$(cat /run/dropbear.pid)" 2>/dev/null
umount /run/seed 2>/dev/null
sync
# give the serial port time to drain the marker
usleep 300000
exec /bin/busybox "$action" -f
EOF
chmod 0755 "$INITRD/sbin/tiny-shutdown"
for a in poweroff reboot halt; do
    printf '#!/bin/sh\n# accepts and ignores busybox options (-f -d N -n)\nexec /sbin/tiny-shutdown %s\n' "$a" >"$INITRD/sbin/$a"
    chmod 0755 "$INITRD/sbin/$a"
    ln -sf "/sbin/$a" "$INITRD/usr/bin/$a"
done

cat >"$INITRD/etc/acpi/PWRF/00000080" <<'EOF'
#!/bin/sh
# busybox acpid: ACPI power button (fixed feature / power button device)
exec /sbin/tiny-shutdown poweroff "ACPI power button"
EOF
chmod 0755 "$INITRD/etc/acpi/PWRF/00000080"
cp -p "$INITRD/etc/acpi/PWRF/00000080" "$INITRD/etc/acpi/PWRB/00000080"

cat >"$INITRD/usr/bin/sudo" <<'EOF'
#!/bin/sh
# Minimal sudo for the tiny test guest: root has an empty password here, so a
# setuid copy of busybox's `su` can switch to root without a prompt.
# Supports: sudo [-n] [-E] [-H] [-S] [-i] [-s] [-u USER] [--] [COMMAND [ARGS...]]
user=root
shell_mode=0
while [ $# -gt 0 ]; do
    case "$1" in
        -u) user=$2; shift 2 ;;
        -u*) user=${1#-u}; shift ;;
        -i|-s) shell_mode=1; shift ;;
        -n|-E|-H|-S|-k|-K|-b|-P|-A) shift ;;
        -V|--version) echo "Sudo version 0 (tiny-guest wrapper)"; exit 0 ;;
        --) shift; break ;;
        -*) echo "sudo: unsupported option $1" >&2; exit 1 ;;
        *) break ;;
    esac
done
if [ $# -eq 0 ]; then
    if [ "$shell_mode" = 1 ]; then set -- /bin/sh -l; else
        echo "usage: sudo [-u user] command [args...]" >&2; exit 1
    fi
fi
uid=$(id -u)
if [ "$uid" = 0 ] && [ "$user" = root ]; then
    exec "$@"
fi
cmd="PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin; export PATH; SUDO_USER=$(id -un); SUDO_UID=$uid; export SUDO_USER SUDO_UID; exec"
for a in "$@"; do
    q=$(printf '%s' "$a" | sed "s/'/'\\\\''/g")
    cmd="$cmd '$q'"
done
exec /usr/lib/tiny-guest/suid/busybox su -s /bin/sh -c "$cmd" "$user"
EOF
chmod 0755 "$INITRD/usr/bin/sudo"

cat >"$INITRD/usr/bin/cloud-init" <<'EOF'
#!/bin/sh
# cloud-init stand-in for the tiny test guest (the real work is done by /init).
ready=/run/tiny-guest/ready
case "$1" in
    status)
        shift
        wait=0; long=0
        for a in "$@"; do
            case "$a" in
                --wait|-w) wait=1 ;;
                --long|-l) long=1 ;;
            esac
        done
        # tiny.cloud_init=error|hang on the kernel command line plays a
        # cloud-init that failed or never finishes, for vmctl's --wait tests.
        case " $(cat /proc/cmdline) " in
            *" tiny.cloud_init=error "*) echo "status: error"; exit 1 ;;
            *" tiny.cloud_init=hang "*) [ "$wait" = 1 ] && while :; do sleep 1; done ;;
        esac
        if [ "$wait" = 1 ]; then
            while [ ! -e "$ready" ]; do sleep 1; done
        fi
        if [ -e "$ready" ]; then
            echo "status: done"
            [ "$long" = 1 ] && echo "detail:" && echo "DataSourceNoCloud [seed=$(cat /run/tiny-guest/seed-dev 2>/dev/null)]"
            exit 0
        fi
        echo "status: running"
        exit 0
        ;;
    query)
        case "$2" in
            instance_id|instance-id|v1.instance_id) cat /run/cloud-init/instance-id 2>/dev/null ;;
            local_hostname|local-hostname|v1.local_hostname) hostname ;;
            *) echo "cloud-init query: unsupported key '$2'" >&2; exit 1 ;;
        esac
        ;;
    --version|-v|version)
        echo "/usr/bin/cloud-init 0.0-tiny-guest"
        ;;
    *)
        echo "tiny-guest cloud-init stand-in: supports 'status [--wait] [--long]', 'query', '--version'" >&2
        exit 1
        ;;
esac
EOF
chmod 0755 "$INITRD/usr/bin/cloud-init"

# ---------------------------------------------------------------- pack
# Device nodes the kernel wants before /init runs (init mounts devtmpfs anyway).
if [ "$IS_ROOT" = 1 ]; then
    mknod -m 0600 "$INITRD/dev/console" c 5 1
    mknod -m 0666 "$INITRD/dev/null" c 1 3
fi
find "$INITRD" -exec touch -h -d @0 {} +
(cd "$INITRD" && find . -mindepth 1 -print0 | LC_ALL=C sort -z \
    | cpio --null --create --format=newc --owner=0:0 --quiet) | gzip -n -6 >"$WORK/initrd.img"

install -m 0644 "$KSTAGE/boot/vmlinuz-$KVER" "$WORK/vmlinuz"
qemu-img create -q -f qcow2 "$WORK/disk.qcow2" 64M

# The same guest booting from its own disk: GRUB loads the kernel and
# initramfs from an ext4 root; /init runs from the initramfs as before.
mkdir -p "$WORK/boot-tree/boot"
cp "$WORK/vmlinuz" "$WORK/boot-tree/boot/vmlinuz"
cp "$WORK/initrd.img" "$WORK/boot-tree/boot/initrd.img"
"$BOOT_DISK_BUILDER" --size 64M --append "console=ttyS0 panic=-1" "$WORK/boot-tree" "$WORK/disk-boot.qcow2"

for f in $OUTPUTS manifest.txt; do
    mv -f "$WORK/$f" "$CACHE_DIR/$f"
done
echo "$HASH" >"$CACHE_DIR/.stamp"

info "built in $(( $(date +%s) - START_TIME ))s: $CACHE_DIR/{vmlinuz,initrd.img,disk.qcow2,disk-boot.qcow2} (kernel $KVER, initrd $(( $(stat -c %s "$CACHE_DIR/initrd.img") / 1024 )) KiB)"
