// `vmctl create --mount HOST[:GUEST][:ro]`, read the way Lima reads its
// mounts: the guest path defaults to the host path.
#pragma once

#include <filesystem>
#include <string_view>

#include "vm_manager/types.hpp"

namespace vmctl {

// HOST, HOST:ro, HOST:GUEST or HOST:GUEST:ro (":rw" is accepted for the
// default). A relative HOST is made absolute against `cwd` (the library
// takes only absolute ones); GUEST is left as written, for the library to
// judge. Raises mount::invalid_path for an empty HOST, an unknown mode or
// too many fields (a host path holding ':' cannot be given this way).
vm_manager::SharedFolder parse_mount_flag(std::string_view text, const std::filesystem::path& cwd);

}  // namespace vmctl
