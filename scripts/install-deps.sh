#!/usr/bin/env bash
# Installs the Debian packages listed in scripts/debian-packages.txt that are
# missing. Idempotent: when everything is present it only checks and exits.
set -euo pipefail

list="$(dirname "$0")/debian-packages.txt"
mapfile -t wanted < <(sed -e 's/#.*//' -e 's/[[:space:]]//g' "$list" | grep -v '^$')

missing=()
for pkg in "${wanted[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)
  [[ "$status" == "install ok installed" ]] || missing+=("$pkg")
done

# What libvirt-daemon-system and udev would make on a host with systemd: the
# kvm group (/dev/kvm's) and the user libvirt runs QEMU as.
ensure_libvirt_accounts() {
  local run=()
  [[ $(id -u) -eq 0 ]] || run=(sudo)
  getent group kvm >/dev/null || "${run[@]}" groupadd --system kvm
  getent passwd libvirt-qemu >/dev/null ||
    "${run[@]}" useradd --system --no-create-home --home-dir /var/lib/libvirt \
      --shell /usr/sbin/nologin --gid kvm libvirt-qemu
  # Debian's libvirt runs QEMU as libvirt-qemu:libvirt-qemu (its built-in
  # qemu.conf default), with the user's supplementary groups: kvm must be one.
  getent group libvirt-qemu >/dev/null || "${run[@]}" groupadd --system libvirt-qemu
  getent group kvm | cut -d: -f4 | tr ',' '\n' | grep -qx libvirt-qemu || "${run[@]}" usermod -a -G kvm libvirt-qemu
}

if [[ ${#missing[@]} -eq 0 ]]; then
  echo "deps: all ${#wanted[@]} packages are installed"
  ensure_libvirt_accounts
  exit 0
fi

sudo=()
if [[ $(id -u) -ne 0 ]]; then
  command -v sudo >/dev/null || { echo "deps: need root or sudo to install: ${missing[*]}" >&2; exit 1; }
  sudo=(sudo)
fi

echo "deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -qq
"${sudo[@]}" apt-get install -y -qq --no-install-recommends -o DPkg::Lock::Timeout=600 "${missing[@]}"
ensure_libvirt_accounts
