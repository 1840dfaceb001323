// The logs QEMU writes (console.log, qemu.log), opened by vmctl and handed to
// QEMU as file descriptors: QEMU never opens their paths, so a log swapped
// for a symlink cannot make it append the guest's output (bytes the guest
// chooses) to a file elsewhere, with root's rights when vmctl runs as root.
#pragma once

#include <sys/types.h>

#include <filesystem>
#include <string>

#include "os/unique_fd.hpp"

namespace vm_manager::qemu {

// `path` opened for appending, created 0600 if missing; an existing one is
// made 0600 (the console can show secrets). Raises vm::unsafe_log when it is
// a symlink, not a regular file (a FIFO never blocks the open), has other
// hard links, or is not owned by us; vm::start_failed when it cannot be
// opened at all.
os::UniqueFd open_log(const std::filesystem::path& path);

// What the log holds from `offset` on (at most its last 64 KiB), read
// through the fd: for quoting what QEMU said when it failed.
std::string read_log_from(int fd, off_t offset);

// The log's size now, where what is written next begins.
off_t log_size(int fd);

}  // namespace vm_manager::qemu
