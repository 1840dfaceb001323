// Destroying a qemu VM whose record is lost or unreadable: its QEMU is found
// through the pidfile in its work dir, and killed only when it provably is
// that VM's QEMU.
#include <signal.h>

#include <charconv>

#include <fmt/format.h>

#include "backends/qemu/qemu_backend.hpp"
#include "backends/qemu/qemu_process.hpp"
#include "backends/qemu/work_dir_layout.hpp"
#include "os/files.hpp"
#include "vm_manager/error.hpp"

namespace vm_manager::qemu {
namespace fs = std::filesystem;
namespace {

std::optional<pid_t> pid_from_file(const fs::path& pidfile) {
  std::string text = os::read_file(pidfile).value_or("");
  pid_t pid = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), pid);
  if (ec != std::errc() || pid <= 0) return std::nullopt;
  return pid;
}

// What the salvaged record says of QEMU; nothing when even that is unreadable
// (the pidfile and the process itself are the proof).
QemuVm salvaged(const VmHandle& remains) {
  try {
    return QemuVm(remains);
  } catch (const Error&) {
    VmHandle shared = remains;
    shared.backend_state = BackendState{};
    return QemuVm(shared);
  }
}

}  // namespace

void QemuBackend::destroy_remains(const VmHandle& handle) {
  if (handle.work_dir.empty()) return;
  const QemuVm remains = salvaged(handle);
  std::optional<pid_t> pid = pid_from_file(layout::pidfile(remains.work_dir));
  if (!pid) return;
  std::optional<std::uint64_t> started = host_->process_start_time(*pid);
  if (!started) return;  // gone (a zombie counts as gone)
  bool reused = remains.pid == *pid && remains.pid_start_time && *remains.pid_start_time != *started;
  std::optional<os::ProcessIdentity> identity = host_->process_identity(*pid);
  const fs::path pidfile = layout::pidfile(remains.work_dir);
  if (reused || !identity || !runs_qemu_of(*identity, remains.name, pidfile, config_.qemu_binary)) {
    config_.log.warn("VM '{}': pid {} in its pidfile is not its QEMU; left alone", remains.name, *pid);
    return;
  }
  if (host_->signal(*pid, *started, its_qemu(remains), SIGKILL) && !host_->wait_for_exit(*pid, *started, config_.kill_grace)) {
    throw Error(errc::vm_stop_failed,
                fmt::format("QEMU (pid {}) of VM '{}' did not exit after SIGKILL", *pid, remains.name),
                "the process may be stuck in the kernel; try again once it has exited");
  }
  remove_socket_dir(remains);
}

}  // namespace vm_manager::qemu
