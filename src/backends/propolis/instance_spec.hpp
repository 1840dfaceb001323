// The InstanceEnsureRequest (propolis-server API 5.0.0) that creates one VM:
// a board, com1, the boot disk on its zvol, one virtio NIC per VNIC, an NVMe
// disk per data disk, and the
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

// The most vCPUs propolis-server gives a VM: VM_MAXCPU
// (oxidecomputer/propolis crates/bhyve-api/sys/src/lib.rs, 372a5744), which
// lib/propolis/src/vcpu.rs makes MAXCPU, checked by vmm/machine.rs
// Builder::max_cpus at ensure. A propolis built with the "omicron-build"
// feature, for Helios (stlouis) kernels, allows 254 instead; vmctl cannot
// ask the server which it is, so the limit is a setting.
inline constexpr std::uint32_t kDefaultMaxVcpus = 32;
inline constexpr std::uint32_t kOmicronBuildMaxVcpus = 254;

// The most memory propolis-server can lay out: it maps the first 3 GiB at 0,
// the rest from 4 GiB up, then a "dev64" MMIO region of at least one byte
// up to MAX_PHYSMEM = 16 TiB (bin/propolis-server/src/lib/initializer.rs
// build_instance, lib/propolis/src/vmm/machine.rs; util/aspace.rs refuses a
// zero-length region). So memory < 16 TiB - 1 GiB. No lower bound beyond 0
// (a zero-length "lowmem" region is refused the same way).
inline constexpr std::uint64_t kMaxMemoryMb = 16ull * 1024 * 1024 - 1024 - 1;

// Raises errc::spec_invalid unless propolis-server can build a VM of this
// size: 1..max_vcpus vCPUs (max_vcpus at most kOmicronBuildMaxVcpus) and
// 1..kMaxMemoryMb MiB.
void check_board(std::uint32_t vcpus, std::uint64_t memory_mb, std::uint32_t max_vcpus);

struct InstanceParams {
  std::string id;  // a UUID
  std::string name;
  std::string description;
  std::uint32_t vcpus = 1;
  std::uint32_t max_vcpus = kDefaultMaxVcpus;  // what the server allows (check_board)
  std::uint64_t memory_mb = 0;
  std::string disk_path;  // the zvol device, /dev/zvol/rdsk/<pool>/vms/<name>
  bool disk_read_only = false;
  std::vector<std::string> vnics;  // one virtio NIC on each
  // Each an NVMe disk: API 5.0.0 gives a virtio disk no serial number, an
  // NVMe disk a 20-byte one, which carries the name (space-padded, as NVMe
  // pads it), so the guest can tell the disks apart by name.
  struct DataDisk {
    std::string name;  // at most kSerialNumberBytes bytes
    std::string path;  // its zvol device
  };
  std::vector<DataDisk> data_disks;
  std::optional<std::string> seed_iso;  // raw bytes of the cloud-init seed
};

// Component keys in the spec, so that callers (boot order, tests, logs) can
// name the devices.
inline constexpr const char* kBootDiskKey = "boot-disk";
inline constexpr const char* kSeedDiskKey = "cloud-init";
inline constexpr const char* kSerialKey = "com1";

// The most NICs the PCI layout below has slots for, and data disks.
inline constexpr std::size_t kMaxNics = 8;
inline constexpr std::size_t kMaxDataDiskSlots = 8;
// NvmeDisk.serial_number's length.
inline constexpr std::size_t kSerialNumberBytes = 20;

// A data disk's component key: "data:<name>" (its backend "data-backend:<name>").
std::string data_disk_key(const std::string& name);

// A complete InstanceEnsureRequest. Raises errc::spec_invalid for values the
// server cannot take (a board check_board refuses, too many NICs, an id that
// is not a UUID, an empty disk path).
nlohmann::json make_ensure_request(const InstanceParams& params);

}  // namespace vm_manager::propolis
