// Provisioning steps: what turns a booted VM into a useful one. A VMFile's
// `provision` nodes map onto these; VmManager::provision runs them in the
// guest over SSH (include/vm_manager/manager.hpp).
#pragma once

#include <filesystem>
#include <string>
#include <variant>

namespace vm_manager {

// One command line, run by the login user's shell.
struct ProvisionShell {
  std::string command;
};
// A local script: uploaded into a private folder of the guest, made
// executable, run, and removed afterwards (also when it fails).
struct ProvisionScript {
  std::filesystem::path script;
};
// A local file copied to `destination` in the guest.
struct ProvisionFile {
  std::filesystem::path source;
  std::string destination;
};
using ProvisionStep = std::variant<ProvisionShell, ProvisionScript, ProvisionFile>;

}  // namespace vm_manager
