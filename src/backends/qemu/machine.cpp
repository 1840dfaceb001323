#include "backends/qemu/machine.hpp"

#include <array>
#include <utility>

#include <fmt/format.h>

#include "vm_manager/error.hpp"

namespace vm_manager::qemu {
namespace fs = std::filesystem;

AccelChoice choose_accel(Accel requested, const QemuConfig& config, Host& host) {
  Accel wanted = requested;
  if (wanted == Accel::automatic && config.accel_override) wanted = *config.accel_override;
  if (wanted != Accel::automatic) return {wanted, {}};
  KvmProbe probe = host.probe_kvm(config.kvm_device);
  if (probe.usable) return {Accel::kvm, {}};
  return {Accel::tcg, fmt::format("KVM is not usable ({}); falling back to TCG, which is much slower", probe.reason)};
}

Firmware find_uefi_firmware(const std::vector<fs::path>& dirs) {
  // CODE and VARS file names of one firmware set, best first.
  constexpr std::array<std::pair<const char*, const char*>, 4> kPairs{{
      {"OVMF_CODE_4M.fd", "OVMF_VARS_4M.fd"},
      {"OVMF_CODE.fd", "OVMF_VARS.fd"},
      {"OVMF_CODE.4m.fd", "OVMF_VARS.4m.fd"},
      {"edk2-x86_64-code.fd", "edk2-i386-vars.fd"},
  }};
  std::string searched;
  for (const auto& dir : dirs) {
    for (const auto& [code, vars] : kPairs) {
      if (fs::is_regular_file(dir / code) && fs::is_regular_file(dir / vars)) {
        return {dir / code, dir / vars};
      }
    }
    searched += (searched.empty() ? "" : ", ") + dir.string();
  }
  throw Error(errc::spec_invalid, fmt::format("no UEFI firmware (OVMF CODE and VARS) found in {}", searched),
              "install it (Debian: apt-get install ovmf), or create the VM without UEFI");
}

}  // namespace vm_manager::qemu
