// Propolis (Oxide's bhyve VMM) on illumos: each VM is a nebula-vm zone
// running propolis-server, with its disk a ZFS clone of an image snapshot
// and its NICs VNICs. The zone tools and the HTTP API are its seams, so
// the whole flow runs on Linux against fakes (tests/propolis/).
#pragma once

#include <memory>

#include "backends/propolis/command_runner.hpp"
#include "backends/propolis/config.hpp"
#include "backends/propolis/zone_tools.hpp"
#include "vm_manager/data_dir.hpp"
#include "vm_manager/hypervisor.hpp"

namespace vm_manager::propolis {

// The id this backend registers under and tags its VMs with.
inline constexpr std::string_view kBackendId = "propolis";

class PropolisBackend final : public Hypervisor {
 public:
  PropolisBackend(DataDir data_dir, PropolisConfig config, std::unique_ptr<CommandRunner> runner);

  // spec.image_path is "<image>@<snapshot>" under <pool>/images;
  // spec.backend_options["propolis_api"] the zone's API address (IP/PREFIX);
  // networking is VNICs.
  VmHandle prepare(const VmSpec& spec) override;
  // Boots the zone, creates the instance (PUT /instance) and runs it,
  // waiting on the state monitor.
  VmHandle start(const VmHandle& handle) override;
  // Asks the instance to stop (state monitor), then halts the zone; the
  // zone is halted at the timeout even if the guest has not stopped.
  VmHandle stop(const VmHandle& handle, std::chrono::milliseconds timeout) override;
  // Not supported by propolis-server: raise backend::unsupported.
  VmHandle suspend(const VmHandle& handle) override;
  VmHandle resume(const VmHandle& handle) override;
  void destroy(VmHandle handle) override;
  // Images are ZFS snapshots ("<image>@<snapshot>"), kept as named.
  std::string image_reference(const VmSpec& spec) override { return spec.image_path; }
  // Tears down the zone that the work dir's zone.json names.
  void destroy_remains(const VmHandle& remains) override;
  // The zone's state and the instance's, combined.
  VmState state(const VmHandle& handle) override;
  std::string guest_ip(const VmHandle& handle) override;
  ConsoleEndpoint console_endpoint(const VmHandle& handle) override;
  ConsoleHistory console_history(const VmHandle& handle) override;

  // Snapshots are ZFS snapshots of the VM's volumes (root and data disks,
  // taken together): disks only, of a stopped or prepared VM. A running VM
  // refuses: snapshot::unsupported for one with RAM (propolis-server cannot
  // save it), snapshot::needs_stopped for one without and for a restore.
  // A restore destroys the snapshots taken after it (zfs rollback -r).
  // (snapshots.cpp)
  VmHandle create_snapshot(const VmHandle& handle, const std::string& snapshot, SnapshotMemory memory) override;
  std::vector<SnapshotInfo> list_snapshots(const VmHandle& handle) override;
  VmHandle restore_snapshot(const VmHandle& handle, const std::string& snapshot) override;
  VmHandle delete_snapshot(const VmHandle& handle, const std::string& snapshot) override;

  // The instance's "Reboot" state: propolis-server resets the guest at
  // once; returns when it runs again. (vm_changes.cpp)
  VmHandle hard_reset(const VmHandle& handle) override;
  // vCPUs and memory go into the next start's instance spec; the root
  // volume grows with `zfs set volsize`. (vm_changes.cpp)
  VmHandle resize(const VmHandle& handle, const VmResize& change) override;

 private:
  std::string zvol_device(const VmHandle& handle, const std::string& dataset) const;
  // Raises `code` unless the VM is stopped or prepared, saying it must be
  // stopped to `what`.
  void require_stopped(const VmHandle& handle, std::string_view code, std::string_view what);
  ZoneLayout layout_of(const VmHandle& handle) const;
  VmState instance_state(const VmHandle& handle);
  void create_instance(const VmHandle& handle);

  DataDir data_dir_;
  PropolisConfig config_;
  std::unique_ptr<CommandRunner> runner_;
  ZoneTools tools_;
};

}  // namespace vm_manager::propolis
