#include "backends/qemu/qemu_backend.hpp"
#include "router/platform_backends.hpp"

namespace vm_manager {

void register_platform_backends(BackendRegistry& registry) {
  registry.add(
      BackendTag::qemu,
      [](const BackendContext& ctx) {
        return std::make_unique<qemu::QemuBackend>(ctx.data_dir, qemu::QemuConfig::from_environment(ctx.bridge));
      },
      /*platform_default=*/true);
  registry.add_unavailable(BackendTag::propolis, "the propolis backend runs only on illumos",
                           "on Linux use --backend qemu (or noop to try vmctl out)");
}

}  // namespace vm_manager
