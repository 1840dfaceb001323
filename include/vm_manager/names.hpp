// VM names double as directory names, zone names and hostnames, so they are
// checked before anything touches the disk.
#pragma once

#include "vm_manager/export.hpp"

#include <string_view>

namespace vm_manager {

inline constexpr std::size_t kMaxVmNameLength = 63;

// True for 1–63 characters of [A-Za-z0-9_.-] that begin with a letter or digit.
VM_MANAGER_API bool is_valid_vm_name(std::string_view name);

// Raises vm::invalid_name (saying what is wrong) unless is_valid_vm_name(name).
VM_MANAGER_API void validate_vm_name(std::string_view name);

}  // namespace vm_manager
