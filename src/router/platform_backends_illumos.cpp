#include "backends/propolis/propolis_backend.hpp"
#include "router/platform_backends.hpp"

namespace vm_manager {

void register_platform_backends(BackendRegistry& registry) {
  registry.add(
      BackendTag::propolis,
      [](const BackendContext& ctx) {
        return std::make_unique<propolis::PropolisBackend>(
            ctx.data_dir, propolis::PropolisConfig::from_environment(ctx.zfs_pool), propolis::system_command_runner());
      },
      /*platform_default=*/true);
  registry.add_unavailable(BackendTag::qemu, "the qemu backend runs only on Linux",
                           "on illumos use --backend propolis (or noop to try vmctl out)");
}

}  // namespace vm_manager
