#include "router/platform_backends.hpp"

namespace vm_manager {

void register_platform_backends(BackendRegistry& registry) {
  registry.add_unavailable(BackendTag::qemu, "the qemu backend runs only on Linux",
                           "use --backend noop on this platform");
  registry.add_unavailable(BackendTag::propolis, "the propolis backend runs only on illumos",
                           "use --backend noop on this platform");
}

}  // namespace vm_manager
