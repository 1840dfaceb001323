#include "backends/libvirt/config.hpp"

#include <charconv>

#include <fmt/format.h>

#include "vm_manager/error.hpp"

namespace vm_manager::libvirt {

LibvirtConfig LibvirtConfig::from_environment(const Environment& env) {
  LibvirtConfig config;
  if (auto uri = env.get("VMCTL_LIBVIRT_URI")) config.default_uri = *uri;
  if (auto pool = env.get("VMCTL_LIBVIRT_POOL")) config.default_pool = *pool;
  if (auto network = env.get("VMCTL_LIBVIRT_NETWORK")) config.default_network = *network;
  if (auto accel = env.get("VMCTL_ACCEL")) {
    config.accel_override = parse_accel(*accel);
    if (!config.accel_override) {
      throw Error(errc::spec_invalid, fmt::format("VMCTL_ACCEL='{}' is not auto, kvm or tcg", *accel),
                  "set VMCTL_ACCEL to auto, kvm or tcg, or unset it");
    }
  }
  if (auto text = env.get("VMCTL_LIBVIRT_CONNECT_TIMEOUT")) {
    unsigned seconds = 0;
    auto [end, ec] = std::from_chars(text->data(), text->data() + text->size(), seconds);
    if (ec != std::errc() || end != text->data() + text->size() || seconds == 0 || seconds > 3600) {
      throw Error(errc::spec_invalid, fmt::format("VMCTL_LIBVIRT_CONNECT_TIMEOUT='{}' is not a number from 1 to 3600", *text),
                  "set VMCTL_LIBVIRT_CONNECT_TIMEOUT to a number of seconds, or unset it");
    }
    config.connect_timeout = std::chrono::seconds(seconds);
  }
  return config;
}

Placement placement_from(const std::map<std::string, std::string>& options, const LibvirtConfig& config) {
  auto option = [&](const char* name, const std::string& fallback) {
    auto it = options.find(name);
    return it == options.end() || it->second.empty() ? fallback : it->second;
  };
  Placement p;
  p.uri = option("connect", config.default_uri);
  p.pool = option("pool", config.default_pool);
  p.network = option("network", config.default_network);
  p.host = option("host", p.uri);
  return p;
}

}  // namespace vm_manager::libvirt
