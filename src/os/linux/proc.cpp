#include "os/proc.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <string>

#include "os/files.hpp"

namespace vm_manager::os {
namespace {

// Direct system calls: glibc 2.36's <sys/pidfd.h> lacks C++ linkage.
int pidfd_open(pid_t pid) { return static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)); }
int pidfd_send_signal(int fd, int signal) {
  return static_cast<int>(::syscall(SYS_pidfd_send_signal, fd, signal, nullptr, 0));
}

// A pidfd for the process at `pid`, verified to be the one that started at
// `start_time`: once open, a pidfd cannot come to mean another process.
int open_verified_pidfd(pid_t pid, std::uint64_t start_time) {
  if (pid <= 0) return -1;
  int fd = pidfd_open(pid);
  if (fd < 0) return -1;
  auto stat = read_proc_stat(pid);
  if (!stat || stat->start_time != start_time) {
    ::close(fd);
    return -1;
  }
  return fd;
}

}  // namespace

std::optional<ProcessIdentity> read_process_identity(pid_t pid) {
  if (pid <= 0) return std::nullopt;
  std::string proc = "/proc/" + std::to_string(pid);
  char target[4096];
  ssize_t n = ::readlink((proc + "/exe").c_str(), target, sizeof target);
  if (n <= 0 || std::size_t(n) == sizeof target) return std::nullopt;
  std::optional<std::string> cmdline;
  try {
    cmdline = read_file(proc + "/cmdline");
  } catch (...) {
    return std::nullopt;
  }
  if (!cmdline) return std::nullopt;
  ProcessIdentity identity{std::string(target, std::size_t(n)), {}};
  std::size_t start = 0;
  while (start < cmdline->size()) {
    std::size_t end = cmdline->find('\0', start);
    if (end == std::string::npos) end = cmdline->size();
    identity.argv.push_back(cmdline->substr(start, end - start));
    start = end + 1;
  }
  return identity;
}

std::optional<ProcStat> read_proc_stat(pid_t pid) {
  if (pid <= 0) return std::nullopt;
  std::optional<std::string> text;
  try {
    text = read_file("/proc/" + std::to_string(pid) + "/stat");
  } catch (...) {
    return std::nullopt;
  }
  if (!text) return std::nullopt;
  // The command name (field 2) may contain spaces and ')', so fields are
  // counted from the last ')'.
  auto close = text->rfind(')');
  if (close == std::string::npos || close + 2 >= text->size()) return std::nullopt;
  ProcStat stat;
  stat.state = (*text)[close + 2];
  // Field 3 is the state; field 22 the start time: 19 fields further on.
  std::size_t pos = close + 2;
  for (int field = 3; field < 22; ++field) {
    pos = text->find(' ', pos);
    if (pos == std::string::npos) return std::nullopt;
    ++pos;
  }
  auto end = text->find(' ', pos);
  if (end == std::string::npos) end = text->size();
  auto [ptr, ec] = std::from_chars(text->data() + pos, text->data() + end, stat.start_time);
  if (ec != std::errc()) return std::nullopt;
  return stat;
}

bool is_running_process(pid_t pid, std::uint64_t start_time) {
  auto stat = read_proc_stat(pid);
  return stat && stat->start_time == start_time && stat->state != 'Z' && stat->state != 'X';
}

bool signal_process(pid_t pid, std::uint64_t start_time, const IdentityCheck& is_expected, int signal) {
  int fd = pidfd_open(pid > 0 ? pid : -1);
  if (fd < 0) return false;
  // The pidfd is opened first: then a start time read last that still
  // matches proves the identity read before it was of the same process.
  std::optional<ProcessIdentity> identity = read_process_identity(pid);
  bool expected = identity && is_expected(*identity);
  std::optional<ProcStat> stat = read_proc_stat(pid);
  bool sent = expected && stat && stat->start_time == start_time && pidfd_send_signal(fd, signal) == 0;
  ::close(fd);
  return sent;
}

bool wait_for_exit(pid_t pid, std::uint64_t start_time, std::chrono::milliseconds timeout) {
  int fd = open_verified_pidfd(pid, start_time);
  if (fd < 0) return true;  // not there any more, or another process now
  using Clock = std::chrono::steady_clock;
  auto deadline = Clock::now() + timeout;
  bool gone = false;
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    pollfd p{fd, POLLIN, 0};
    int n = ::poll(&p, 1, static_cast<int>(std::max<long>(left, 0)));
    if (n > 0) {
      gone = true;  // readable: the process has exited (zombie or reaped)
      break;
    }
    if (n == 0 || (n < 0 && errno != EINTR)) break;
  }
  ::close(fd);
  return gone || !is_running_process(pid, start_time);
}

std::chrono::system_clock::time_point boot_time() {
  // CLOCK_BOOTTIME counts from boot, suspends included; the wall clock now
  // minus it is when the boot began.
  timespec since_boot{};
  ::clock_gettime(CLOCK_BOOTTIME, &since_boot);
  auto up = std::chrono::seconds(since_boot.tv_sec) + std::chrono::nanoseconds(since_boot.tv_nsec);
  return std::chrono::system_clock::now() - std::chrono::duration_cast<std::chrono::system_clock::duration>(up);
}

}  // namespace vm_manager::os
