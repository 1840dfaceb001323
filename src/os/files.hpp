// File primitives with the durability guarantees the store relies on.
#pragma once

#include <sys/types.h>

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

namespace vm_manager::os {

// Whether a write must outlive a crash of the host, not just of the process.
enum class Sync {
  durable,    // fsync the file, and its folder after the rename
  this_boot,  // no fsync: readers see it at once, a host crash may lose it
};

// Replaces `path` with `data` so that readers see either the old content or
// the new one: temp file in the same folder, rename. Sync::durable adds an
// fsync before the rename and one of the folder after it, so that a crash of
// the host at any instant leaves one or the other too. Raises store::io.
void write_file_atomic(const std::filesystem::path& path, std::string_view data, mode_t mode = 0600,
                       Sync sync = Sync::durable);

// Creates `path` empty with mode 0600 unless it exists (then it is left as
// it is). Raises store::io.
void create_private_file(const std::filesystem::path& path);

// The whole file, or nullopt when it does not exist. Raises store::io.
std::optional<std::string> read_file(const std::filesystem::path& path);

// The whole of a file the user names, read without trusting it: opened
// with O_NONBLOCK (a FIFO cannot block the open), refused unless fstat shows
// a regular file (no FIFO, device such as /dev/zero, socket or folder is
// read), refused when larger than `max_bytes` before anything is read, and
// the read itself stops after max_bytes + 1 (a file that grows meanwhile).
// `what` names the file in messages ("cloud-init user-data"). Raises
// input::not_found, input::not_regular, input::too_large, input::unreadable.
std::string read_regular_file(const std::filesystem::path& path, std::size_t max_bytes, std::string_view what);

// Creates a folder with the given mode; false when it already existed.
// Raises store::io for any other failure.
bool make_dir(const std::filesystem::path& path, mode_t mode = 0700);

// Writes all of `data` to `fd`, across EINTR and short writes, waiting for a
// non-blocking fd to accept more. Returns 0, or the errno that stopped it.
int write_fully(int fd, std::string_view data);

// True for the temp files write_file_atomic leaves behind when killed.
bool is_temp_file_name(std::string_view file_name);

}  // namespace vm_manager::os
