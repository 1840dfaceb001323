#!/usr/bin/env bash
# make-boot-disk.sh: a root filesystem tree -> a GPT disk that boots itself
# with GRUB under BIOS (SeaBIOS) and UEFI (OVMF), as cloud images do.
#
# Usage: make-boot-disk.sh [options] TREE OUTPUT
#        make-boot-disk.sh --print-host-packages
#   --size SIZE       disk size, as qemu-img/truncate take it (default 2G)
#   --label LABEL     root filesystem label (default root)
#   --uuid UUID       root filesystem UUID (default: a random one)
#   --append ARGS     kernel arguments after root=UUID=... (default console=ttyS0)
#   --esp-mib N       ESP size in MiB (default 16)
# OUTPUT ending in .qcow2 is written as qcow2, anything else as raw.
#
# TREE must hold boot/vmlinuz and boot/initrd.img (files, or symlinks inside
# the tree); the script writes TREE/boot/grub/grub.cfg. Needs no root, no
# loop devices and no mounts.
#
# Hand-written because no Debian tool builds a bootable GPT disk from a
# directory without loop devices or mounts: grub-install and grub-bios-setup
# need a block device (or a mounted /boot), grub-mkrescue makes ISO images,
# and debos/vmdb2/diskimage-builder all use loop devices. So the disk is put
# together by hand:
#
#   LBA 0        protective MBR holding GRUB's boot.img (first 440 bytes)
#   LBA 1-33     GPT
#   1 MiB        p1 BIOS boot partition (1 MiB): GRUB's i386-pc core.img
#   2 MiB        p2 ESP (FAT): /EFI/BOOT/BOOTX64.EFI, GRUB for x86_64-efi
#   after it     p3 root (ext4, mkfs.ext4 -d TREE), last so growpart can
#                grow it into a larger disk
#
# Both GRUBs carry the same small embedded config: find the root filesystem
# by UUID, then load its /boot/grub/grub.cfg, which boots /boot/vmlinuz and
# /boot/initrd.img with root=UUID=<uuid>.
#
# What grub-bios-setup would do for an embedded core.img (grub 2.06,
# util/setup.c, offsets from include/grub/i386/pc/boot.h and
# include/grub/offsets.h), done here with dd:
#   * boot.img's first 440 bytes (GRUB_BOOT_MACHINE_PART_START 0x1b8 is where
#     the partition table begins; the protective MBR's entries are kept) go
#     to LBA 0;
#   * boot.img + 0x5c (GRUB_BOOT_MACHINE_KERNEL_SECTOR, 8 bytes LE) = LBA of
#     core.img's first sector (diskboot.img), i.e. the BIOS boot partition;
#   * boot.img + 0x66 (GRUB_BOOT_MACHINE_DRIVE_CHECK): the 2-byte jump over
#     the boot-drive check becomes two NOPs, as setup.c does for hard disks
#     (for BIOSes that pass a wrong drive number);
#   * diskboot.img's block list (struct grub_boot_blocklist {u64 start;
#     u16 len; u16 segment}, the last 12 bytes of core.img's first sector,
#     offset 0x1f4): start = LBA of core.img's second sector; grub-mkimage
#     already set len (sectors after the first) and segment.
set -euo pipefail

HOST_PACKAGES="fdisk dosfstools mtools e2fsprogs grub-pc-bin grub-efi-amd64-bin qemu-utils coreutils"
GRUB_PC_DIR=/usr/lib/grub/i386-pc
GRUB_EFI_DIR=/usr/lib/grub/x86_64-efi
SECTOR=512
MIB_SECTORS=2048

die() { echo "make-boot-disk: error: $*" >&2; exit 1; }

SIZE=2G LABEL=root UUID="" APPEND="console=ttyS0" ESP_MIB=16 TREE="" OUTPUT=""
while [ $# -gt 0 ]; do
    case "$1" in
        --print-host-packages) echo "$HOST_PACKAGES"; exit 0 ;;
        --size) SIZE=$2; shift ;;
        --label) LABEL=$2; shift ;;
        --uuid) UUID=$2; shift ;;
        --append) APPEND=$2; shift ;;
        --esp-mib) ESP_MIB=$2; shift ;;
        -*) die "unknown option $1" ;;
        *) if [ -z "$TREE" ]; then TREE=$1; elif [ -z "$OUTPUT" ]; then OUTPUT=$1; else die "too many arguments"; fi ;;
    esac
    shift
done
if [ -z "$TREE" ] || [ -z "$OUTPUT" ]; then die "usage: make-boot-disk.sh [options] TREE OUTPUT"; fi
[ -e "$TREE/boot/vmlinuz" ] || die "$TREE/boot/vmlinuz is missing"
[ -e "$TREE/boot/initrd.img" ] || die "$TREE/boot/initrd.img is missing"

# A missing tool fails with the package to install, never silently.
for pair in sfdisk:fdisk mkfs.vfat:dosfstools mmd:mtools mcopy:mtools mkfs.ext4:e2fsprogs \
            grub-mkimage:grub-common qemu-img:qemu-utils; do
    command -v "${pair%%:*}" >/dev/null 2>&1 || die "${pair%%:*} not found: install the Debian package ${pair#*:}"
done
[ -f "$GRUB_PC_DIR/boot.img" ] || die "$GRUB_PC_DIR is missing: install the Debian package grub-pc-bin"
[ -f "$GRUB_EFI_DIR/linux.mod" ] || die "$GRUB_EFI_DIR is missing: install the Debian package grub-efi-amd64-bin"

[ -n "$UUID" ] || UUID=$(cat /proc/sys/kernel/random/uuid)
WORK=$(mktemp -d "$(dirname "$OUTPUT")/.boot-disk.XXXXXX")
trap 'rm -rf "$WORK"' EXIT

