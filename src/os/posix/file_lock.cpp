#include "os/file_lock.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>

#include <fmt/format.h>

#include "vm_manager/error.hpp"

namespace vm_manager::os {
namespace fs = std::filesystem;
namespace {

[[noreturn]] void io_error(std::string_view what, const fs::path& path, int err) {
  throw Error(errc::store_io, fmt::format("cannot {} {}: {}", what, path.string(), std::strerror(err)),
              "check the permissions of the data dir");
}

// The lock we got is on the file currently at `path`, not on one its previous
// holder unlinked (or replaced) while we waited.
bool still_linked(int fd, const fs::path& path) {
  struct stat held {};
  struct stat current {};
  if (::fstat(fd, &held) != 0) return false;
  if (::stat(path.c_str(), &current) != 0) return false;
  return held.st_dev == current.st_dev && held.st_ino == current.st_ino;
}

// The pid, padded to a fixed width so each holder overwrites the last in
// place: truncating first would cost a journal transaction (a millisecond on
// ext4) on every command that takes the lock.
void record_holder(int fd) {
  const std::string pid = fmt::format("{:<19}\n", ::getpid());
  // Best effort: the pid only improves the message a waiter prints.
  [[maybe_unused]] ssize_t n = ::pwrite(fd, pid.data(), pid.size(), 0);
}

}  // namespace

long lock_holder(int fd) {
  char buffer[32] = {};
  ssize_t n = ::pread(fd, buffer, sizeof buffer - 1, 0);
  if (n <= 0) return 0;
  return std::strtol(buffer, nullptr, 10);
}

std::optional<int> lock_exclusive(const fs::path& path, std::chrono::milliseconds timeout,
                                  const std::function<void(long holder_pid)>& on_wait) {
  using Clock = std::chrono::steady_clock;
  const auto deadline = Clock::now() + timeout;
  auto pause = std::chrono::milliseconds(1);
  bool told = false;
  for (;;) {
    int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) io_error("open", path, errno);
    if (::flock(fd, LOCK_EX | LOCK_NB) == 0) {
      if (still_linked(fd, path)) {
        record_holder(fd);
        return fd;
      }
      ::close(fd);  // the holder removed it; lock the new one
      continue;
    }
    int err = errno;
    if (err != EWOULDBLOCK && err != EINTR) {
      ::close(fd);
      io_error("lock", path, err);
    }
    if (!told && on_wait) {
      on_wait(lock_holder(fd));
      told = true;
    }
    ::close(fd);
    if (Clock::now() >= deadline) return std::nullopt;
    // Polling, not a blocking flock: flock has no timeout. The pause grows so
    // a long wait costs little, and stays short so a waiter follows quickly.
    std::this_thread::sleep_for(std::min<Clock::duration>(pause, deadline - Clock::now()));
    pause = std::min(pause * 2, std::chrono::milliseconds(25));
  }
}

bool is_locked(const fs::path& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  bool locked = ::flock(fd, LOCK_SH | LOCK_NB) != 0 && errno == EWOULDBLOCK;
  ::close(fd);
  return locked;
}

}  // namespace vm_manager::os
