#include "router/platform_backends.hpp"
#include "vm_manager/noop_backend.hpp"
#include "vm_manager/router.hpp"

namespace vm_manager {

void BackendRegistry::add(BackendTag tag, BackendFactory factory, bool platform_default) {
  entries_[tag] = Entry{std::move(factory), {}, {}};
  if (platform_default && !default_) default_ = tag;
}

void BackendRegistry::add_unavailable(BackendTag tag, std::string message, std::string help) {
  entries_[tag] = Entry{{}, std::move(message), std::move(help)};
}

BackendRegistry BackendRegistry::noop_only() {
  BackendRegistry registry;
  registry.add(BackendTag::noop, [](const BackendContext& ctx) {
    return std::make_unique<NoopBackend>(ctx.data_dir);
  });
  return registry;
}

BackendRegistry BackendRegistry::builtin() {
  BackendRegistry registry = noop_only();
  register_platform_backends(registry);
  return registry;
}

}  // namespace vm_manager
