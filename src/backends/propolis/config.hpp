// The Propolis backend's settings: where VM disks live (ZFS pool), which
// link VNICs go over, where zones and propolis-server are, timeouts.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

#include "backends/propolis/instance_spec.hpp"
#include "backends/propolis/zone_tools.hpp"
#include "core/logger.hpp"
#include "vm_manager/environment.hpp"

namespace vm_manager::propolis {

struct PropolisConfig {
  std::string zfs_pool = "rpool";     // VMCTL_ZFS_POOL; images under <pool>/images, VMs under <pool>/vms
  std::string physical_link;          // VMCTL_PROPOLIS_LINK: VNICs are created over it
  std::string zones_root = "/zones";  // VMCTL_PROPOLIS_ZONES_ROOT
  std::string propolis_dir = "/opt/oxide/propolis-server";  // VMCTL_PROPOLIS_DIR, mounted into each zone
  std::uint16_t api_port = 12400;     // VMCTL_PROPOLIS_PORT: where each zone's propolis-server listens
  std::string zvol_dir = "/dev/zvol/rdsk";  // VMCTL_PROPOLIS_ZVOL_DIR: where volumes appear as devices
  // VMCTL_PROPOLIS_BOOTROM: the firmware, a path as the zone sees it (under
  // /opt/oxide/propolis-server it is <propolis_dir>/… on the host).
  std::string bootrom{kDefaultBootrom};
  // VMCTL_PROPOLIS_MAX_VCPUS: 32 (bhyve's VM_MAXCPU), up to 254 for a
  // propolis-server built for Helios (instance_spec.hpp).
  std::uint32_t max_vcpus = kDefaultMaxVcpus;
  std::chrono::milliseconds tool_timeout{std::chrono::minutes(10)};
  std::chrono::milliseconds request_timeout{std::chrono::seconds(30)};
  std::chrono::milliseconds start_timeout{std::chrono::seconds(120)};  // VMCTL_PROPOLIS_START_TIMEOUT (s)
  Logger log;  // warnings (a zone that would not halt, a silent propolis-server) and the tools run

  // Defaults overridden by the environment; `zfs_pool` (--zfs-pool) wins
  // over VMCTL_ZFS_POOL. Raises spec_invalid for malformed values.
  static PropolisConfig from_environment(const Environment& env, const std::optional<std::string>& zfs_pool);
};

}  // namespace vm_manager::propolis
