#include "vm_manager/hypervisor.hpp"

#include <fmt/format.h>

#include "vm_manager/error.hpp"

namespace vm_manager {

void Hypervisor::destroy_remains(const VmHandle&) {}

ConsoleHistory Hypervisor::console_history(const VmHandle& handle) {
  throw Error(errc::console_unavailable,
              fmt::format("VM '{}' keeps no console history in its backend ({})", handle.name,
                          to_string(handle.backend)),
              "read the VM's console log instead");
}

}  // namespace vm_manager
