// virDomainGetState's (state, reason) as a VmState.
#pragma once

#include "vm_manager/types.hpp"

namespace vm_manager::libvirt {

// Every virDomainState is mapped (the switch has no default, so a new one
// in libvirt's headers fails the build here). Shut off and never started
// (reason unknown) is `prepared`; shut off after running is `stopped`;
// crashed, no state and shut off after a crash are `failed`; a guest being
// shut down still runs.
VmState vm_state_from(int state, int reason);

}  // namespace vm_manager::libvirt
