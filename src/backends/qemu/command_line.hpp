// The qemu-system-x86_64 argv for a VM: a pure function of the VM and
// the choices made at start, so it can be checked without running QEMU.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "backends/qemu/config.hpp"
#include "backends/qemu/machine.hpp"
#include "backends/qemu/qemu_vm.hpp"
#include "vm_manager/types.hpp"

namespace vm_manager::qemu {

// vmctl opens the console log itself and hands it to QEMU at this fd number,
// in this fdset (-add-fd), which the serial chardev logs to as
// /dev/fdset/<set>: QEMU never opens the log's path.
inline constexpr int kConsoleLogFd = 3;
inline constexpr int kConsoleLogFdSet = 1;

struct LaunchPlan {
  Accel accel = Accel::tcg;            // kvm or tcg
  std::uint16_t ssh_host_port = 0;     // user networking: 0 lets the host pick
  std::optional<Firmware> firmware;    // UEFI
  std::filesystem::path uefi_vars;     // the VM's own copy of the VARS file
  std::string tap;                     // TAP networking: the interface, already created
  std::filesystem::path pidfile;
};

std::vector<std::string> qemu_command_line(const QemuVm& vm, const LaunchPlan& plan,
                                           const QemuConfig& config);

}  // namespace vm_manager::qemu
