// Provisioners: the steps that turn a booted VM into a useful one, run over
// an SSH session. The VMFile's `provision` nodes map onto these.
#pragma once

#include <filesystem>
#include <functional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "ssh/session.hpp"
#include "vm_manager/provision.hpp"

namespace vm_manager::provision {

// The steps are the public ones (vm_manager/provision.hpp), under the names
// the provisioners have always used.
using ShellInline = ProvisionShell;  // `provision "shell" { inline "…" }`
using ShellScript = ProvisionScript;  // `provision "shell" { script "path" }`
using FileCopy = ProvisionFile;       // `provision "file" { source "…"; destination "…" }`
using Step = ProvisionStep;

// "shell inline: apt-get update", "shell script: setup.sh", "file: a.txt -> /etc/a.txt".
std::string describe(const Step& step);

struct RunOptions {
  std::string vm_name;                    // prefixes every output line: "<name> | …" (none when empty)
  std::filesystem::path log_path;         // provision.log in the VM's work dir; appended to
  std::function<void(std::string_view line)> print;  // receives complete prefixed lines, no '\n'
};

// Runs the steps in order. Output streams live, line by line; every step's
// start, output and result is appended to log_path with timestamps. The
// first failing step stops the rest: raises provision::failed naming the
// step (number and describe()) and its exit status.
void run(ssh::Session& session, const std::vector<Step>& steps, const RunOptions& options);

}  // namespace vm_manager::provision
