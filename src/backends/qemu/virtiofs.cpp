#include "backends/qemu/virtiofs.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <climits>
#include <csignal>
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

// A process is folder `socket`'s virtiofsd only when it runs the configured
// binary with that socket: a record's pid is data anyone who can write it
// may forge.
os::IdentityCheck serves(fs::path binary, fs::path socket) {
  return [binary = std::move(binary), socket = std::move(socket)](const os::ProcessIdentity& identity) {
    std::string executable = identity.executable;
    constexpr std::string_view kDeleted = " (deleted)";
    if (executable.ends_with(kDeleted)) executable.resize(executable.size() - kDeleted.size());
    std::error_code ec;
    fs::path real = fs::weakly_canonical(binary, ec);
    if (ec || fs::path(executable) != real) return false;
    const std::string wanted = "--socket-path=" + socket.string();
    for (const std::string& arg : identity.argv) {
      if (arg == wanted) return true;
    }
    return false;
  };
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

std::vector<std::string> virtiofsd_argv(const QemuConfig& config, const fs::path& socket, const SharedFolder& folder) {
  // sandbox=namespace (the default, named for the reader): its own mount,
  // pid and net namespaces, pivot_root into the folder, so a guest cannot
  // reach anything outside it, symlinks included.
  return {config.virtiofsd.string(), "--socket-path=" + socket.string(), "-o", "source=" + fuse_option_value(folder.host_path),
          "-o", "sandbox=namespace", "-o", "cache=auto"};
}

void kill_daemon(const VirtiofsDaemon& daemon, const os::IdentityCheck& identity, const QemuConfig& config,
                 Host& host) {
  if (daemon.pid <= 0 || daemon.pid > INT_MAX) return;
  auto pid = static_cast<pid_t>(daemon.pid);
  if (!host.process_running(pid, daemon.start_time)) return;
  if (host.signal(pid, daemon.start_time, identity, SIGTERM) && host.wait_for_exit(pid, daemon.start_time, config.term_grace)) {
    return;
  }
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

// Waits until the daemon's socket exists (it is made before virtiofsd
// serves), or the daemon exits, or the deadline passes.
void wait_listening(const QemuVm& vm, const SharedFolder& folder, const VirtiofsDaemon& daemon, const fs::path& socket,
                    int log_fd, off_t log_offset, const QemuConfig& config, Host& host) {
  const fs::path log = fs::path(vm.work_dir) / kLog;
  auto deadline = Clock::now() + config.virtiofsd_timeout;
  for (;;) {
    if (is_unix_socket(socket)) return;
    if (!host.process_running(static_cast<pid_t>(daemon.pid), daemon.start_time)) {
      failed(vm, folder, one_line(read_log_from(log_fd, log_offset)), log);
    }
    if (Clock::now() >= deadline) failed(vm, folder, "its socket did not appear in time", log);
    std::this_thread::sleep_for(20ms);
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
  if (::geteuid() != 0) {
    throw Error(errc::mount_needs_root,
                fmt::format("VM '{}' shares folders, which needs root here: QEMU 7.2's virtiofsd locks its socket "
                            "in /var/run/virtiofsd, sandboxes itself in new namespaces and takes on the guest's "
                            "user ids",
                            vm.name),
                "run as root, or create the VM without shared folders");
  }
  if (::access(config.virtiofsd.c_str(), X_OK) != 0) {
    throw Error(errc::mount_virtiofsd_unavailable,
                fmt::format("VM '{}' shares folders, but {} is missing", vm.name, config.virtiofsd.string()),
                "install the Debian package qemu-system-common (it holds QEMU 7.2's virtiofsd)");
  }
  const fs::path log_path = fs::path(vm.work_dir) / kLog;
  os::UniqueFd log = open_log(log_path);
  try {
    for (std::size_t i = 0; i < vm.shared_folders.size(); ++i) {
      const SharedFolder& folder = vm.shared_folders[i];
      const fs::path socket = virtiofs_socket(vm, i);
      remove_socket(socket);
      os::DaemonSpec spec{virtiofsd_argv(config, socket, folder), log.get(), std::nullopt};
      if (folder.read_only) spec.read_only_path = folder.host_path;
      off_t offset = log_size(log.get());
      config.log.debug("starting {}", os::describe(spec.argv));
      pid_t pid = host.start_daemon(spec);
      std::optional<std::uint64_t> start_time = host.process_start_time(pid);
      if (!start_time) failed(vm, folder, one_line(read_log_from(log.get(), offset)), log_path);
      started.push_back({pid, *start_time});
      wait_listening(vm, folder, started.back(), socket, log.get(), offset, config, host);
      ::chmod(socket.c_str(), 0600);
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
    kill_daemon(vm.virtiofsd[i], serves(config.virtiofsd, virtiofs_socket(vm, i)), config, host);
  }
  for (std::size_t i = 0; i < vm.shared_folders.size(); ++i) remove_socket(virtiofs_socket(vm, i));
}

}  // namespace vm_manager::qemu
