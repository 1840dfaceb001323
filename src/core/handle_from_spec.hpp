#pragma once

#include <filesystem>

#include "vm_manager/types.hpp"

namespace vm_manager {

// The shared handle fields every backend copies from the spec, with a fresh
// id; the backend adds its own state.
VmHandle handle_from_spec(const VmSpec& spec, std::string_view backend, const std::filesystem::path& work_dir);

}  // namespace vm_manager
