#include <cstdlib>
#include <string_view>

#include "backends/propolis/propolis_backend.hpp"
#include "backends/qemu/qemu_backend.hpp"
#include "router/platform_backends.hpp"

namespace vm_manager {
namespace {

// The propolis backend drives illumos tools and propolis-server. On Linux it
// only makes sense against stand-ins (tests/propolis/: fake tools first in
// PATH, a fake propolis-server), which VMCTL_PROPOLIS_EMULATE=1 asks for.
bool propolis_emulated() {
  const char* value = std::getenv("VMCTL_PROPOLIS_EMULATE");
  return value != nullptr && std::string_view(value) == "1";
}

}  // namespace

void register_platform_backends(BackendRegistry& registry) {
  registry.add(
      BackendTag::qemu,
      [](const BackendContext& ctx) {
        return std::make_unique<qemu::QemuBackend>(ctx.data_dir, qemu::QemuConfig::from_environment(ctx.bridge));
      },
      /*platform_default=*/true);
  if (propolis_emulated()) {
    registry.add(BackendTag::propolis, [](const BackendContext& ctx) {
      return std::make_unique<propolis::PropolisBackend>(
          ctx.data_dir, propolis::PropolisConfig::from_environment(ctx.zfs_pool), propolis::system_command_runner());
    });
  } else {
    registry.add_unavailable(BackendTag::propolis, "the propolis backend runs only on illumos",
                             "on Linux use --backend qemu (or noop to try vmctl out)");
  }
}

}  // namespace vm_manager
