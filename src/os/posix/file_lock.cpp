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

[[noreturn]] void unsafe(const fs::path& path, std::string_view why) {
  throw Error(errc::store_unsafe_lock, fmt::format("refusing lock file {}: {}", path.string(), why),
              "remove it; a new lock file is made when one is needed");
}

// Opens the lock file without following a symlink or blocking on a FIFO;
// -1 with errno ENOENT when it is missing and not to be created.
int open_lock_file(const fs::path& path, IfMissing if_missing) {
  int flags = O_RDWR | O_NOFOLLOW | O_NOCTTY | O_NONBLOCK | O_CLOEXEC;
  if (if_missing == IfMissing::create) flags |= O_CREAT;
  int fd = ::open(path.c_str(), flags, 0600);
  if (fd >= 0) return fd;
  int err = errno;
  if (err == ENOENT && if_missing == IfMissing::fail) return -1;
  if (err == ELOOP) unsafe(path, "it is a symbolic link");
  io_error("open", path, err);
}

// Before anything is written to it: a regular file of ours that no other
// name links to. A link count of 0 is a lock file its holder just removed,
// which still_linked() turns away after locking.
void require_private_lock_file(int fd, const fs::path& path) {
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    int err = errno;
    ::close(fd);
    io_error("inspect", path, err);
  }
  std::string why;
  if (!S_ISREG(st.st_mode)) {
    why = "it is not a regular file";
  } else if (st.st_uid != ::geteuid()) {
    why = fmt::format("it belongs to uid {}, not to uid {}", st.st_uid, ::geteuid());
  } else if (st.st_nlink > 1) {
    why = fmt::format("it has {} hard links", st.st_nlink);
  }
  if (why.empty()) return;
  ::close(fd);
  unsafe(path, why);
}

// The lock we got is on the file currently at `path`, not on one its previous
// holder unlinked (or replaced) while we waited.
bool still_linked(int fd, const fs::path& path) {
  struct stat held {};
  struct stat current {};
  if (::fstat(fd, &held) != 0) return false;
  if (::lstat(path.c_str(), &current) != 0) return false;
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

LockResult lock_exclusive(const fs::path& path, std::chrono::milliseconds timeout,
                          const std::function<void(long holder_pid)>& on_wait, IfMissing if_missing) {
  using Clock = std::chrono::steady_clock;
  const auto deadline = Clock::now() + timeout;
  auto pause = std::chrono::milliseconds(1);
  bool told = false;
  for (;;) {
    int fd = open_lock_file(path, if_missing);
    if (fd < 0) return {LockResult::Outcome::missing};
    require_private_lock_file(fd, path);
    if (::flock(fd, LOCK_EX | LOCK_NB) == 0) {
      if (still_linked(fd, path)) {
        record_holder(fd);
        return {LockResult::Outcome::locked, fd};
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
    if (Clock::now() >= deadline) return {LockResult::Outcome::timed_out};
    // Polling, not a blocking flock: flock has no timeout. The pause grows so
    // a long wait costs little, and stays short so a waiter follows quickly.
    std::this_thread::sleep_for(std::min<Clock::duration>(pause, deadline - Clock::now()));
    pause = std::min(pause * 2, std::chrono::milliseconds(25));
  }
}

std::optional<int> lock_exclusive(const fs::path& path, std::chrono::milliseconds timeout,
                                  const std::function<void(long holder_pid)>& on_wait) {
  LockResult result = lock_exclusive(path, timeout, on_wait, IfMissing::create);
  if (result.outcome != LockResult::Outcome::locked) return std::nullopt;
  return result.fd;
}

bool is_locked(const fs::path& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) return false;
  bool locked = ::flock(fd, LOCK_SH | LOCK_NB) != 0 && errno == EWOULDBLOCK;
  ::close(fd);
  return locked;
}

}  // namespace vm_manager::os
