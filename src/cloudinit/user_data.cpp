#include "cloudinit/user_data.hpp"

#include <yaml-cpp/yaml.h>

#include <fmt/format.h>

#include "cloudinit/mounts.hpp"
#include "ssh/keys.hpp"
#include "vm_manager/error.hpp"

namespace vm_manager::cloudinit {
namespace {


constexpr std::string_view kPrivateKeyBegin = "-----BEGIN OPENSSH PRIVATE KEY-----\n";
constexpr std::string_view kPrivateKeyEnd = "-----END OPENSSH PRIVATE KEY-----\n";

// The private key goes into a literal block, so it must be plain printable
// ASCII lines in OpenSSH's armour, ending in exactly one newline.
std::string checked_private_key(std::string key) {
  if (!key.empty() && key.back() != '\n') key += '\n';
  bool armoured = key.size() > kPrivateKeyBegin.size() + kPrivateKeyEnd.size() && key.starts_with(kPrivateKeyBegin) &&
                  key.ends_with(kPrivateKeyEnd);
  if (armoured) {
    // Between the armour lines: non-empty lines of base64 only.
    const std::string_view body = std::string_view(key).substr(
        kPrivateKeyBegin.size(), key.size() - kPrivateKeyBegin.size() - kPrivateKeyEnd.size());
    char previous = '\n';
    for (char c : body) {
      const bool base64 = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' ||
                          c == '/' || c == '=';
      if (!(base64 || (c == '\n' && previous != '\n'))) armoured = false;
      previous = c;
    }
    if (previous != '\n') armoured = false;
  }
  if (!armoured) {
    throw Error(errc::cloudinit_invalid_user_data, "the SSH host private key is not an unencrypted OpenSSH private key",
                "pass the key exactly as ssh-keygen or vmctl wrote it (\"-----BEGIN OPENSSH PRIVATE KEY-----\" …)");
  }
  return key;
}

}  // namespace

void validate_user_name(std::string_view user) {
  bool ok = !user.empty() && user.size() <= 32 && ((user[0] >= 'a' && user[0] <= 'z') || user[0] == '_');
  for (char c : user) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-')) ok = false;
  }
  if (!ok) {
    throw Error(errc::cloudinit_invalid_user, fmt::format("\"{}\" is not a valid guest user name", user),
                "use 1 to 32 characters: lowercase letters, digits, '_' or '-', starting with a letter or '_'");
  }
}

std::string make_user_data(const UserDataOptions& options) {
  validate_user_name(options.user);
  const std::string login_key = ssh::parse_public_key(options.login_public_key).line();
  const std::string host_public = ssh::parse_public_key(options.host_public_key).line();
  const std::string host_private = checked_private_key(options.host_private_key);

  YAML::Emitter out;
  out.SetIndent(2);
  out << YAML::BeginMap;
  out << YAML::Key << "users" << YAML::Value << YAML::BeginSeq;
  out << YAML::BeginMap;
  out << YAML::Key << "name" << YAML::Value << YAML::DoubleQuoted << options.user;
  out << YAML::Key << "sudo" << YAML::Value << YAML::DoubleQuoted << "ALL=(ALL) NOPASSWD:ALL";
  out << YAML::Key << "shell" << YAML::Value << YAML::DoubleQuoted << "/bin/bash";
  out << YAML::Key << "lock_passwd" << YAML::Value << true;
  out << YAML::Key << "ssh_authorized_keys" << YAML::Value << YAML::BeginSeq << YAML::DoubleQuoted << login_key
      << YAML::EndSeq;
  out << YAML::EndMap;
  out << YAML::EndSeq;
  out << YAML::Key << "ssh_pwauth" << YAML::Value << false;
  out << YAML::Key << "ssh_keys" << YAML::Value << YAML::BeginMap;
  out << YAML::Key << "ed25519_private" << YAML::Value << YAML::Literal << host_private;
  out << YAML::Key << "ed25519_public" << YAML::Value << YAML::DoubleQuoted << host_public;
  out << YAML::EndMap;
  if (!options.hostname.empty()) {
    out << YAML::Key << "hostname" << YAML::Value << YAML::DoubleQuoted << options.hostname;
  }
  emit_mounts(out, options.mounts);
  out << YAML::EndMap;
  if (!out.good()) {
    throw Error(errc::cloudinit_invalid_user_data, fmt::format("cannot write cloud-init user-data: {}", out.GetLastError()),
                "check the hostname and keys for invalid UTF-8");
  }
  return "#cloud-config\n" + std::string(out.c_str()) + "\n";
}

}  // namespace vm_manager::cloudinit
