#include "core/handle_from_spec.hpp"

#include "util/uuid.hpp"

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
  h.shared_folders = spec.shared_folders;
  return h;
}

}  // namespace vm_manager
