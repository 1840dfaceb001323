// Shared folders as the guest sees them: the virtiofs tag each is served
// under, and the cloud-config that mounts them at every boot.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "vm_manager/types.hpp"

namespace YAML {
class Emitter;
}

namespace vm_manager::cloudinit {

// The virtiofs tag of the VM's shared folder `index`: "vmctl:0", "vmctl:1"…
// The colon matters: Debian 12's cloud-init (22.4) cc_mounts drops an entry
// whose device is neither an existing block device nor "server:path"
// shaped ("Ignoring nonexistent named mount"), and keeps the latter as
// written. Virtiofs allows 36 bytes.
std::string shared_folder_tag(std::size_t index);

// The options of a folder's fstab line: "defaults,nofail" or
// "ro,nofail" (nofail: a boot never hangs on a folder that is gone).
std::string shared_folder_options(const SharedFolder& folder);

// Adds the key `mounts:` to the map being emitted, listing each folder as
// [tag, guest path, "virtiofs", options, "0", "0"]; nothing for no folders.
void emit_mounts(YAML::Emitter& out, const std::vector<SharedFolder>& folders);

// A #cloud-config whose `mounts:` lists each folder as
// [tag, guest path, "virtiofs", options, "0", "0"]; cloud-init writes them to
// /etc/fstab and mounts them, so they come back at every boot. Empty for no
// folders.
std::string make_mounts_user_data(const std::vector<SharedFolder>& folders);

}  // namespace vm_manager::cloudinit
