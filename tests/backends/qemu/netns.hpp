// A private network namespace for tests that need real networking (bridges,
// taps, a DHCP server) without touching the host's own network.
//
// setns() moves only the calling thread. Call enter() on the main thread,
// before the test starts anything: every process and thread started from it
// afterwards lives in the namespace, and /proc/net (which follows the
// process's main thread) shows the namespace's tables.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "os/process.hpp"

namespace vmctl::test {

// The inode of a network namespace file (/proc/.../ns/net or /run/netns/NAME); 0 when unreadable.
std::uint64_t netns_inode(const std::filesystem::path& ns_file);

// The calling thread's network namespace.
std::uint64_t current_netns_inode();

// Runs `ip ARGS…` (through os::run_process, never a shell); raises
// std::runtime_error quoting ip's stderr when it fails.
vm_manager::os::ProcessOutput ip_or_throw(const std::vector<std::string>& args);
// Runs `ip ARGS…` and returns what happened, failure included.
vm_manager::os::ProcessOutput ip(const std::vector<std::string>& args);

class NetworkNamespace {
 public:
  // `ip netns add NAME`. Raises std::runtime_error when that fails.
  explicit NetworkNamespace(std::string name);
  // Leaves (if entered) and deletes the namespace; never throws.
  ~NetworkNamespace();
  NetworkNamespace(const NetworkNamespace&) = delete;
  NetworkNamespace& operator=(const NetworkNamespace&) = delete;

  const std::string& name() const { return name_; }
  std::filesystem::path file() const { return "/run/netns/" + name_; }
  std::uint64_t inode() const { return inode_; }

  // Moves the calling thread into the namespace and checks that it is
  // there; raises std::runtime_error (and stays where it was) otherwise.
  void enter();
  // Moves the calling thread back to the namespace it came from.
  void leave();
  // The calling thread is in this namespace (and not where it came from).
  bool inside() const;

  // Processes (other than this one) that still live in the namespace.
  std::vector<pid_t> pids() const;

  // `ip netns delete NAME`; true when the name is gone. Leaves first.
  bool remove();

 private:
  std::string name_;
  std::uint64_t inode_ = 0;
  std::uint64_t origin_inode_ = 0;
  int origin_fd_ = -1;  // the namespace enter() came from
  bool entered_ = false;
  bool removed_ = false;
};

// Deletes namespaces named PREFIX<pid> whose test process <pid> is gone
// (left by a test that was killed), first killing by pid any QEMU or dnsmasq
// still inside them. Returns what it did, for the log.
std::vector<std::string> remove_stale_namespaces(const std::string& prefix);

// A program started in the background (fork + exec, no shell) with stdin
// from /dev/null and stdout/stderr appended to a log file. It gets SIGKILL
// if the thread that started it dies, so a crashed test leaves no daemon.
class BackgroundProcess {
 public:
  BackgroundProcess(const std::vector<std::string>& argv, const std::filesystem::path& log);
  ~BackgroundProcess();  // stop()
  BackgroundProcess(const BackgroundProcess&) = delete;
  BackgroundProcess& operator=(const BackgroundProcess&) = delete;

  pid_t pid() const { return pid_; }
  bool running();  // not exited (reaps it when it has)
  // SIGTERM, then SIGKILL after `grace`; reaps it. True when it is gone.
  bool stop(std::chrono::milliseconds grace = std::chrono::seconds(5));

 private:
  pid_t pid_ = -1;
  bool reaped_ = false;
};

}  // namespace vmctl::test
