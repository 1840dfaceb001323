#include "backends/propolis/propolis_state.hpp"

#include <fmt/format.h>

#include "vm_manager/error.hpp"

namespace vm_manager::propolis {
namespace {

using nlohmann::json;

// Present fields must have their type; missing ones keep their default.
void take(const json& data, const char* key, std::string& out) {
  if (auto it = data.find(key); it != data.end() && !it->is_null()) it->get_to(out);
}

[[noreturn]] void unreadable(const VmHandle& handle, const std::string& why) {
  throw Error(errc::store_corrupt, fmt::format("VM '{}': its propolis state is unreadable: {}", handle.name, why),
              "restore its record from a backup, or destroy the VM");
}

}  // namespace

PropolisState PropolisState::of(const VmHandle& handle) {
  if (handle.backend_state.version > kVersion) {
    unreadable(handle, fmt::format("version {} is newer than this release reads ({})", handle.backend_state.version,
                                   kVersion));
  }
  PropolisState s;
  try {
    const json& d = handle.backend_state.data;
    take(d, "image_path", s.image_path);
    take(d, "overlay_path", s.overlay_path);
    take(d, "zone_name", s.zone_name);
    take(d, "propolis_address", s.propolis_address);
  } catch (const json::exception& e) {
    unreadable(handle, e.what());
  }
  return s;
}

void PropolisState::write_to(VmHandle& handle) const {
  handle.backend_state = BackendState{kVersion, json{{"image_path", image_path},
                                                     {"overlay_path", overlay_path},
                                                     {"zone_name", zone_name},
                                                     {"propolis_address", propolis_address}}};
}

}  // namespace vm_manager::propolis
