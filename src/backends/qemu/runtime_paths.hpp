// Where a VM's sockets live. A unix socket path holds at most 107 bytes, and
// a data dir under a long home folder plus a 63-character VM name can exceed
// that; then the sockets move to a private runtime folder.
#pragma once

#include <filesystem>
#include <optional>
#include <string>

namespace vm_manager::qemu {

// work_dir when its socket paths fit, else <runtime_dir>/vmctl/<id> or
// /tmp/vmctl-<uid>/<id> (created 0700, refused when not ours).
std::filesystem::path socket_dir_for(const std::filesystem::path& work_dir, const std::string& vm_id,
                                     const std::optional<std::filesystem::path>& runtime_dir);

}  // namespace vm_manager::qemu
