// The one place vmctl reads its process environment. The library reads
// none: what it needs (HOME, XDG_*, VMCTL_*) reaches it in the Environment
// built here, and settings of vmctl's own are parsed here.
#pragma once

#include <chrono>

#include "vm_manager/environment.hpp"

namespace vmctl {

// HOME, the XDG_* folders, GITHUB_TOKEN and every VMCTL_* variable of this process.
vm_manager::Environment process_environment();

// VMCTL_LOCK_TIMEOUT in seconds, else the library's default. Raises Error
// when malformed.
std::chrono::milliseconds lock_timeout(const vm_manager::Environment& env);

}  // namespace vmctl
