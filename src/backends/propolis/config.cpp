#include "backends/propolis/config.hpp"

#include <fmt/format.h>

#include <charconv>

#include "vm_manager/error.hpp"

namespace vm_manager::propolis {
namespace {

std::uint64_t number_from_env(const char* name, const std::string& text, std::uint64_t low, std::uint64_t high) {
  std::uint64_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || value < low || value > high) {
    throw Error(errc::spec_invalid, fmt::format("{}='{}' is not a number from {} to {}", name, text, low, high),
                fmt::format("set {} to a number from {} to {}, or unset it", name, low, high));
  }
  return value;
}

}  // namespace

PropolisConfig PropolisConfig::from_environment(const Environment& env, const std::optional<std::string>& zfs_pool) {
  PropolisConfig config;
  if (auto pool = env.get("VMCTL_ZFS_POOL")) config.zfs_pool = *pool;
  if (zfs_pool) config.zfs_pool = *zfs_pool;
  if (auto link = env.get("VMCTL_PROPOLIS_LINK")) config.physical_link = *link;
  if (auto root = env.get("VMCTL_PROPOLIS_ZONES_ROOT")) config.zones_root = *root;
  if (auto dir = env.get("VMCTL_PROPOLIS_DIR")) config.propolis_dir = *dir;
  if (auto dir = env.get("VMCTL_PROPOLIS_ZVOL_DIR")) config.zvol_dir = *dir;
  if (auto rom = env.get("VMCTL_PROPOLIS_BOOTROM")) config.bootrom = *rom;
  if (auto cpus = env.get("VMCTL_PROPOLIS_MAX_VCPUS")) {
    config.max_vcpus = static_cast<std::uint32_t>(
        number_from_env("VMCTL_PROPOLIS_MAX_VCPUS", *cpus, 1, kOmicronBuildMaxVcpus));
  }
  if (auto port = env.get("VMCTL_PROPOLIS_PORT")) {
    config.api_port = static_cast<std::uint16_t>(number_from_env("VMCTL_PROPOLIS_PORT", *port, 1, 65535));
  }
  if (auto seconds = env.get("VMCTL_PROPOLIS_START_TIMEOUT")) {
    config.start_timeout = std::chrono::seconds(number_from_env("VMCTL_PROPOLIS_START_TIMEOUT", *seconds, 1, 86400));
  }
  return config;
}

}  // namespace vm_manager::propolis
