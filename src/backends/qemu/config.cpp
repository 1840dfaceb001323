#include "backends/qemu/config.hpp"

#include <fmt/format.h>

#include "vm_manager/error.hpp"

namespace vm_manager::qemu {

QemuConfig QemuConfig::from_environment(const Environment& env, std::optional<std::string> default_bridge) {
  QemuConfig config;
  config.default_bridge = std::move(default_bridge);
  if (auto qemu = env.get("VMCTL_QEMU")) config.qemu_binary = *qemu;
  if (auto qemu_img = env.get("VMCTL_QEMU_IMG")) config.qemu_img = *qemu_img;
  if (auto virtiofsd = env.get("VMCTL_VIRTIOFSD")) config.virtiofsd = *virtiofsd;
  if (auto device = env.get("VMCTL_KVM_DEVICE")) config.kvm_device = *device;
  if (auto runtime = env.get("XDG_RUNTIME_DIR")) config.runtime_dir = *runtime;
  if (auto leases = env.get("VMCTL_DNSMASQ_LEASES")) config.dnsmasq_leases = *leases;
  if (auto accel = env.get("VMCTL_ACCEL")) {
    config.accel_override = parse_accel(*accel);
    if (!config.accel_override) {
      throw Error(errc::spec_invalid, fmt::format("VMCTL_ACCEL='{}' is not auto, kvm or tcg", *accel),
                  "set VMCTL_ACCEL to auto, kvm or tcg, or unset it");
    }
  }
  return config;
}

}  // namespace vm_manager::qemu
