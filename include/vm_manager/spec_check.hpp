// Checks of a VmSpec that hold for every backend.
#pragma once

#include "vm_manager/export.hpp"

#include "vm_manager/types.hpp"

namespace vm_manager {

inline constexpr std::uint32_t kMaxVcpus = 512;
inline constexpr std::uint64_t kMinMemoryMb = 16;
inline constexpr std::uint64_t kMaxMemoryMb = 16ull * 1024 * 1024;  // 16 TiB
inline constexpr std::uint64_t kMaxDiskGb = 64ull * 1024;            // 64 TiB

// Raises vm::invalid_name or spec::invalid naming the offending field.
VM_MANAGER_API void validate_spec(const VmSpec& spec);

}  // namespace vm_manager
