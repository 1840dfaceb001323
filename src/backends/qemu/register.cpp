#include "backends/qemu/qemu_backend.hpp"
#include "vm_manager/backend_registry.hpp"

#include <utility>

namespace vm_manager {

// QEMU is built only where it runs (Linux), and is the default there.
void register_qemu_backend(BackendRegistry& registry) {
  registry.add(
      std::string(qemu::kBackendId),
      [](const BackendContext& ctx) {
        qemu::QemuConfig config = qemu::QemuConfig::from_environment(ctx.environment, ctx.bridge);
        config.log = Logger(ctx.log);
        return std::make_unique<qemu::QemuBackend>(ctx.data_dir, std::move(config));
      },
      BackendDefault::platform);
}

}  // namespace vm_manager
