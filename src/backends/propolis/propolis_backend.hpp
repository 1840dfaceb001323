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

 private:
  ZoneLayout layout_of(const VmHandle& handle) const;
  VmState instance_state(const VmHandle& handle);
  void create_instance(const VmHandle& handle);

  DataDir data_dir_;
  PropolisConfig config_;
  std::unique_ptr<CommandRunner> runner_;
  ZoneTools tools_;
};

}  // namespace vm_manager::propolis
