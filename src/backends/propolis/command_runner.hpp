// The propolis backend's seam to the illumos tools (zfs, zonecfg, zoneadm,
// dladm): argv vectors in, exit status and captured output out. Tests put
// fake tools first in PATH, or script a runner of their own.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "os/process.hpp"

namespace vm_manager::propolis {

class CommandRunner {
 public:
  virtual ~CommandRunner() = default;
  // Runs argv (argv[0] looked up in PATH). Never throws for a failing
  // command: the caller reads exit_code. Raises process::spawn_failed when
  // the program cannot be started at all.
  virtual os::ProcessOutput run(const std::vector<std::string>& argv, std::chrono::milliseconds timeout) = 0;
};

// Runs real processes through os::run_process.
std::unique_ptr<CommandRunner> system_command_runner();

}  // namespace vm_manager::propolis