# ------------------------------------------------------------ partition table
DISK=$WORK/disk.raw
truncate -s "$SIZE" "$DISK"
BIOS_START=$MIB_SECTORS
ESP_START=$((2 * MIB_SECTORS))
ROOT_START=$((ESP_START + ESP_MIB * MIB_SECTORS))
sfdisk --quiet --no-reread --no-tell-kernel "$DISK" <<EOF
label: gpt
unit: sectors
start=$BIOS_START, size=$MIB_SECTORS, type=21686148-6449-6E6F-744E-656564454649, name="bios-boot"
start=$ESP_START, size=$((ESP_MIB * MIB_SECTORS)), type=C12A7328-F81F-11D2-BA4B-00A0C93EC93B, name="esp"
start=$ROOT_START, type=0FC63DAF-8483-4772-8E79-3D69D8477DE4, name="root"
EOF
# The root partition runs to the last usable LBA; ask sfdisk where that is.
ROOT_SECTORS=$(sfdisk --dump "$DISK" | sed -n "s/^.*3 : start= *$ROOT_START, size= *\([0-9]*\),.*/\1/p")
[ -n "$ROOT_SECTORS" ] || die "could not read the root partition back from sfdisk"

put() {  # put FILE OFFSET SOURCE: SOURCE's bytes into FILE at byte OFFSET
    dd if="$3" of="$1" bs=1M seek="$2" oflag=seek_bytes conv=notrunc,sparse status=none
}
put_le() {  # put_le FILE OFFSET BYTES VALUE: VALUE as a BYTES-byte little-endian integer
    local file=$1 offset=$2 bytes=$3 value=$4 i hex=""
    for ((i = 0; i < bytes; i++)); do
        hex+=$(printf '\\x%02x' $(((value >> (8 * i)) & 0xff)))
    done
    printf '%b' "$hex" | dd of="$file" bs=1 seek="$offset" conv=notrunc status=none
}

# ------------------------------------------------------------ GRUB
# The embedded config: everything after it comes from the root filesystem.
cat >"$WORK/early.cfg" <<EOF
search --no-floppy --fs-uuid --set=root $UUID
set prefix=(\$root)/boot/grub
configfile \$prefix/grub.cfg
EOF
mkdir -p "$TREE/boot/grub"
cat >"$TREE/boot/grub/grub.cfg" <<EOF
# Written by tests/guest/make-boot-disk.sh. No menu: boot at once.
# OVMF already copies its console to the serial port; under BIOS GRUB
# drives the serial port itself.
if [ "\$grub_platform" != efi ]; then
  serial --unit=0 --speed=115200
  terminal_input serial console
  terminal_output serial console
fi
echo 'GRUB: booting /boot/vmlinuz'
linux /boot/vmlinuz root=UUID=$UUID $APPEND
initrd /boot/initrd.img
boot
echo 'GRUB: cannot boot /boot/vmlinuz'
EOF
GRUB_MODULES=(part_gpt part_msdos ext2 fat search search_fs_uuid search_label normal configfile linux echo test serial terminal)
# biosdisk: GRUB's BIOS disk driver; the EFI build reads disks through UEFI.
grub-mkimage -O i386-pc -d "$GRUB_PC_DIR" -c "$WORK/early.cfg" -p /boot/grub -o "$WORK/core.img" \
    biosdisk "${GRUB_MODULES[@]}"
# efi_gop: Linux gets the firmware's frame buffer (else GRUB says "no suitable video mode").
grub-mkimage -O x86_64-efi -d "$GRUB_EFI_DIR" -c "$WORK/early.cfg" -p /boot/grub -o "$WORK/BOOTX64.EFI" \
    efi_gop "${GRUB_MODULES[@]}"
CORE_BYTES=$(stat -c %s "$WORK/core.img")
[ "$CORE_BYTES" -le $((MIB_SECTORS * SECTOR)) ] || die "core.img ($CORE_BYTES bytes) does not fit the BIOS boot partition"

cp "$GRUB_PC_DIR/boot.img" "$WORK/boot.img"
put_le "$WORK/boot.img" $((0x5c)) 8 "$BIOS_START"   # GRUB_BOOT_MACHINE_KERNEL_SECTOR
put_le "$WORK/boot.img" $((0x66)) 2 $((0x9090))      # GRUB_BOOT_MACHINE_DRIVE_CHECK: nop nop
put_le "$WORK/core.img" $((0x1f4)) 8 $((BIOS_START + 1))  # first block list entry: start
dd if="$WORK/boot.img" of="$DISK" bs=440 count=1 conv=notrunc status=none
put "$DISK" $((BIOS_START * SECTOR)) "$WORK/core.img"

# ------------------------------------------------------------ ESP
truncate -s "${ESP_MIB}M" "$WORK/esp.img"
mkfs.vfat -n ESP "$WORK/esp.img" >/dev/null
mmd -i "$WORK/esp.img" ::/EFI ::/EFI/BOOT
mcopy -i "$WORK/esp.img" "$WORK/BOOTX64.EFI" ::/EFI/BOOT/BOOTX64.EFI
put "$DISK" $((ESP_START * SECTOR)) "$WORK/esp.img"

# ------------------------------------------------------------ root
truncate -s $((ROOT_SECTORS * SECTOR)) "$WORK/root.img"
mkfs.ext4 -q -F -L "$LABEL" -U "$UUID" -d "$TREE" "$WORK/root.img"
put "$DISK" $((ROOT_START * SECTOR)) "$WORK/root.img"

case "$OUTPUT" in
    *.qcow2) qemu-img convert -q -f raw -O qcow2 "$DISK" "$WORK/out" ;;
    *) mv "$DISK" "$WORK/out" ;;
esac
mv -f "$WORK/out" "$OUTPUT"
