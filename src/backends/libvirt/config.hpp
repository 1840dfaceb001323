// The libvirt backend's settings, and which host, pool and network a VM uses.
#pragma once

#include <chrono>
#include <map>
#include <string>

#include "core/logger.hpp"
#include "vm_manager/environment.hpp"

namespace vm_manager::libvirt {

struct LibvirtConfig {
  std::string default_uri = "qemu:///system";  // VMCTL_LIBVIRT_URI
  std::string default_pool = "default";        // VMCTL_LIBVIRT_POOL
  std::string default_network = "default";     // VMCTL_LIBVIRT_NETWORK
  // VMCTL_LIBVIRT_CONNECT_TIMEOUT (s): how long opening a connection may take.
  std::chrono::milliseconds connect_timeout{std::chrono::seconds(20)};
  // How long guest_ip looks for a DHCP lease: a guest under TCG asks for one
  // seconds after it starts, and `start --wait` or `up` ask right away.
  std::chrono::milliseconds guest_ip_timeout{std::chrono::seconds(60)};
  Logger log;

  // Raises spec::invalid for a malformed timeout.
  static LibvirtConfig from_environment(const Environment& env);
};

// Where a VM (its spec's backend_options) or a host (HostSpec::options)
// lives: "connect", "pool", "network", "host"; the config's defaults for
// those not given.
struct Placement {
  std::string uri;
  std::string pool;
  std::string network;
  std::string host;  // the user's name for the host; the URI when none
};
Placement placement_from(const std::map<std::string, std::string>& options, const LibvirtConfig& config);

}  // namespace vm_manager::libvirt
