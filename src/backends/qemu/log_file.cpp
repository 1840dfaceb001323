#include "backends/qemu/log_file.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include <fmt/format.h>

#include "vm_manager/error.hpp"

namespace vm_manager::qemu {
namespace {

constexpr off_t kMaxQuoted = 64 * 1024;

[[noreturn]] void unsafe(const std::filesystem::path& path, std::string_view why) {
  throw Error(errc::vm_unsafe_log, fmt::format("refusing to write to {}: it {}", path.string(), why),
              "move it out of the way; the VM's next start creates a new log in its place");
}

}  // namespace

os::UniqueFd open_log(const std::filesystem::path& path) {
  // O_NONBLOCK: opening a FIFO for writing would wait for a reader.
  os::UniqueFd fd(::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW | O_NOCTTY | O_NONBLOCK | O_CLOEXEC,
                         0600));
  if (fd.get() < 0) {
    if (errno == ELOOP) unsafe(path, "is a symbolic link");
    if (errno == ENXIO) unsafe(path, "is not a regular file");
    throw Error(errc::vm_start_failed, fmt::format("cannot open {}: {}", path.string(), std::strerror(errno)),
                "check the permissions of the VM's folder");
  }
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode)) unsafe(path, "is not a regular file");
  if (st.st_uid != ::geteuid()) unsafe(path, fmt::format("belongs to uid {}, not to us", st.st_uid));
  // A hard link would make another file take the guest's output.
  if (st.st_nlink != 1) unsafe(path, "has other hard links");
  if ((st.st_mode & 07777) != 0600 && ::fchmod(fd.get(), 0600) != 0) {
    throw Error(errc::vm_start_failed, fmt::format("cannot make {} private: {}", path.string(), std::strerror(errno)),
                "check the permissions of the VM's folder");
  }
  ::fcntl(fd.get(), F_SETFL, O_WRONLY | O_APPEND);  // QEMU writes it as a plain file
  return fd;
}

off_t log_size(int fd) {
  struct stat st {};
  return ::fstat(fd, &st) == 0 ? st.st_size : 0;
}

std::string read_log_from(int fd, off_t offset) {
  // Opened write-only for QEMU; read through a second open of the same file.
  os::UniqueFd reader(::open(fmt::format("/proc/self/fd/{}", fd).c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY));
  if (reader.get() < 0) return {};
  off_t start = std::max(offset, log_size(fd) - kMaxQuoted);
  std::string text;
  char buffer[16384];
  for (;;) {
    ssize_t n = ::pread(reader.get(), buffer, sizeof buffer, start + static_cast<off_t>(text.size()));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    text.append(buffer, static_cast<std::size_t>(n));
    if (static_cast<off_t>(text.size()) >= kMaxQuoted) break;
  }
  return text;
}

}  // namespace vm_manager::qemu
