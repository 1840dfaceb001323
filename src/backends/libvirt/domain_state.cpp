#include "backends/libvirt/domain_state.hpp"

#include <libvirt/libvirt.h>

namespace vm_manager::libvirt {

VmState vm_state_from(int state, int reason) {
  // A state newer than these headers (a newer daemon): say so rather than
  // guess, and never cast it to the enum, which has no such value.
  if (state < VIR_DOMAIN_NOSTATE || state > VIR_DOMAIN_PMSUSPENDED) return VmState::failed;
  switch (static_cast<virDomainState>(state)) {
    case VIR_DOMAIN_RUNNING:
    case VIR_DOMAIN_BLOCKED:   // running, waiting on a resource
    case VIR_DOMAIN_SHUTDOWN:  // running, on its way down
      return VmState::running;
    case VIR_DOMAIN_PAUSED:
    case VIR_DOMAIN_PMSUSPENDED:
      return VmState::suspended;
    case VIR_DOMAIN_SHUTOFF:
      if (reason == VIR_DOMAIN_SHUTOFF_CRASHED || reason == VIR_DOMAIN_SHUTOFF_FAILED) return VmState::failed;
      if (reason == VIR_DOMAIN_SHUTOFF_UNKNOWN) return VmState::prepared;
      return VmState::stopped;
    case VIR_DOMAIN_CRASHED:
    case VIR_DOMAIN_NOSTATE:
      return VmState::failed;
#ifdef VIR_ENUM_SENTINELS
    case VIR_DOMAIN_LAST:
      break;
#endif
  }
  return VmState::failed;
}

}  // namespace vm_manager::libvirt
