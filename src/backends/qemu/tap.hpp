// TAP networking that really joins the bridge. QEMU's "-netdev tap,br=…"
// does nothing without a helper, so vmctl creates the tap itself, enslaves
// it to the bridge and brings it up; stop and destroy delete it.
#pragma once

#include <string>

#include "backends/qemu/host.hpp"
#include "vm_manager/types.hpp"

namespace vm_manager::qemu {

// "vmt" plus the first 8 hex digits of the VM id: unique, stable, and
// within Linux's 15-character interface names.
std::string tap_name_for(const VmHandle& handle);

// ip tuntap add … mode tap; ip link set … master <bridge> up. On failure
// nothing is left behind. Raises spec::invalid (no such bridge) or
// process::spawn_failed / network errors with ip's message.
void create_tap(const std::string& tap, const std::string& bridge, Host& host);

// Deletes the tap if it exists; never fails.
void delete_tap(const std::string& tap, Host& host);

}  // namespace vm_manager::qemu
