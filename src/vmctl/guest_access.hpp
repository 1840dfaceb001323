// What `vmctl ssh` and `ssh-config` share: the OpenSSH options that log
// into a running VM with its own key and known_hosts.
#pragma once

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

}  // namespace vmctl
