// Starting programs: always an argv vector (never a shell string), with a
// bound on how long we wait.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace vm_manager::os {

// What to run; separate from running it so tests can inspect and fake it.
struct ProcessSpec {
  std::vector<std::string> argv;                      // argv[0] is looked up in PATH
  std::map<std::string, std::string> env_overrides;   // added to our environment
  std::optional<std::string> stdin_data;              // fed to stdin; /dev/null otherwise
  // Open files of ours the child gets at the given fd numbers (2 and up),
  // so it needs no path that could be swapped: {2, fd} sends its stderr
  // there instead of capturing it; QEMU takes higher ones with -add-fd.
  // Our own descriptors stay open and ours.
  std::map<int, int> child_fds;  // fd number in the child → our open fd
};

struct ProcessOutput {
  int exit_code = -1;   // -1 when killed by a signal or timed out
  int signal = 0;
  bool timed_out = false;
  std::string out;
  std::string err;

  bool ok() const { return exit_code == 0; }
};

// Runs to completion, capturing stdout and stderr concurrently. At the
// timeout the process is killed (SIGKILL) and timed_out is set. Raises
// Error(process::spawn_failed) when it cannot be started at all.
ProcessOutput run_process(const ProcessSpec& spec, std::chrono::milliseconds timeout);
ProcessOutput run_process(const std::vector<std::string>& argv, std::chrono::milliseconds timeout);

// "argv[0] argv[1] …" with arguments quoted where needed, for messages.
std::string describe(const std::vector<std::string>& argv);

}  // namespace vm_manager::os
