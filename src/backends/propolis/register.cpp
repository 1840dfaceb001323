#include "backends/propolis/propolis_backend.hpp"
#include "vm_manager/backend_registry.hpp"
#include "vm_manager/error.hpp"

#include <utility>

namespace vm_manager {
namespace {

// Elsewhere than illumos the backend only makes sense against stand-ins
// (tests/propolis/: fake tools first in PATH, a fake propolis-server), which
// VMCTL_PROPOLIS_EMULATE=1 asks for.
void require_illumos_or_emulation([[maybe_unused]] const Environment& env) {
#if !defined(__illumos__) && !defined(__sun)
  if (env.get("VMCTL_PROPOLIS_EMULATE") != "1") {
    throw Error(errc::backend_not_available, "the propolis backend runs only on illumos",
                "on Linux use the qemu backend (or noop, which runs no VM)");
  }
#endif
}

}  // namespace

void register_propolis_backend(BackendRegistry& registry) {
#if defined(__illumos__) || defined(__sun)
  constexpr BackendDefault kDefault = BackendDefault::platform;
#else
  constexpr BackendDefault kDefault = BackendDefault::no;
#endif
  registry.add(
      std::string(propolis::kBackendId),
      [](const BackendContext& ctx) -> std::unique_ptr<Hypervisor> {
        require_illumos_or_emulation(ctx.environment);
        propolis::PropolisConfig config = propolis::PropolisConfig::from_environment(ctx.environment, ctx.zfs_pool);
        config.log = Logger(ctx.log);
        return std::make_unique<propolis::PropolisBackend>(ctx.data_dir, std::move(config),
                                                           propolis::system_command_runner());
      },
      kDefault);
}

}  // namespace vm_manager
