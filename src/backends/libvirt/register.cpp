#include "backends/libvirt/libvirt_backend.hpp"
#include "vm_manager/backend_registry.hpp"

#include <utility>

namespace vm_manager {

// Only VMs that ask for it (--backend libvirt, --connect URI) use libvirt.
void register_libvirt_backend(BackendRegistry& registry) {
  registry.add(
      std::string(libvirt::kBackendId),
      [](const BackendContext& ctx) {
        libvirt::LibvirtConfig config = libvirt::LibvirtConfig::from_environment(ctx.environment);
        config.log = Logger(ctx.log);
        return std::make_unique<libvirt::LibvirtBackend>(ctx.data_dir, std::move(config));
      },
      BackendDefault::no);
}

}  // namespace vm_manager
