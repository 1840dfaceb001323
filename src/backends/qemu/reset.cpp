// QemuBackend::hard_reset: the reset button, over QMP.
#include "backends/qemu/qemu_backend.hpp"

namespace vm_manager::qemu {

// system_reset resets the machine at once; the guest gets no say, so its
// unsynced writes are lost as with a power cut. A paused VM is refused
// rather than reset: QEMU would reset it but leave it paused, which is not
// the reboot the caller asked for.
VmHandle QemuBackend::hard_reset(const VmHandle& handle) {
  connect_when(handle, VmState::running, "reset").execute("system_reset");
  return handle;
}

}  // namespace vm_manager::qemu
