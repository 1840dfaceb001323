#include "backends/qemu/qemu_process.hpp"

#include <climits>
#include <filesystem>

#include "backends/qemu/options.hpp"
#include "backends/qemu/qemu_backend.hpp"
#include "backends/qemu/work_dir_layout.hpp"
#include "vm_manager/error.hpp"

namespace vm_manager::qemu {
namespace fs = std::filesystem;
namespace {

bool is_qemu_executable(std::string executable, std::string_view qemu_binary) {
  // The kernel marks a binary replaced on disk (a QEMU upgrade while the VM
  // runs); the process still is what was launched.
  constexpr std::string_view kDeleted = " (deleted)";
  if (executable.ends_with(kDeleted)) executable.resize(executable.size() - kDeleted.size());
  const fs::path path(executable);
  if (path.filename().string().starts_with("qemu-system-")) return true;
  const fs::path configured(qemu_binary);
  if (!configured.has_parent_path()) return path.filename() == configured;
  std::error_code ec;
  fs::path real = fs::canonical(configured, ec);
  return !ec && real == path;
}

bool names_guest(const std::vector<std::string>& argv, std::string_view name) {
  std::string guest;
  try {
    guest = "guest=" + escape_option_value(name, "VM name");
  } catch (const Error&) {
    return false;  // a name vmctl could never have launched
  }
  for (std::size_t i = 0; i + 1 < argv.size(); ++i) {
    if (argv[i] != "-name") continue;
    const std::string& value = argv[i + 1];
    if (value == guest || value.starts_with(guest + ",")) return true;
  }
  return false;
}

// The pidfile QEMU was told to write (an argument on its own, not an option
// list) is ours: the same path, or, while it exists, the same file.
bool writes_pidfile(const std::vector<std::string>& argv, const fs::path& pidfile) {
  for (std::size_t i = 0; i + 1 < argv.size(); ++i) {
    if (argv[i] != "-pidfile") continue;
    const fs::path theirs(argv[i + 1]);
    if (theirs.lexically_normal() == pidfile.lexically_normal()) return true;
    std::error_code ec;
    return fs::equivalent(theirs, pidfile, ec) && !ec;
  }
  return false;
}

}  // namespace

bool runs_qemu_of(const os::ProcessIdentity& identity, std::string_view name, const fs::path& pidfile,
                  std::string_view qemu_binary) {
  return is_qemu_executable(identity.executable, qemu_binary) && names_guest(identity.argv, name) &&
         writes_pidfile(identity.argv, pidfile);
}

os::IdentityCheck qemu_of(std::string name, fs::path pidfile, std::string qemu_binary) {
  return [name = std::move(name), pidfile = std::move(pidfile),
          binary = std::move(qemu_binary)](const os::ProcessIdentity& identity) {
    return runs_qemu_of(identity, name, pidfile, binary);
  };
}

bool QemuBackend::process_alive(const QemuVm& vm) {
  if (!vm.pid || !vm.pid_start_time || *vm.pid <= 0 || *vm.pid > INT_MAX) return false;
  auto pid = static_cast<pid_t>(*vm.pid);
  if (!host_->process_running(pid, *vm.pid_start_time)) return false;
  std::optional<os::ProcessIdentity> identity = host_->process_identity(pid);
  if (identity && runs_qemu_of(*identity, vm.name, layout::pidfile(vm.work_dir), config_.qemu_binary)) return true;
  config_.log.warn("VM '{}': pid {} with its recorded start time is not its QEMU; the VM counts as stopped",
                   vm.name, pid);
  return false;
}

os::IdentityCheck QemuBackend::its_qemu(const QemuVm& vm) const {
  return qemu_of(vm.name, layout::pidfile(vm.work_dir), config_.qemu_binary);
}

}  // namespace vm_manager::qemu
