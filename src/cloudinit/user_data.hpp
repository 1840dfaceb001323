// The "#cloud-config" user-data vmctl generates for a guest: one login user
// with our public key, no password logins, and a pre-made SSH host key so
// the guest's identity is known before its first boot.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "vm_manager/types.hpp"

namespace vm_manager::cloudinit {

struct UserDataOptions {
  std::string user = "vm";
  std::string login_public_key;  // "ssh-ed25519 AAAA… comment"
  std::string host_private_key;  // OpenSSH format, "-----BEGIN OPENSSH PRIVATE KEY-----…"
  std::string host_public_key;   // "ssh-ed25519 AAAA… comment"
  std::string hostname;          // optional; empty leaves it out
  std::vector<SharedFolder> mounts;  // shared folders to mount (mounts.hpp)
};

// Raises cloudinit::invalid_user unless `user` matches [a-z_][a-z0-9_-]{0,31}.
void validate_user_name(std::string_view user);

// The "#cloud-config" document (emitted with yaml-cpp, every string
// double-quoted except the private key, which is a literal block):
//   users: [{name, sudo: "ALL=(ALL) NOPASSWD:ALL", shell: /bin/bash,
//            lock_passwd: true, ssh_authorized_keys: [login key]}]
//   ssh_pwauth: false
//   ssh_keys: {ed25519_private: |, ed25519_public: host key}
//   hostname: … (when given)
//   mounts: [[tag, guest path, virtiofs, options, "0", "0"], …] (when given)
// Raises cloudinit::invalid_user for a bad user name, ssh::bad_key for a
// bad public key and cloudinit::invalid_user_data for a malformed private key.
std::string make_user_data(const UserDataOptions& options);

}  // namespace vm_manager::cloudinit
