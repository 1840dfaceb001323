#include "router/platform_backends.hpp"

namespace vm_manager {

void register_platform_backends(BackendRegistry& registry) {
  // Until the QEMU backend lands, Linux runs only the noop backend, which is
  // then also the default.
  registry.add_unavailable(BackendTag::qemu, "the qemu backend is not part of this build yet",
                           "use --backend noop for now");
  registry.add_unavailable(BackendTag::propolis, "the propolis backend runs only on illumos",
                           "on Linux use --backend qemu (or noop to try vmctl out)");
}

}  // namespace vm_manager
