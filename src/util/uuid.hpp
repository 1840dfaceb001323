#pragma once

#include <string>

namespace vm_manager::util {

// A random (version 4) UUID from the kernel's CSPRNG, lowercase.
std::string random_uuid();

}  // namespace vm_manager::util
