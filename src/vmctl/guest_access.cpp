#include "vmctl/guest_access.hpp"

#include <fmt/format.h>

#include "vm_manager/error.hpp"

namespace vmctl {
using namespace vm_manager;

namespace {

// ssh_config splits values at blanks unless they are double-quoted.
std::string config_value(const std::string& value) {
  if (value.find_first_of(" \t") == std::string::npos) return value;
  return "\"" + value + "\"";
}

}  // namespace

std::vector<std::string> openssh_settings(const SshAccess& access) {
  std::vector<std::string> lines = {
      "HostName " + access.host,
      fmt::format("Port {}", access.port),
      "User " + access.user,
      "UserKnownHostsFile " + config_value(access.known_hosts),
      "GlobalKnownHostsFile /dev/null",
      // The VM's host key is filed under this alias, so a new port or
      // address after a restart still matches it.
      "HostKeyAlias " + access.host_key_alias,
      "StrictHostKeyChecking yes",
      "CheckHostIP no",
      "LogLevel ERROR",
      // A hung guest behind user networking keeps its TCP connection open
      // (QEMU holds it); only SSH-level probes notice, after about a minute.
      "ServerAliveInterval 15",
      "ServerAliveCountMax 4",
  };
  if (!access.identity_file.empty()) {
    lines.push_back(identity_file_setting(access.identity_file));
    lines.push_back("IdentitiesOnly yes");
  }
  return lines;
}

std::string identity_file_setting(const std::string& path) { return "IdentityFile " + config_value(path); }

std::string jump_alias(const std::string& vm_name) { return vm_name + "+jump"; }

std::vector<std::string> openssh_jump_settings(const SshJumpHost& jump) {
  std::vector<std::string> lines = {"HostName " + jump.host, fmt::format("Port {}", jump.port)};
  if (!jump.user.empty()) lines.push_back("User " + jump.user);
  if (!jump.identity_file.empty()) {
    lines.push_back(identity_file_setting(jump.identity_file));
    lines.push_back("IdentitiesOnly yes");
  }
  if (!jump.known_hosts.empty()) lines.push_back("UserKnownHostsFile " + config_value(jump.known_hosts));
  lines.push_back("StrictHostKeyChecking yes");
  lines.push_back("LogLevel ERROR");
  return lines;
}

std::string openssh_config(const std::string& name, const std::vector<std::string>& settings,
                           const std::optional<SshJumpHost>& jump) {
  std::string out = "Host " + name + "\n";
  for (const std::string& line : settings) out += "  " + line + "\n";
  if (!jump) return out;
  out += "  ProxyJump " + jump_alias(name) + "\n";
  out += "\nHost " + jump_alias(name) + "\n";
  for (const std::string& line : openssh_jump_settings(*jump)) out += "  " + line + "\n";
  return out;
}

std::vector<std::string> openssh_arguments(const SshAccess& access) { return openssh_arguments(openssh_settings(access)); }

std::vector<std::string> openssh_arguments(const std::vector<std::string>& settings) {
  std::vector<std::string> args;
  for (const std::string& line : settings) {
    std::string option = line;
    option[option.find(' ')] = '=';
    args.push_back("-o");
    args.push_back(option);
  }
  return args;
}

}  // namespace vmctl
