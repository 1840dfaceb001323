#include "backends/qemu/config.hpp"

#include <cstdlib>

#include <fmt/format.h>

#include "vm_manager/error.hpp"

namespace vm_manager::qemu {
namespace {

std::optional<std::string> env(const char* name) {
  const char* value = std::getenv(name);
  if (value == nullptr || *value == '\0') return std::nullopt;
  return std::string(value);
}

}  // namespace

QemuConfig QemuConfig::from_environment(std::optional<std::string> default_bridge) {
  QemuConfig config;
  config.default_bridge = std::move(default_bridge);
  if (auto qemu = env("VMCTL_QEMU")) config.qemu_binary = *qemu;
  if (auto qemu_img = env("VMCTL_QEMU_IMG")) config.qemu_img = *qemu_img;
  if (auto device = env("VMCTL_KVM_DEVICE")) config.kvm_device = *device;
  if (auto accel = env("VMCTL_ACCEL")) {
    config.accel_override = parse_accel(*accel);
    if (!config.accel_override) {
      throw Error(errc::spec_invalid, fmt::format("VMCTL_ACCEL='{}' is not auto, kvm or tcg", *accel),
                  "set VMCTL_ACCEL to auto, kvm or tcg, or unset it");
    }
  }
  return config;
}

}  // namespace vm_manager::qemu
