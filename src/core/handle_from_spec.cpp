#include "core/handle_from_spec.hpp"

#include <algorithm>

#include <fmt/format.h>

#include "util/uuid.hpp"
#include "vm_manager/error.hpp"
#include "vm_manager/spec_check.hpp"

namespace vm_manager {

VmHandle handle_from_spec(const VmSpec& spec, std::string_view backend, const std::filesystem::path& work_dir) {
  VmHandle h;
  h.id = util::random_uuid();
  h.name = spec.name;
  h.backend = std::string(backend);
  h.work_dir = work_dir.string();
  h.disk_gb = spec.disk_gb;
  h.vcpus = spec.vcpus;
  h.memory_mb = spec.memory_mb;
  h.network = spec.network;
  h.port_forwards = spec.port_forwards;
  h.shared_folders = spec.shared_folders;
  h.data_disks = spec.data_disks;
  return h;
}

std::vector<PortForward> forwards_with(const VmHandle& handle, const PortForward& forward) {
  std::vector<PortForward> forwards = handle.port_forwards;
  forwards.push_back(forward);
  validate_port_forwards(forwards, handle.network);
  return forwards;
}

std::vector<PortForward> forwards_without(const VmHandle& handle, std::uint16_t host_port, PortProtocol protocol,
                                          PortForward& removed) {
  std::vector<PortForward> forwards = handle.port_forwards;
  auto it = std::find_if(forwards.begin(), forwards.end(), [&](const PortForward& f) {
    return f.host_port == host_port && f.protocol == protocol;
  });
  if (it == forwards.end()) {
    throw Error(errc::port_not_found,
                fmt::format("VM '{}' publishes no port {}/{}", handle.name, host_port, to_string(protocol)),
                "list the VM's published ports to see which it has");
  }
  removed = *it;
  forwards.erase(it);
  return forwards;
}

}  // namespace vm_manager
