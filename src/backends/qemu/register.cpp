#include "backends/qemu/qemu_backend.hpp"
#include "vm_manager/backend_registry.hpp"

namespace vm_manager {

// QEMU is built only where it runs (Linux), and is the default there.
void register_qemu_backend(BackendRegistry& registry) {
  registry.add(
      std::string(qemu::kBackendId),
      [](const BackendContext& ctx) {
        return std::make_unique<qemu::QemuBackend>(ctx.data_dir, qemu::QemuConfig::from_environment(ctx.environment, ctx.bridge));
      },
      BackendDefault::platform);
}

}  // namespace vm_manager
