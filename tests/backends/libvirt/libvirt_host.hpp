// The real libvirtd for tests, as a host with systemd would run it, but all
// inside a network namespace of the test's own.
//
// One LibvirtHost at a time on the machine: two root libvirtds collide on
// /run/libvirt, so the constructor takes an exclusive flock (and ctest gives
// these tests RESOURCE_LOCK libvirtd). It then
// - cleans up what a killed earlier run left (by its state file, by stale
//   vmctl-lv<pid> namespaces whose test is gone, leftover test domains);
// - makes /dev/kvm root:kvm 0660 (restored at the end): else libvirt throws
//   its capabilities cache away and re-probes QEMU on every call;
// - creates the namespace vmctl-lv<pid> with lo up and starts virtlogd and
//   `tini -s -- libvirtd` in it (tini reaps libvirt's double-forked QEMU at
//   once; this machine's PID 1 reaps seconds late), so libvirt's NAT
//   network, bridge, iptables rules and dnsmasq never touch the host;
// - defines a transient NAT network "default" (bridge vmctlbr0,
//   192.168.150.0/24, DHCP) and a transient dir pool "default" in a temp dir
//   the QEMU user (libvirt-qemu) can reach;
// - optionally starts an sshd on 127.0.0.1 in the namespace, its host key
//   pinned in a test known_hosts, for qemu+ssh:// and qemu+libssh:// URIs.
// The libvirtd socket is a file, so this process reaches qemu:///system
// from the host namespace too. The destructor destroys and undefines the
// domains the test left, stops every process it started by pid, deletes
// the namespace and temp dir, restores /dev/kvm and releases the lock.
#pragma once

#include <sys/stat.h>
#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "support/process.hpp"

namespace vmctl::test {

class NetworkNamespace;
class BackgroundProcess;

struct LibvirtHostOptions {
  bool sshd = false;  // also an sshd for qemu+ssh:// URIs
};

class LibvirtHost {
 public:
  static constexpr const char* local_uri = "qemu:///system";
  static constexpr const char* bridge = "vmctlbr0";
  static constexpr const char* gateway = "192.168.150.1";
  static constexpr const char* lock_file = "/run/lock/vmctl-test-libvirtd.lock";
  // What a running harness records, so that the next one can undo a run that was killed.
  static constexpr const char* state_file = "/run/lock/vmctl-test-libvirtd.state";
  // A domain with this <description> is the test's own, though not vmctl's.
  static constexpr const char* foreign_marker = "vmctl-test-foreign-domain";

  explicit LibvirtHost(LibvirtHostOptions options = {});
  ~LibvirtHost();
  LibvirtHost(const LibvirtHost&) = delete;
  LibvirtHost& operator=(const LibvirtHost&) = delete;

  const std::string& netns() const { return netns_name_; }
  const std::filesystem::path& dir() const { return dir_; }        // the temp root (o+x)
  std::filesystem::path pool_dir() const { return dir_ / "pool"; }  // the "default" pool

  // `ip netns exec NS argv…`: argv run inside the namespace.
  std::vector<std::string> in_netns(const std::vector<std::string>& argv) const;
  // `virsh -c qemu:///system ARGS…` from this process.
  ProcessResult virsh(const std::vector<std::string>& args) const;
  // The pool's volumes other than the shared base images (and their
  // markers): what a VM leaves when it is not cleaned up.
  std::set<std::string> vm_volumes() const;
  // Every domain's name (`virsh list --all --name`).
  std::set<std::string> domains() const;
  // Moves this process's main thread (call it from there) into the
  // namespace, so that in-process code reaches the sshd on 127.0.0.1.
  void enter_netns();

  // The remote URIs through the test sshd (options.sshd). libvirt 9.0's
  // ssh transport runs the ssh binary, which ignores known_hosts=: the URI
  // names a wrapper (command=) that pins the test's known_hosts. The libssh
  // transport reads known_hosts= itself.
  std::string ssh_uri() const;
  std::string libssh_uri() const;
  std::uint16_t ssh_port() const { return ssh_port_; }
  std::filesystem::path ssh_identity() const { return dir_ / "ssh" / "id_ed25519"; }
  std::filesystem::path ssh_known_hosts() const { return dir_ / "ssh" / "known_hosts"; }

  pid_t libvirtd_pid() const;  // 0 when not running
  // SIGKILL to libvirtd, as a crash; its QEMUs live on.
  void kill_libvirtd();
  // Starts libvirtd (again) and waits until it answers.
  void start_libvirtd();
  // libvirtd's, virtlogd's and sshd's output, for failure messages.
  std::string log() const;

 private:
  void set_up();
  void tear_down() noexcept;
  void start_virtlogd();
  void start_sshd();
  void define_network_and_pool();
  void write_state() const;

  LibvirtHostOptions options_;
  int lock_fd_ = -1;
  std::string netns_name_;
  std::filesystem::path dir_;
  std::optional<struct stat> kvm_before_;
  std::unique_ptr<NetworkNamespace> ns_;
  std::unique_ptr<BackgroundProcess> virtlogd_;
  std::unique_ptr<BackgroundProcess> libvirtd_;  // tini, with libvirtd its child
  std::unique_ptr<BackgroundProcess> sshd_;
  std::uint16_t ssh_port_ = 0;
  std::set<std::string> domains_before_;
  // /var/log/libvirt/qemu at the start: the logs of the test's domains are the others.
  std::optional<std::set<std::string>> qemu_logs_before_;
};

// Lines that say what a cleanup of a killed run did (for the test log).
// Takes no lock: the caller holds LibvirtHost::lock_file.
std::vector<std::string> clean_up_killed_libvirt_runs();

// The start time of a process (field 22 of /proc/PID/stat), 0 when it is
// gone: a pid plus its start time names one process, pid reuse or not.
unsigned long long process_start_time(pid_t pid);

}  // namespace vmctl::test
