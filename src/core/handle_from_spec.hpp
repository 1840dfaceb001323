#pragma once

#include <filesystem>

#include "vm_manager/types.hpp"

namespace vm_manager {

// The handle fields every backend copies from the spec, with a fresh id.
VmHandle handle_from_spec(const VmSpec& spec, std::string_view backend, const std::filesystem::path& work_dir);

}  // namespace vm_manager
