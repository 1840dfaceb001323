#include "os/process.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include <fmt/format.h>

#include "os/unique_fd.hpp"
#include "vm_manager/error.hpp"

extern char** environ;

namespace vm_manager::os {
namespace {

using Clock = std::chrono::steady_clock;

std::vector<std::string> environment_with(const std::map<std::string, std::string>& overrides) {
  std::vector<std::string> env;
  for (char** e = environ; *e != nullptr; ++e) {
    std::string_view entry(*e);
    auto eq = entry.find('=');
    if (eq != std::string_view::npos && overrides.contains(std::string(entry.substr(0, eq)))) continue;
    env.emplace_back(entry);
  }
  for (const auto& [key, value] : overrides) env.push_back(key + "=" + value);
  return env;
}

std::vector<char*> pointers(std::vector<std::string>& strings) {
  std::vector<char*> out;
  out.reserve(strings.size() + 1);
  for (auto& s : strings) out.push_back(s.data());
  out.push_back(nullptr);
  return out;
}

struct Pipe {
  int read = -1;
  int write = -1;
  Pipe() {
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) {
      throw Error(errc::process_spawn_failed, fmt::format("cannot create a pipe: {}", std::strerror(errno)),
                  "the system may be out of file descriptors");
    }
    read = fds[0];
    write = fds[1];
  }
  ~Pipe() {
    close_read();
    close_write();
  }
  void close_read() {
    if (read >= 0) ::close(read);
    read = -1;
  }
  void close_write() {
    if (write >= 0) ::close(write);
    write = -1;
  }
};

// Copies of the fds in `child_fds`, numbered above every fd the child is to
// get: dup2 from them can neither overwrite a source still to be copied
// (child 3 ← our 4 and child 4 ← our 3) nor be a no-op that keeps
// close-on-exec (child 3 ← our 3). Closed once the child has been spawned.
std::vector<UniqueFd> staged_copies(const std::map<int, int>& child_fds) {
  std::vector<UniqueFd> copies;
  int above = child_fds.empty() ? 0 : child_fds.rbegin()->first + 1;
  for (const auto& [child, ours] : child_fds) {
    if (child < 2) {
      throw Error(errc::process_spawn_failed, fmt::format("cannot give a child fd {}: stdin and stdout are ours", child),
                  "this is a bug in vmctl; please report it");
    }
    int copy = ::fcntl(ours, F_DUPFD_CLOEXEC, std::max(above, 3));
    if (copy < 0) {
      throw Error(errc::process_spawn_failed, fmt::format("cannot pass fd {} to a child: {}", ours, std::strerror(errno)),
                  "the system may be out of file descriptors");
    }
    copies.emplace_back(copy);
  }
  return copies;
}

pid_t spawn(const ProcessSpec& spec, Pipe& in, Pipe& out, Pipe& err) {
  std::vector<UniqueFd> copies = staged_copies(spec.child_fds);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  if (spec.stdin_data) {
    posix_spawn_file_actions_adddup2(&actions, in.read, 0);
  } else {
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  }
  posix_spawn_file_actions_adddup2(&actions, out.write, 1);
  if (!spec.child_fds.contains(2)) posix_spawn_file_actions_adddup2(&actions, err.write, 2);
  auto copy = copies.begin();
  for (const auto& entry : spec.child_fds) posix_spawn_file_actions_adddup2(&actions, (copy++)->get(), entry.first);
  // A fresh process group, so a terminal's Ctrl-C reaches vmctl, which then
  // decides what to stop, rather than every helper at once.
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK);
  posix_spawnattr_setpgroup(&attr, 0);
  sigset_t no_signals;
  sigemptyset(&no_signals);
  posix_spawnattr_setsigmask(&attr, &no_signals);

