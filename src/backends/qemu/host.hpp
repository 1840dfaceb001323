// The QEMU backend's window on the operating system: running programs,
// watching and signalling processes, probing KVM. PosixHost is the real one;
// tests substitute a fake to script failures (a pid reused, a QEMU that
// ignores SIGTERM) that real processes make hard to stage.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>

#include "os/daemon.hpp"
#include "os/proc.hpp"
#include "os/process.hpp"

namespace vm_manager::qemu {

struct KvmProbe {
  bool usable = false;
  std::string reason;  // why not, for the warning
};

class Host {
 public:
  virtual ~Host() = default;

  virtual os::ProcessOutput run(const os::ProcessSpec& spec, std::chrono::milliseconds timeout) = 0;
  // Starts a daemon that outlives us (virtiofsd); its pid once it runs.
  virtual pid_t start_daemon(const os::DaemonSpec& spec) = 0;

  // The start time of the live (non-zombie) process `pid`, if there is one.
  virtual std::optional<std::uint64_t> process_start_time(pid_t pid) = 0;
  // Alive, not a zombie, and started at `start_time`.
  virtual bool process_running(pid_t pid, std::uint64_t start_time) = 0;
  // Signals only the process that started at `start_time` and that
  // `is_expected` accepts (what it runs: a VM's QEMU, see qemu_process.hpp).
  virtual bool signal(pid_t pid, std::uint64_t start_time, const os::IdentityCheck& is_expected, int signal) = 0;
  // True once it has exited (or turned zombie) within `timeout`.
  virtual bool wait_for_exit(pid_t pid, std::uint64_t start_time, std::chrono::milliseconds timeout) = 0;

  // What the live process `pid` runs, if there is one.
  virtual std::optional<os::ProcessIdentity> process_identity(pid_t pid) = 0;

  // Opens the KVM device and asks it for a VM, as QEMU would.
  virtual KvmProbe probe_kvm(const std::filesystem::path& device) = 0;
};

std::shared_ptr<Host> make_posix_host();

}  // namespace vm_manager::qemu
