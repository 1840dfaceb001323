// Each platform's file adds the backends it can run and marks the others
// unavailable with a reason; exactly one platform_backends_*.cpp is built.
#pragma once

#include "vm_manager/router.hpp"

namespace vm_manager {

void register_platform_backends(BackendRegistry& registry);

}  // namespace vm_manager