  std::vector<std::string> argv = spec.argv;
  std::vector<std::string> env = environment_with(spec.env_overrides);
  auto c_argv = pointers(argv);
  auto c_env = pointers(env);
  pid_t pid = -1;
  int rc = ::posix_spawnp(&pid, c_argv[0], &actions, &attr, c_argv.data(), c_env.data());
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  if (rc != 0) {
    throw Error(errc::process_spawn_failed, fmt::format("cannot run {}: {}", spec.argv[0], std::strerror(rc)),
                fmt::format("check that {} is installed and in PATH", spec.argv[0]));
  }
  return pid;
}

void pump(ProcessOutput& result, Pipe& in, Pipe& out, Pipe& err, std::string_view input, pid_t pid,
          Clock::time_point deadline) {
  std::size_t written = 0;
  std::string* sinks[2] = {&result.out, &result.err};
  pollfd fds[3] = {{out.read, POLLIN, 0}, {err.read, POLLIN, 0}, {in.write, POLLOUT, 0}};
  if (input.empty()) {
    in.close_write();
    fds[2].fd = -1;
  } else {
    // A blocking write of more than a pipe's worth would wait for the child
    // to read while the child waits for us to drain its output.
    ::fcntl(in.write, F_SETFL, ::fcntl(in.write, F_GETFL) | O_NONBLOCK);
  }
  for (;;) {
    if (fds[0].fd < 0 && fds[1].fd < 0) return;
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    if (left <= 0 && !result.timed_out) {
      ::kill(pid, SIGKILL);  // its pipes close once it is dead
      result.timed_out = true;
    }
    int n = ::poll(fds, 3, result.timed_out ? 1000 : static_cast<int>(std::min<long>(left, 1000)));
    if (n < 0 && errno != EINTR) return;
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || !(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      char buffer[16384];
      ssize_t got = ::read(fds[i].fd, buffer, sizeof buffer);
      if (got > 0) {
        sinks[i]->append(buffer, static_cast<std::size_t>(got));
      } else if (got == 0 || errno != EINTR) {
        fds[i].fd = -1;
      }
    }
    if (fds[2].fd >= 0 && (fds[2].revents & (POLLOUT | POLLERR | POLLHUP))) {
      ssize_t put = ::write(in.write, input.data() + written, input.size() - written);
      if (put > 0) written += static_cast<std::size_t>(put);
      if (put < 0 && errno != EINTR && errno != EAGAIN) written = input.size();
      if (written == input.size()) {
        in.close_write();
        fds[2].fd = -1;
      }
    }
  }
}

}  // namespace

ProcessOutput run_process(const ProcessSpec& spec, std::chrono::milliseconds timeout) {
  if (spec.argv.empty()) {
    throw Error(errc::process_spawn_failed, "nothing to run", "this is a bug in vmctl; please report it");
  }
  auto deadline = Clock::now() + timeout;
  Pipe in;
  Pipe out;
  Pipe err;
  // Writing to a child that exited must fail with EPIPE, not kill us.
  ::signal(SIGPIPE, SIG_IGN);
  pid_t pid = spawn(spec, in, out, err);
  in.close_read();
  out.close_write();
  err.close_write();

  ProcessOutput result;
  pump(result, in, out, err, spec.stdin_data.value_or(""), pid, deadline);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (WIFEXITED(status) && !result.timed_out) result.exit_code = WEXITSTATUS(status);
  if (WIFSIGNALED(status)) result.signal = WTERMSIG(status);
  return result;
}

ProcessOutput run_process(const std::vector<std::string>& argv, std::chrono::milliseconds timeout) {
  ProcessSpec spec;
  spec.argv = argv;
  return run_process(spec, timeout);
}

std::string describe(const std::vector<std::string>& argv) {
  std::string out;
  for (const auto& arg : argv) {
    if (!out.empty()) out += ' ';
    bool plain = !arg.empty() && arg.find_first_of(" \t\n'\"\\$`*?[]{}();&|<>") == std::string::npos;
    out += plain ? arg : "'" + arg + "'";
  }
  return out;
}

}  // namespace vm_manager::os
