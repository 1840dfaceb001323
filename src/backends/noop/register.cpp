#include "vm_manager/backend_registry.hpp"
#include "vm_manager/noop_backend.hpp"

namespace vm_manager {

void register_noop_backend(BackendRegistry& registry) {
  // It runs everywhere, so it is the default where no platform backend is.
  registry.add(
      std::string(NoopBackend::kId),
      [](const BackendContext& ctx) { return std::make_unique<NoopBackend>(ctx.data_dir); }, BackendDefault::fallback);
}

}  // namespace vm_manager
