// The libvirt backend: VMs as libvirt domains on local or remote hosts
// (qemu:///system, qemu+ssh://user@host/system), their disks as volumes in a
// storage pool there. See docs/architecture.md, "The libvirt backend".
//
// The work dir keeps only what vmctl itself needs (the seed and the SSH keys
// and known_hosts written with it); everything the VM runs on is on its host.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <string_view>

#include "backends/libvirt/config.hpp"
#include "backends/libvirt/connection.hpp"
#include "vm_manager/data_dir.hpp"
#include "vm_manager/hypervisor.hpp"

namespace vm_manager::libvirt {

inline constexpr std::string_view kBackendId = "libvirt";

class LibvirtBackend final : public Hypervisor {
 public:
  LibvirtBackend(DataDir data_dir, LibvirtConfig config);

  VmHandle prepare(const VmSpec& spec) override;
  VmHandle start(const VmHandle& handle) override;
  VmHandle stop(const VmHandle& handle, std::chrono::milliseconds timeout) override;
  VmHandle suspend(const VmHandle& handle) override;
  VmHandle resume(const VmHandle& handle) override;
  void destroy(VmHandle handle) override;
  // Removes the domain and volumes named in the record, when the domain's
  // metadata carries the record's id.
  void destroy_remains(const VmHandle& remains) override;
  void check_stored_paths(const VmHandle& handle) override;
  VmState state(const VmHandle& handle) override;
  std::string guest_ip(const VmHandle& handle) override;
  ConsoleEndpoint console_endpoint(const VmHandle& handle) override;
  ConsoleHistory console_history(const VmHandle& handle) override;
  int open_console(const VmHandle& handle) override;
  HostInfo describe_host(const HostSpec& host) override;
  nlohmann::json describe(const VmHandle& handle) override;

 private:
  // One connection per URI, kept while it is alive, so that the several
  // calls of one command (state, then start) pay for one handshake; libvirt
  // connections may be used from several threads at once.
  std::shared_ptr<Connection> connect(const std::string& uri) const;
  std::shared_ptr<Connection> connect(const VmHandle& handle) const;
  // The VM's domain when it carries the VM's id; null when there is none
  // (or it is another's, which is never touched).
  Domain own_domain(const Connection& connection, const VmHandle& handle) const;
  // own_domain(), or raises vm::invalid_state ("cannot <verb> …: destroyed").
  Domain require_domain(const Connection& connection, const VmHandle& handle, std::string_view verb) const;
  // Undefines the VM's domain (if it is its own) and deletes its volumes.
  void remove_from_host(const VmHandle& handle) const;

  DataDir data_dir_;
  LibvirtConfig config_;
  mutable std::mutex connections_mutex_;
  mutable std::map<std::string, std::shared_ptr<Connection>> connections_;
};

}  // namespace vm_manager::libvirt
