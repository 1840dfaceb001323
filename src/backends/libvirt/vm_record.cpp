#include "backends/libvirt/vm_record.hpp"

#include <fmt/format.h>

#include "backends/libvirt/domain_xml.hpp"
#include "vm_manager/error.hpp"

namespace vm_manager::libvirt {

void write_record(const VmRecord& r, VmHandle& handle) {
  handle.backend_state.version = 1;
  handle.backend_state.data = {{"uri", r.uri}, {"pool", r.pool}, {"network", r.network}, {"pool_path", r.pool_path}, {"uefi", r.uefi}};
}

VmRecord read_record(const VmHandle& handle) {
  const auto& d = handle.backend_state.data;
  try {
    if (handle.backend_state.version != 1) throw std::runtime_error("unknown version");
    return {d.at("uri").get<std::string>(), d.at("pool").get<std::string>(), d.at("network").get<std::string>(),
            d.at("pool_path").get<std::string>(), d.value("uefi", false)};
  } catch (const std::exception& e) {
    throw Error(errc::store_corrupt, fmt::format("VM '{}' has no usable libvirt record: {}", handle.name, e.what()),
                "restore the record from a backup, or destroy the VM's domain with virsh");
  }
}

bool metadata_names(const char* metadata, const std::string& vm_id) {
  if (metadata == nullptr) return false;
  auto id = metadata_vm_id(metadata);
  return id && *id == vm_id;
}

}  // namespace vm_manager::libvirt
