// Knowing whether a pid is still *our* process. A pid alone is not enough:
// pids are reused, and a dead daemon lingers as a zombie until someone reaps
// it (here PID 1 does, seconds late). So a process is identified by its pid
// plus its start time, and a zombie counts as gone.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace vm_manager::os {

struct ProcStat {
  char state = '?';             // R, S, D, Z, T, …
  std::uint64_t start_time = 0;  // clock ticks after boot (field 22)
};

// What a process runs: its executable's path and its arguments.
struct ProcessIdentity {
  std::string executable;  // /proc/<pid>/exe: resolved, " (deleted)" once replaced on disk
  std::vector<std::string> argv;
};

// Whether a process runs what the caller expects (a pid and start time only
// say which process a record names, not that it is the one the record meant).
using IdentityCheck = std::function<bool(const ProcessIdentity&)>;

// The identity of `pid`, or nullopt when it is gone or not ours to read.
std::optional<ProcessIdentity> read_process_identity(pid_t pid);

// Fields of /proc/<pid>/stat; nullopt when there is no such process.
std::optional<ProcStat> read_proc_stat(pid_t pid);

// Alive (not a zombie) and started at `start_time`.
bool is_running_process(pid_t pid, std::uint64_t start_time);

// Sends `signal` only when the pid still names the process that started at
// `start_time` and `is_expected` accepts what it runs; race-free through a
// pidfd, which holds the process while both are checked. False when it did
// not send.
bool signal_process(pid_t pid, std::uint64_t start_time, const IdentityCheck& is_expected, int signal);

// Waits until the process exits or turns zombie, without polling delays
// (a pidfd becomes readable at exit). True when it is gone.
bool wait_for_exit(pid_t pid, std::uint64_t start_time, std::chrono::milliseconds timeout);

// When the host booted, on the wall clock: what a file written before it
// says holds only for a boot that is over.
std::chrono::system_clock::time_point boot_time();

}  // namespace vm_manager::os
