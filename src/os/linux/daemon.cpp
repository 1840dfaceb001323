#include "os/daemon.hpp"

#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/statfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <fmt/format.h>

#include "vm_manager/error.hpp"


namespace vm_manager::os {
namespace {

// What the grandchild reports through the pipe when it cannot exec: the
// step that failed and its errno. A successful exec closes the pipe
// (O_CLOEXEC) with nothing written.
struct Failure {
  int step = 0;
  int error = 0;
};
enum Step : int {
  kFork = 1, kUnshare, kUnshareUser, kSetgroups, kUidMap, kGidMap, kPrivate, kBind, kReadOnly, kKeepFd, kExec
};

const char* step_name(int step) {
  switch (step) {
    case kFork: return "fork";
    case kUnshare: return "unshare a mount namespace";
    case kUnshareUser: return "unshare a user namespace";
    case kSetgroups: return "deny setgroups in the user namespace";
    case kUidMap: return "map its uid in the user namespace";
    case kGidMap: return "map its gid in the user namespace";
    case kPrivate: return "make its mounts private";
    case kBind: return "bind-mount the folder";
    case kReadOnly: return "make the folder read-only";
    case kKeepFd: return "keep the inherited descriptor open";
    default: return "run";
  }
}

void write_all(int fd, const void* data, std::size_t size) {
  const char* p = static_cast<const char*>(data);
  while (size > 0) {
    ssize_t n = ::write(fd, p, size);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    p += n;
    size -= static_cast<std::size_t>(n);
  }
}

bool read_all(int fd, void* data, std::size_t size) {
  char* p = static_cast<char*>(data);
  std::size_t got = 0;
  while (got < size) {
    ssize_t n = ::read(fd, p + got, size - got);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    got += static_cast<std::size_t>(n);
  }
  return got == size;
}

// What the grandchild writes to /proc/self/{setgroups,uid_map,gid_map},
// formatted before fork (no allocation after it).
struct IdMaps {
  bool wanted = false;
  char uid_map[64] = {};
  char gid_map[64] = {};
};

IdMaps id_maps(bool wanted) {
  IdMaps maps;
  maps.wanted = wanted;
  if (wanted) {
    fmt::format_to_n(maps.uid_map, sizeof maps.uid_map - 1, "0 {} 1\n", ::geteuid());
    fmt::format_to_n(maps.gid_map, sizeof maps.gid_map - 1, "0 {} 1\n", ::getegid());
  }
  return maps;
}

// open/write/close only: async-signal-safe.
bool write_proc_file(const char* path, const char* text) {
  int fd = ::open(path, O_WRONLY | O_CLOEXEC);
  if (fd < 0) return false;
  std::size_t size = std::strlen(text);
  ssize_t n = ::write(fd, text, size);
  int error = errno;
  ::close(fd);
  errno = error;
  return n == static_cast<ssize_t>(size);
}

[[noreturn]] void report_failure(int report, int step) {
  Failure f{step, errno};
  write_all(report, &f, sizeof f);
  ::_exit(127);
}

// Only async-signal-safe calls from here on: we forked a threaded process.
[[noreturn]] void become_daemon(char* const* argv, int log_fd, const char* read_only, const IdMaps& maps,
                                int inherited_fd, int report) {
  auto fail = [report](int step) { report_failure(report, step); };
  if (maps.wanted) {
    // A process that changed its ids (a root-started one that dropped to a
    // user) is not dumpable, and then its /proc/self files stay root's:
    // the exec below would make it dumpable anyway.
    ::prctl(PR_SET_DUMPABLE, 1, 0, 0, 0);
    if (::unshare(CLONE_NEWUSER | CLONE_NEWNS) != 0) fail(kUnshareUser);
    // The kernel lets an unprivileged process write its gid_map only once
    // setgroups is denied (else it could drop a group that denies access).
    if (!write_proc_file("/proc/self/setgroups", "deny")) fail(kSetgroups);
    if (!write_proc_file("/proc/self/uid_map", maps.uid_map)) fail(kUidMap);
    if (!write_proc_file("/proc/self/gid_map", maps.gid_map)) fail(kGidMap);
  }
  if (read_only != nullptr) {
    if (!maps.wanted && ::unshare(CLONE_NEWNS) != 0) fail(kUnshare);
    if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) fail(kPrivate);
    if (::mount(read_only, read_only, nullptr, MS_BIND | MS_REC, nullptr) != 0) fail(kBind);
    // A remount must keep the flags the mount already has: in a user
    // namespace the kernel refuses to clear nosuid, nodev or noexec (statfs
    // reports them with the same bits as mount takes them).
    struct statfs st {};
    unsigned long kept = 0;
    if (::statfs(read_only, &st) == 0) {
      kept = static_cast<unsigned long>(st.f_flags) & (MS_NOSUID | MS_NODEV | MS_NOEXEC);
    }
    if (::mount(nullptr, read_only, nullptr, MS_REMOUNT | MS_BIND | MS_RDONLY | kept, nullptr) != 0) fail(kReadOnly);
  }
  if (inherited_fd >= 0 && ::fcntl(inherited_fd, F_SETFD, 0) != 0) fail(kKeepFd);
  int null = ::open("/dev/null", O_RDONLY);
  if (null >= 0) ::dup2(null, 0);
  ::dup2(log_fd, 1);
  ::dup2(log_fd, 2);
  sigset_t none;
  sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
  // None of ours: virtiofsd needs no environment, and vmctl's may hold secrets.
  char* no_environment[] = {nullptr};
  ::execve(argv[0], argv, no_environment);
  report_failure(report, kExec);
}

}  // namespace

