// The InstanceEnsureRequest (propolis-server API 5.0.0) that creates one VM:
// a board, com1, the boot disk on its zvol, one virtio NIC per VNIC, and the
// cloud-init seed as a read-only disk whose bytes travel inside the request.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace vm_manager::propolis {

// propolis-server refuses request bodies over 1 MiB (dropshot's
// default_request_body_max_bytes); the seed blob counts against it.
inline constexpr std::size_t kMaxRequestBytes = std::size_t{1} << 20;

struct InstanceParams {
  std::string id;  // a UUID
  std::string name;
  std::string description;
  std::uint32_t vcpus = 1;
  std::uint64_t memory_mb = 0;
  std::string disk_path;  // the zvol device, /dev/zvol/rdsk/<pool>/vms/<name>
  bool disk_read_only = false;
  std::vector<std::string> vnics;  // one virtio NIC on each
  std::optional<std::string> seed_iso;  // raw bytes of the cloud-init seed
};

// Component keys in the spec, so that callers (boot order, tests, logs) can
// name the devices.
inline constexpr const char* kBootDiskKey = "boot-disk";
inline constexpr const char* kSeedDiskKey = "cloud-init";
inline constexpr const char* kSerialKey = "com1";

// The most NICs the PCI layout below has slots for.
inline constexpr std::size_t kMaxNics = 8;

// A complete InstanceEnsureRequest. Raises errc::spec_invalid for values the
// API cannot carry (vcpus outside 1..255, too many NICs, an id that is not a
// UUID, an empty disk path).
nlohmann::json make_ensure_request(const InstanceParams& params);

}  // namespace vm_manager::propolis
