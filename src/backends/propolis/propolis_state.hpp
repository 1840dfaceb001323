// The propolis backend's own part of vm.json (the handle's backend_state),
// and its one VmSpec option.
#pragma once

#include <optional>
#include <string>

#include "vm_manager/types.hpp"

namespace vm_manager::propolis {

// VmSpec::backend_options key: the zone's propolis-server address, IP/PREFIX.
inline constexpr const char* kApiOption = "propolis_api";

// Version 1 names and types its fields as record format 1 had them flat in
// the handle, so a format-1 record migrates by moving them (store.cpp).
struct PropolisState {
  static constexpr int kVersion = 1;

  std::string image_path;        // "<image>@<snapshot>" the disk is cloned from
  std::string overlay_path;      // the disk's zvol device
  std::string zone_name;         // the nebula-vm zone
  std::string propolis_address;  // its propolis-server, "ip:port"

  // Raises store::corrupt when the handle holds no propolis state this
  // release reads.
  static PropolisState of(const VmHandle& handle);
  void write_to(VmHandle& handle) const;
};

}  // namespace vm_manager::propolis