pid_t start_daemon(const DaemonSpec& spec) {
  if (spec.argv.empty() || spec.argv[0].empty() || spec.argv[0].front() != '/') {
    throw Error(errc::process_spawn_failed, "a daemon must be started by its absolute path",
                "this is a bug in vmctl; please report it");
  }
  std::vector<std::string> strings = spec.argv;
  std::vector<char*> argv;
  for (std::string& s : strings) argv.push_back(s.data());
  argv.push_back(nullptr);
  if (spec.inherited_fd >= 0 && spec.inherited_fd <= 2) {
    throw Error(errc::process_spawn_failed, "a daemon cannot inherit a descriptor at 0, 1 or 2",
                "this is a bug in vmctl; please report it");
  }
  const char* read_only = spec.read_only_path ? spec.read_only_path->c_str() : nullptr;
  const IdMaps maps = id_maps(spec.user_namespace);

  int report[2];  // grandchild → us: a Failure, or EOF at exec
  int pid_pipe[2];  // child → us: the grandchild's pid
  if (::pipe2(report, O_CLOEXEC) != 0) {
    throw Error(errc::process_spawn_failed, fmt::format("cannot create a pipe: {}", std::strerror(errno)),
                "the system may be out of file descriptors");
  }
  if (::pipe2(pid_pipe, O_CLOEXEC) != 0) {
    int error = errno;
    ::close(report[0]);
    ::close(report[1]);
    throw Error(errc::process_spawn_failed, fmt::format("cannot create a pipe: {}", std::strerror(error)),
                "the system may be out of file descriptors");
  }
  pid_t child = ::fork();
  if (child == 0) {
    ::close(report[0]);
    ::close(pid_pipe[0]);
    ::setsid();
    pid_t daemon = ::fork();
    if (daemon == 0) become_daemon(argv.data(), spec.log_fd, read_only, maps, spec.inherited_fd, report[1]);
    if (daemon < 0) {
      Failure f{kFork, errno};
      write_all(report[1], &f, sizeof f);
    }
    write_all(pid_pipe[1], &daemon, sizeof daemon);
    ::_exit(0);
  }
  int fork_error = errno;
  ::close(report[1]);
  ::close(pid_pipe[1]);
  pid_t daemon = -1;
  if (child > 0) {
    int status = 0;
    while (::waitpid(child, &status, 0) < 0 && errno == EINTR) {
    }
    if (!read_all(pid_pipe[0], &daemon, sizeof daemon)) daemon = -1;
  }
  Failure failure;
  bool failed = read_all(report[0], &failure, sizeof failure);
  ::close(report[0]);
  ::close(pid_pipe[0]);
  if (child < 0) failure = {kFork, fork_error};
  if (child < 0 || failed || daemon <= 0) {
    throw Error(errc::process_spawn_failed,
                fmt::format("cannot {} {}: {}", step_name(failure.step), spec.argv[0],
                            failure.error != 0 ? std::strerror(failure.error) : "no process"),
                failure.step == kExec ? fmt::format("check that {} is installed", spec.argv[0])
                                      : "check the host's limits and permissions");
  }
  return daemon;
}

int user_namespace_error() {
  pid_t child = ::fork();
  if (child == 0) ::_exit(::unshare(CLONE_NEWUSER) == 0 ? 0 : errno);
  if (child < 0) return errno;
  int status = 0;
  while (::waitpid(child, &status, 0) < 0 && errno == EINTR) {
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : ECHILD;
}

}  // namespace vm_manager::os
