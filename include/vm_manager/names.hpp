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

// Snapshot names follow the VM-name rules; raises snapshot::invalid_name
// (saying what is wrong) otherwise.
VM_MANAGER_API void validate_snapshot_name(std::string_view name);

inline constexpr std::size_t kMaxHostnameLength = 253;
inline constexpr std::size_t kMaxHostnameLabelLength = 63;

// RFC 1123 host names, which the guest writes to /etc/hostname: labels of
// 1–63 letters, digits and '-' (neither first nor last in a label), joined
// by dots, 253 characters in all; letters of either case.
VM_MANAGER_API bool is_valid_hostname(std::string_view name);

// Raises spec::invalid (saying what is wrong) unless is_valid_hostname(name).
VM_MANAGER_API void validate_hostname(std::string_view name);

}  // namespace vm_manager
