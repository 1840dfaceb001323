// SSH access to a VM: where it listens, as whom, with which keys, and
// waiting until it lets us in. Built from the handle prepare() filled in.
#pragma once

#include <chrono>
#include <functional>
#include <string>

#include "ssh/session.hpp"
#include "vm_manager/hypervisor.hpp"
#include "vm_manager/progress.hpp"

namespace vm_manager::ssh {

// Where the guest's sshd is reachable: the forwarded port on 127.0.0.1 with
// user networking, else the guest's address, port 22 (as its host sees it:
// with handle.ssh_jump, from that jump host).
struct Endpoint {
  std::string host;
  std::uint16_t port = 22;
};
Endpoint endpoint_for(Hypervisor& hypervisor, const VmHandle& handle);

// Raises ssh::not_configured when the VM was created without SSH access.
void require_ssh_access(const VmHandle& handle);

// The VM's recorded private key when it is still a file, else empty: what
// "the VM's recorded login" means once its key file is gone (a user's own
// key moved, a generated one deleted with the work dir's files): only the
// user name is still recorded, and an SSH client uses its own keys.
std::string usable_identity_file(const VmHandle& handle);

// The host key filed under the handle's alias in its known_hosts.
// Raises ssh::not_configured (no known_hosts) or ssh::bad_key.
PublicKey expected_host_key(const VmHandle& handle);

// Everything Session::connect needs, the handle's jump host included.
// Raises ssh::not_configured when the VM has no private key vmctl can use
// (a public key was given without one).
Target target_for(Hypervisor& hypervisor, const VmHandle& handle);

struct WaitOptions {
  std::chrono::milliseconds timeout{std::chrono::minutes(5)};
  bool wait_for_cloud_init = true;  // when the VM has a seed
  // Each step ("ssh", then "cloud-init") as it begins and, finished, as it ends.
  ProgressCallback progress;
};

// Waits until SSH accepts the VM's key, then (when the VM has a cloud-init
// seed) until `cloud-init status --wait` finishes. Raises ssh::timeout and
// the errors of Session::connect; a cloud-init that reports an error
// raises vm::start_failed with its output.
void wait_until_ready(Hypervisor& hypervisor, const VmHandle& handle, const WaitOptions& options);

}  // namespace vm_manager::ssh
