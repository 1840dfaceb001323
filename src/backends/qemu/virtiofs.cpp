#include "backends/qemu/virtiofs.hpp"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <csignal>
#include <cstring>
#include <thread>

#include <fmt/format.h>

#include "backends/qemu/log_file.hpp"
#include "cloudinit/mounts.hpp"
#include "os/daemon.hpp"
#include "vm_manager/error.hpp"
#include "vm_manager/spec_check.hpp"

namespace vm_manager::qemu {
namespace fs = std::filesystem;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

namespace {

constexpr const char* kLog = "virtiofsd.log";

bool is_unix_socket(const fs::path& path) {
  struct stat st {};
  return ::lstat(path.c_str(), &st) == 0 && S_ISSOCK(st.st_mode);
}

void remove_socket(const fs::path& path) {
  if (is_unix_socket(path)) ::unlink(path.c_str());
}

// virtiofsd splits -o at commas (libfuse's option parser), where a
// backslash escapes the next character.
std::string fuse_option_value(const std::string& value) {
  std::string escaped;
  for (char c : value) {
    if (c == ',' || c == '\\') escaped += '\\';
    escaped += c;
  }
  return escaped;
}

bool has_arg(const os::ProcessIdentity& identity, const std::string& wanted) {
  for (const std::string& arg : identity.argv) {
    if (arg == wanted) return true;
  }
  return false;
}

// A process is folder `socket`'s virtiofsd only when it runs the configured
// binary with that socket (as root) or with a socket we handed it for that
// folder (as an ordinary user): a record's pid is data anyone who can write
// it may forge.
os::IdentityCheck serves(fs::path binary, fs::path socket, std::string folder) {
  return [binary = std::move(binary), socket = std::move(socket),
          folder = std::move(folder)](const os::ProcessIdentity& identity) {
    std::string executable = identity.executable;
    constexpr std::string_view kDeleted = " (deleted)";
    if (executable.ends_with(kDeleted)) executable.resize(executable.size() - kDeleted.size());
    std::error_code ec;
    fs::path real = fs::weakly_canonical(binary, ec);
    if (ec || fs::path(executable) != real) return false;
    if (has_arg(identity, "--socket-path=" + socket.string())) return true;
    bool handed_a_socket = std::any_of(identity.argv.begin(), identity.argv.end(),
                                       [](const std::string& arg) { return arg.starts_with("--fd="); });
    return handed_a_socket && has_arg(identity, "source=" + fuse_option_value(folder));
  };
}

// How virtiofsd finds its socket: its own path (root), or one we listen on
// and hand it (an ordinary user, who cannot lock it in /var/run/virtiofsd).
std::string socket_arg(const fs::path& socket, int listening_fd) {
  return listening_fd >= 0 ? fmt::format("--fd={}", listening_fd) : "--socket-path=" + socket.string();
}

std::vector<std::string> virtiofsd_argv(const QemuConfig& config, const std::string& socket_arg,
                                        const SharedFolder& folder) {
  // sandbox=namespace (the default, named for the reader): its own mount,
  // pid and net namespaces, pivot_root into the folder, so a guest cannot
  // reach anything outside it, symlinks included.
  return {config.virtiofsd.string(), socket_arg, "-o", "source=" + fuse_option_value(folder.host_path),
          "-o", "sandbox=namespace", "-o", "cache=auto"};
}

void kill_daemon(const VirtiofsDaemon& daemon, const os::IdentityCheck& identity, const QemuConfig& config,
                 Host& host) {
  if (daemon.pid <= 0 || daemon.pid > INT_MAX) return;
  auto pid = static_cast<pid_t>(daemon.pid);
  if (!host.process_running(pid, daemon.start_time)) return;
  if (!host.signal(pid, daemon.start_time, identity, SIGTERM)) {
    // virtiofsd exits by itself once QEMU hangs up, and while it exits its
    // /proc entry no longer says what it runs: then it is not another
    // process, only one on its way out, which stop waits for.
    if (!host.process_identity(pid)) host.wait_for_exit(pid, daemon.start_time, config.kill_grace);
    return;
  }
  if (host.wait_for_exit(pid, daemon.start_time, config.term_grace)) return;
  if (host.signal(pid, daemon.start_time, identity, SIGKILL)) host.wait_for_exit(pid, daemon.start_time, config.kill_grace);
}

[[noreturn]] void failed(const QemuVm& vm, const SharedFolder& folder, const std::string& why, const fs::path& log) {
  throw Error(errc::mount_virtiofsd_failed,
              fmt::format("virtiofsd for VM '{}' could not serve {}: {}", vm.name, folder.host_path, why),
              "see " + log.string());
}

std::string one_line(std::string text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
  if (text.size() > 400) text = "…" + text.substr(text.size() - 400);
  for (char& c : text) {
    if (c == '\n') c = ' ';
  }
  return text.empty() ? "it exited" : text;
}

// What virtiofsd logs once set up, just before it blocks in accept() for
// QEMU's connection (fuse_virtio.c's virtio_session_mount).
constexpr std::string_view kWaitingLine = "Waiting for vhost-user socket connection";

// Waits until the daemon serves: its socket exists (it makes it just before
// accepting), or, when we made the socket, it logs that it waits for QEMU;
// or the daemon exits, or the deadline passes.
void wait_listening(const QemuVm& vm, const SharedFolder& folder, const VirtiofsDaemon& daemon, const fs::path& socket,
                    bool socket_is_ours, int log_fd, off_t log_offset, const QemuConfig& config, Host& host) {
  const fs::path log = fs::path(vm.work_dir) / kLog;
  auto deadline = Clock::now() + config.virtiofsd_timeout;
  for (;;) {
    if (socket_is_ours ? read_log_from(log_fd, log_offset).find(kWaitingLine) != std::string::npos
                       : is_unix_socket(socket)) {
      return;
    }
    if (!host.process_running(static_cast<pid_t>(daemon.pid), daemon.start_time)) {
      failed(vm, folder, one_line(read_log_from(log_fd, log_offset)), log);
    }
    if (Clock::now() >= deadline) failed(vm, folder, "its socket did not appear in time", log);
    std::this_thread::sleep_for(20ms);
  }
}

// A socket listening at `path` (mode 0600) for an ordinary user's
// virtiofsd, which cannot make its own.
os::UniqueFd listen_at(const QemuVm& vm, const fs::path& path) {
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  if (path.native().size() >= sizeof address.sun_path) {
    throw Error(errc::mount_virtiofsd_failed,
                fmt::format("VM '{}': the path of its shared folder's socket is too long: {}", vm.name, path.string()),
                "use a data directory with a shorter path");
  }
  std::memcpy(address.sun_path, path.c_str(), path.native().size());
  os::UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  // chmod before listen(): nobody can connect while the mode is the umask's.
  if (fd.get() < 0 || ::bind(fd.get(), reinterpret_cast<const sockaddr*>(&address), sizeof address) != 0 ||
      ::chmod(path.c_str(), 0600) != 0 || ::listen(fd.get(), 1) != 0) {
    throw Error(errc::mount_virtiofsd_failed,
                fmt::format("VM '{}': cannot listen on {}: {}", vm.name, path.string(), std::strerror(errno)),
                "check the permissions of the VM's runtime directory");
  }
  return fd;
}

// Without root, virtiofsd runs in a user namespace of its own, where it is
// root enough to sandbox itself; a host that forbids those cannot share.
void require_user_namespaces(const QemuVm& vm) {
  int error = os::user_namespace_error();
  if (error == EPERM || error == EINVAL || error == ENOSPC) {
    throw Error(errc::mount_needs_root,
                fmt::format("VM '{}' shares folders, which needs root here: user namespaces are disabled ({}), and "
                            "without root virtiofsd needs one to sandbox itself in namespaces of its own",
                            vm.name, std::strerror(error)),
                "run as root, enable unprivileged user namespaces (sysctl kernel.unprivileged_userns_clone=1 and "
                "user.max_user_namespaces > 0), or create the VM without shared folders");
  }
}

}  // namespace

std::string virtiofs_tag(std::size_t index) { return cloudinit::shared_folder_tag(index); }

fs::path virtiofs_socket(const QemuVm& vm, std::size_t index) {
  return fs::path(vm.qmp_socket).parent_path() / fmt::format("virtiofs-{}.sock", index);
}

std::vector<VirtiofsDaemon> start_virtiofsd(const QemuVm& vm, const QemuConfig& config, Host& host) {
  std::vector<VirtiofsDaemon> started;
  if (vm.shared_folders.empty()) return started;
  validate_shared_folders(vm.shared_folders);  // still there since create?
  if (::access(config.virtiofsd.c_str(), X_OK) != 0) {
    throw Error(errc::mount_virtiofsd_unavailable,
                fmt::format("VM '{}' shares folders, but {} is missing", vm.name, config.virtiofsd.string()),
                "install the Debian package qemu-system-common (it holds QEMU 7.2's virtiofsd)");
  }
  const bool as_root = ::geteuid() == 0;
  if (!as_root) require_user_namespaces(vm);
  const fs::path log_path = fs::path(vm.work_dir) / kLog;
  os::UniqueFd log = open_log(log_path);
  try {
    for (std::size_t i = 0; i < vm.shared_folders.size(); ++i) {
      const SharedFolder& folder = vm.shared_folders[i];
      const fs::path socket = virtiofs_socket(vm, i);
      remove_socket(socket);
      // Ours until the daemon has its copy; closed here once it runs.
      os::UniqueFd listening = as_root ? os::UniqueFd() : listen_at(vm, socket);
      os::DaemonSpec spec{virtiofsd_argv(config, socket_arg(socket, listening.get()), folder), log.get(),
                          std::nullopt};
      if (folder.read_only) spec.read_only_path = folder.host_path;
      spec.user_namespace = !as_root;
      spec.inherited_fd = listening.get();
      off_t offset = log_size(log.get());
      config.log.debug("starting {}", os::describe(spec.argv));
      pid_t pid = host.start_daemon(spec);
      listening.reset();
      std::optional<std::uint64_t> start_time = host.process_start_time(pid);
      if (!start_time) failed(vm, folder, one_line(read_log_from(log.get(), offset)), log_path);
      started.push_back({pid, *start_time});
      wait_listening(vm, folder, started.back(), socket, !as_root, log.get(), offset, config, host);
      if (as_root) ::chmod(socket.c_str(), 0600);
    }
  } catch (...) {
    QemuVm partial(vm);
    partial.virtiofsd = started;
    stop_virtiofsd(partial, config, host);
    throw;
  }
  return started;
}

void stop_virtiofsd(const QemuVm& vm, const QemuConfig& config, Host& host) {
  for (std::size_t i = 0; i < vm.virtiofsd.size(); ++i) {
    std::string folder = i < vm.shared_folders.size() ? vm.shared_folders[i].host_path : std::string();
    kill_daemon(vm.virtiofsd[i], serves(config.virtiofsd, virtiofs_socket(vm, i), std::move(folder)), config, host);
  }
  for (std::size_t i = 0; i < vm.shared_folders.size(); ++i) remove_socket(virtiofs_socket(vm, i));
}

}  // namespace vm_manager::qemu
