#include "vm_manager/backend_registry.hpp"
#include "vm_manager/noop_backend.hpp"

namespace vm_manager {

void register_noop_backend(BackendRegistry& registry) {
  registry.add(BackendTag::noop, [](const BackendContext& ctx) { return std::make_unique<NoopBackend>(ctx.data_dir); });
}

}  // namespace vm_manager
