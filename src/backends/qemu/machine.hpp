// Choosing how a VM runs: the accelerator and, for UEFI, the firmware.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "backends/qemu/config.hpp"
#include "backends/qemu/host.hpp"

namespace vm_manager::qemu {

struct AccelChoice {
  Accel accel = Accel::tcg;  // kvm or tcg, never automatic
  std::string warning;       // set when "auto" fell back to TCG
};

// auto: KVM when the device opens and can create a VM, else TCG with a
// warning. VMCTL_ACCEL (config.accel_override) applies to VMs that asked for
// auto; a VM created with kvm or tcg keeps its choice.
AccelChoice choose_accel(Accel requested, const QemuConfig& config, Host& host);

struct Firmware {
  std::filesystem::path code;       // read-only
  std::filesystem::path vars_template;  // copied per VM
};

// An OVMF CODE/VARS pair from one firmware set (never a CODE of one set with
// the VARS of another). Prefers the plain (non-secure-boot) 4 MB build, which
// needs no SMM. Raises spec::invalid naming the folders searched when none is
// found: a UEFI VM never silently boots BIOS.
Firmware find_uefi_firmware(const std::vector<std::filesystem::path>& dirs);

}  // namespace vm_manager::qemu
