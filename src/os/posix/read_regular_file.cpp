// The bounded reader for files the user names: a path can lead to a FIFO
// (which would block the open and every read), to /dev/zero (endless) or
// to a huge file (memory), so nothing is read before fstat says how much.
#include "os/files.hpp"
#include "os/unique_fd.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstring>

#include <fmt/format.h>

#include "vm_manager/error.hpp"

namespace vm_manager::os {
namespace fs = std::filesystem;
namespace {

std::string_view kind_of(mode_t mode) {
  if (S_ISDIR(mode)) return "a folder";
  if (S_ISFIFO(mode)) return "a FIFO";
  if (S_ISCHR(mode)) return "a character device";
  if (S_ISBLK(mode)) return "a block device";
  if (S_ISSOCK(mode)) return "a socket";
  return "not a regular file";
}

[[noreturn]] void unreadable(std::string_view what, const fs::path& path, int err) {
  throw Error(errc::input_unreadable, fmt::format("cannot read {} {}: {}", what, path.string(), std::strerror(err)),
              "check the file's permissions");
}

std::string size_text(std::size_t bytes) {
  constexpr std::size_t kKiB = 1024, kMiB = 1024 * 1024;
  if (bytes >= kMiB && bytes % kMiB == 0) return fmt::format("{} MiB", bytes / kMiB);
  if (bytes >= kKiB && bytes % kKiB == 0) return fmt::format("{} KiB", bytes / kKiB);
  return fmt::format("{} bytes", bytes);
}

[[noreturn]] void too_large(std::string_view what, const fs::path& path, std::size_t max_bytes) {
  throw Error(errc::input_too_large, fmt::format("{} {} is larger than {}", what, path.string(), size_text(max_bytes)),
              fmt::format("keep it to {} at most", size_text(max_bytes)));
}

}  // namespace

std::string read_regular_file(const fs::path& path, std::size_t max_bytes, std::string_view what) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC));
  if (fd.get() < 0) {
    if (errno == ENOENT || errno == ENOTDIR) {
      throw Error(errc::input_not_found, fmt::format("{} {} does not exist", what, path.string()),
                  "check the path");
    }
    unreadable(what, path, errno);
  }
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) unreadable(what, path, errno);
  if (!S_ISREG(st.st_mode)) {
    throw Error(errc::input_not_regular, fmt::format("{} {} is {}", what, path.string(), kind_of(st.st_mode)),
                "give the path of a regular file");
  }
  if (static_cast<std::uintmax_t>(st.st_size) > max_bytes) too_large(what, path, max_bytes);

  std::string content(static_cast<std::size_t>(st.st_size), '\0');
  std::size_t used = 0;
  for (;;) {
    // One byte of room past the limit tells a file that grew from one that fits.
    if (used == content.size()) content.resize(std::min(max_bytes + 1, content.size() * 2 + 4096));
    if (used == content.size()) too_large(what, path, max_bytes);
    ssize_t n = ::read(fd.get(), content.data() + used, content.size() - used);
    if (n < 0) {
      if (errno == EINTR) continue;
      unreadable(what, path, errno);
    }
    if (n == 0) break;
    used += static_cast<std::size_t>(n);
  }
  if (used > max_bytes) too_large(what, path, max_bytes);
  content.resize(used);
  return content;
}

}  // namespace vm_manager::os
