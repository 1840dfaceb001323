#pragma once

#include <string>
#include <string_view>

namespace vm_manager::util {

// A random (version 4) UUID from the kernel's CSPRNG, lowercase.
std::string random_uuid();

// Whether `text` is a UUID as random_uuid() writes one: 8-4-4-4-12 lowercase
// hex digits. Ids read back from a record are checked with it before they
// become part of a path.
bool is_uuid(std::string_view text);

}  // namespace vm_manager::util
