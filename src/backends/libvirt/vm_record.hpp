// What the backend keeps in VmHandle::backend_state (version 1): the URI,
// pool and network the VM was placed with, so later commands reach the same
// host whatever their environment says.
#pragma once

#include <string>

#include "vm_manager/types.hpp"

namespace vm_manager::libvirt {

struct VmRecord {
  std::string uri;
  std::string pool;
  std::string network;
  std::string pool_path;  // the pool's folder when the VM was made
  bool uefi = false;      // it has NVRAM (UEFI variables), which undefine removes
};

void write_record(const VmRecord& record, VmHandle& handle);
// Raises store::corrupt when the handle has no (or a malformed) record.
VmRecord read_record(const VmHandle& handle);

// True when the metadata XML libvirt returned names `vm_id`.
bool metadata_names(const char* metadata, const std::string& vm_id);

}  // namespace vm_manager::libvirt
