// QemuBackend::stop: ACPI power button, then SIGTERM, then SIGKILL, each
// bounded; it returns only once the process is gone.
#include <csignal>

#include <fmt/format.h>

#include "backends/qemu/qemu_backend.hpp"
#include "backends/qemu/qmp_client.hpp"
#include "backends/qemu/runtime_paths.hpp"
#include "backends/qemu/tap.hpp"
#include "backends/qemu/virtiofs.hpp"
#include "backends/qemu/work_dir_layout.hpp"
#include "vm_manager/error.hpp"

namespace vm_manager::qemu {
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

namespace {

milliseconds left_until(Clock::time_point deadline) {
  return std::max(milliseconds(0), std::chrono::duration_cast<milliseconds>(deadline - Clock::now()));
}

// Asks the guest to power off; false when the request could not be made.
// Failure is not fatal: the caller escalates.
bool press_power_button(const QemuVm& h, milliseconds qmp_timeout, const Logger& log) {
  try {
    QmpClient qmp = QmpClient::connect(h.qmp_socket, qmp_timeout);
    // A paused guest cannot see the button; let it run to handle it.
    if (!qmp.query_status().running) qmp.cont();
    qmp.system_powerdown();
    return true;
  } catch (const Error& e) {
    log.info("VM '{}': ACPI shutdown request failed ({}); escalating", h.name, e.message());
    return false;
  }
}

void remove_leftovers(const QemuVm& h) {
  remove_runtime_leftovers(h.qmp_socket, h.console_socket, layout::pidfile(h.work_dir));
}

}  // namespace

VmHandle QemuBackend::stop(const VmHandle& handle, milliseconds timeout) {
  if (handle.work_dir.empty() || !fs::is_directory(handle.work_dir)) {
    throw Error(errc::vm_invalid_state, fmt::format("cannot stop VM '{}': it is destroyed", handle.name),
                "the VM no longer exists");
  }
  QemuVm vm(handle);
  if (process_alive(vm)) {
    auto pid = static_cast<pid_t>(*vm.pid);
    std::uint64_t started = *vm.pid_start_time;
    bool gone = false;
    if (timeout > milliseconds(0)) {
      auto deadline = Clock::now() + timeout;
      // Waiting for a shutdown nobody asked for would only delay SIGTERM.
      if (press_power_button(vm, std::min(config_.qmp_timeout, timeout), config_.log)) {
        gone = host_->wait_for_exit(pid, started, left_until(deadline));
      }
    }
    // Signals go through a pidfd verified against the start time and what
    // the process runs, so neither a reused pid nor a forged record gets an
    // unrelated process signalled.
    const os::IdentityCheck qemu = its_qemu(vm);
    if (!gone && host_->signal(pid, started, qemu, SIGTERM)) {
      gone = host_->wait_for_exit(pid, started, config_.term_grace);
    }
    if (!gone && host_->signal(pid, started, qemu, SIGKILL)) {
      gone = host_->wait_for_exit(pid, started, config_.kill_grace);
    }
    if (!gone && process_alive(vm)) {
      throw Error(errc::vm_stop_failed,
                  fmt::format("QEMU (pid {}) of VM '{}' survived SIGKILL", pid, handle.name),
                  "it may be stuck in the kernel (state D); check 'ps -o stat -p " + std::to_string(pid) + "'");
    }
  }
  remove_leftovers(vm);
  // They exit once QEMU is gone; these are the ones that did not.
  stop_virtiofsd(vm, config_, *host_);
  if (std::holds_alternative<TapNetwork>(handle.network)) delete_tap(tap_name_for(handle), *host_);
  if (vm.virtiofsd.empty()) return handle;
  vm.virtiofsd.clear();
  return vm.handle();
}

}  // namespace vm_manager::qemu
