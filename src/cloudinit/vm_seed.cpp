#include "cloudinit/vm_seed.hpp"

#include "cloudinit/mime.hpp"
#include "cloudinit/mounts.hpp"
#include "cloudinit/network_config.hpp"
#include "cloudinit/user_data.hpp"
#include "ssh/keys.hpp"

namespace vm_manager::cloudinit {
namespace fs = std::filesystem;

namespace {

struct LoginKey {
  std::string public_line;
  std::string identity_file;
};

LoginKey login_key_for(const SshConfig& ssh, const fs::path& work_dir, std::string_view vm_name) {
  if (!ssh.public_key.empty()) {
    // Validated here so a typo fails at create, not as a silent login failure.
    return {ssh::parse_public_key(ssh.public_key).line(), ssh.private_key_path};
  }
  fs::path identity = work_dir / "id_ed25519";
  ssh::KeyPair pair = ssh::generate_key_files(identity, std::string("vmctl-") + std::string(vm_name));
  return {pair.public_key.line(), identity.string()};
}

std::string user_data_for(const VmSpec& spec, VmSeed& seed, const fs::path& work_dir) {
  std::string users_own = spec.cloud_init ? spec.cloud_init->user_data : std::string();
  if (!spec.ssh) {
    if (spec.shared_folders.empty()) return users_own;
    return combine_user_data(make_mounts_user_data(spec.shared_folders), users_own);
  }
  validate_user_name(spec.ssh->user);
  LoginKey login = login_key_for(*spec.ssh, work_dir, spec.name);
  ssh::KeyPair host = ssh::generate_key_files(work_dir / "ssh_host_ed25519_key", "vmctl-host-" + spec.name);
  seed.ssh_user = spec.ssh->user;
  seed.ssh_identity_file = login.identity_file;
  seed.ssh_host_key_alias = host_key_alias(spec.name);
  seed.ssh_known_hosts = (work_dir / "known_hosts").string();
  ssh::write_known_hosts(seed.ssh_known_hosts, seed.ssh_host_key_alias, 22, host.public_key);

  UserDataOptions options;
  options.user = spec.ssh->user;
  options.login_public_key = login.public_line;
  options.host_private_key = host.private_key;
  options.host_public_key = host.public_key.line();
  const bool named = spec.cloud_init && !spec.cloud_init->hostname.empty();
  options.hostname = named ? spec.cloud_init->hostname : spec.name;
  options.mounts = spec.shared_folders;
  return combine_user_data(make_user_data(options), users_own);
}

}  // namespace

std::string host_key_alias(std::string_view vm_name) { return "vmctl-" + std::string(vm_name); }

std::optional<VmSeed> make_vm_seed(const VmSpec& spec, const fs::path& work_dir, std::string_view instance_id,
                                   std::string_view nic_mac) {
  const StaticAddress* fixed = static_address(spec.network);
  if (!spec.cloud_init && !spec.ssh && fixed == nullptr && spec.shared_folders.empty()) return std::nullopt;
  VmSeed seed;
  seed.files.user_data = user_data_for(spec, seed, work_dir);
  const CloudInitConfig empty;
  const CloudInitConfig& ci = spec.cloud_init ? *spec.cloud_init : empty;
  seed.files.meta_data = make_meta_data(ci.instance_id.empty() ? instance_id : std::string_view(ci.instance_id),
                                        ci.hostname.empty() ? std::string_view(spec.name) : ci.hostname);
  if (fixed != nullptr) seed.files.network_config = make_network_config(*fixed, nic_mac);
  return seed;
}

void record_ssh_identity(const VmSeed& seed, VmHandle& handle) {
  handle.ssh_user = seed.ssh_user;
  handle.ssh_identity_file = seed.ssh_identity_file;
  handle.ssh_known_hosts = seed.ssh_known_hosts;
  handle.ssh_host_key_alias = seed.ssh_host_key_alias;
}

void write_vm_seed(const VmSpec& spec, const fs::path& work_dir, VmHandle& handle, std::string_view nic_mac) {
  std::optional<VmSeed> seed = make_vm_seed(spec, work_dir, handle.id, nic_mac);
  if (!seed) return;
  handle.seed_iso_path = (work_dir / "seed.iso").string();
  write_seed_iso(handle.seed_iso_path, seed->files);
  record_ssh_identity(*seed, handle);
}

}  // namespace vm_manager::cloudinit
