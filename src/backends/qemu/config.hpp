// Settings of the QEMU backend; from_environment() takes the VMCTL_* overrides
// from the Environment the program hands in.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "core/logger.hpp"
#include "vm_manager/environment.hpp"
#include "vm_manager/types.hpp"

namespace vm_manager::qemu {

struct QemuConfig {
  std::string qemu_binary = "qemu-system-x86_64";  // VMCTL_QEMU
  std::string qemu_img = "qemu-img";               // VMCTL_QEMU_IMG
  // QEMU 7.2's C virtiofsd (qemu-system-common); one per shared folder.
  std::filesystem::path virtiofsd = "/usr/lib/qemu/virtiofsd";  // VMCTL_VIRTIOFSD
  std::optional<Accel> accel_override;              // VMCTL_ACCEL, applies to VMs created with "auto"
  std::filesystem::path kvm_device = "/dev/kvm";   // VMCTL_KVM_DEVICE
  std::vector<std::filesystem::path> firmware_dirs = {"/usr/share/OVMF", "/usr/share/edk2/ovmf",
                                                      "/usr/share/edk2/x64", "/usr/share/qemu",
                                                      "/usr/share/edk2-ovmf/x64"};
  std::optional<std::string> default_bridge;
  // Where sockets go when the work dir's path is too long for them:
  // <runtime_dir>/vmctl, else /tmp/vmctl-<uid>.
  std::optional<std::filesystem::path> runtime_dir;  // XDG_RUNTIME_DIR
  // dnsmasq lease files that TAP guests' addresses are looked up in,
  // ':'-separated; unset: Debian's usual places.
  std::optional<std::string> dnsmasq_leases;  // VMCTL_DNSMASQ_LEASES

  // User-networking SSH forwards: a hash of the name picks the first port tried.
  std::uint16_t ssh_port_first = 10022;
  std::uint16_t ssh_port_last = 10122;

  std::chrono::milliseconds launch_timeout{60'000};  // until -daemonize returns
  std::chrono::milliseconds qmp_timeout{5'000};      // one QMP exchange
  std::chrono::milliseconds term_grace{5'000};       // SIGTERM before SIGKILL
  std::chrono::milliseconds kill_grace{5'000};       // SIGKILL before giving up
  std::chrono::milliseconds virtiofsd_timeout{30'000};  // until its socket listens
  std::chrono::milliseconds guest_ip_timeout{60'000};  // TAP: waiting for a DHCP lease

  Logger log;  // warnings (a TCG fallback, a QEMU that does not answer) and debug lines

  // Raises spec::invalid for a malformed VMCTL_ACCEL.
  static QemuConfig from_environment(const Environment& env, std::optional<std::string> default_bridge);
};

}  // namespace vm_manager::qemu
