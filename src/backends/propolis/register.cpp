#include <cstdlib>
#include <string_view>

#include "backends/propolis/propolis_backend.hpp"
#include "vm_manager/backend_registry.hpp"

namespace vm_manager {
namespace {

BackendFactory propolis_factory() {
  return [](const BackendContext& ctx) {
    return std::make_unique<propolis::PropolisBackend>(
        ctx.data_dir, propolis::PropolisConfig::from_environment(ctx.zfs_pool), propolis::system_command_runner());
  };
}

// Elsewhere than illumos the backend only makes sense against stand-ins
// (tests/propolis/: fake tools first in PATH, a fake propolis-server), which
// VMCTL_PROPOLIS_EMULATE=1 asks for.
[[maybe_unused]] bool propolis_emulated() {
  const char* value = std::getenv("VMCTL_PROPOLIS_EMULATE");
  return value != nullptr && std::string_view(value) == "1";
}

}  // namespace

void register_propolis_backend(BackendRegistry& registry) {
#if defined(__illumos__) || defined(__sun)
  registry.add(BackendTag::propolis, propolis_factory(), /*platform_default=*/true);
#else
  if (propolis_emulated()) {
    registry.add(BackendTag::propolis, propolis_factory());
  } else {
    registry.add_unavailable(BackendTag::propolis, "the propolis backend runs only on illumos",
                             "on Linux use the qemu backend (or noop to try vmctl out)");
  }
#endif
}

}  // namespace vm_manager
