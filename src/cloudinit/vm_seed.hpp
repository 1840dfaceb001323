// What goes on a VM's NoCloud seed, and the SSH identity that comes with
// it: every backend calls write_vm_seed from prepare(), so keys, known_hosts,
// user-data and the seed ISO are made the same way whatever runs the VM.
#pragma once

#include <filesystem>
#include <optional>

#include "cloudinit/seed_iso.hpp"
#include "vm_manager/types.hpp"

namespace vm_manager::cloudinit {

struct VmSeed {
  SeedFiles files;
  // Filled in when the spec asks for SSH access (spec.ssh).
  std::string ssh_user;
  std::string ssh_identity_file;  // empty when the user gave a public key only
  std::string ssh_known_hosts;
  std::string ssh_host_key_alias;
};

// The alias under which a VM's host key is filed in its known_hosts.
std::string host_key_alias(std::string_view vm_name);

// Nothing when the spec has neither cloud_init, ssh, a static address nor
// shared folders (whose `mounts:` go in vmctl's cloud-config, mounts.hpp).
// With spec.ssh:
//   - a login key pair work_dir/id_ed25519{,.pub} (0600/0644) unless
//     spec.ssh->public_key is given;
//   - a host key pair work_dir/ssh_host_ed25519_key{,.pub}, and
//     work_dir/known_hosts naming it under host_key_alias(name);
//   - user-data: vmctl's #cloud-config (user, sudo, login key, host key),
//     combined as multipart MIME with spec.cloud_init->user_data if any.
// meta-data: instance-id (cloud_init's, else `instance_id`) and
// local-hostname (cloud_init's, else the VM's name). network-config only
// with a static address (make_network_config, matching the NIC by `nic_mac`
// when the backend gave it one).
// Raises ssh::bad_key, ssh::keygen_failed, cloudinit::invalid_user(_data),
// store::io.
std::optional<VmSeed> make_vm_seed(const VmSpec& spec, const std::filesystem::path& work_dir,
                                   std::string_view instance_id, std::string_view nic_mac = {});

// Copies the seed's SSH fields into the handle.
void record_ssh_identity(const VmSeed& seed, VmHandle& handle);

// make_vm_seed with handle.id as the instance-id; when there is a seed, writes
// it to work_dir/seed.iso, sets handle.seed_iso_path and records the SSH
// identity in the handle. Leaves the handle as it was when there is none.
// Raises what make_vm_seed and write_seed_iso raise.
void write_vm_seed(const VmSpec& spec, const std::filesystem::path& work_dir, VmHandle& handle,
                   std::string_view nic_mac = {});

}  // namespace vm_manager::cloudinit
