// What `vmctl ssh` and `ssh-config` share: the OpenSSH options that log
// into a running VM with its own key and known_hosts.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "vmctl/context.hpp"

namespace vmctl {

// ssh_config lines ("Key value", no indentation): host, port, user, the
// VM's identity and known_hosts, StrictHostKeyChecking yes.
std::vector<std::string> openssh_settings(const vm_manager::SshAccess& access);

// The same settings as `-o Key=value` arguments for the ssh command line.
std::vector<std::string> openssh_arguments(const vm_manager::SshAccess& access);

// ssh_config lines ("Key value") as `-o Key=value` arguments.
std::vector<std::string> openssh_arguments(const std::vector<std::string>& settings);

// "IdentityFile <path>", quoted as ssh_config needs.
std::string identity_file_setting(const std::string& path);

// The Host alias of a VM's jump host in the config below: "<vm>+jump" (a VM
// name holds no '+', so it names no VM).
std::string jump_alias(const std::string& vm_name);

// ssh_config lines for a jump host: HostName, Port, and User, IdentityFile,
// UserKnownHostsFile when set (else OpenSSH's defaults, as vmctl's own
// connection uses), StrictHostKeyChecking yes.
std::vector<std::string> openssh_jump_settings(const vm_manager::SshJumpHost& jump);

// A config file's text: `Host <name>` with `settings`, and, for a VM behind
// a jump host, `ProxyJump <jump_alias>` there plus the jump host's own block.
std::string openssh_config(const std::string& name, const std::vector<std::string>& settings,
                           const std::optional<vm_manager::SshJumpHost>& jump);

}  // namespace vmctl
