#include "backends/propolis/instance_spec.hpp"

#include <algorithm>
#include <regex>

#include <fmt/format.h>

#include "util/base64.hpp"
#include "util/printable.hpp"
#include "vm_manager/error.hpp"

namespace vm_manager::propolis {
namespace {

using nlohmann::json;

// PCI layout (bus 0): the boot disk, NICs in a block of their own, then the
// seed. Fixed slots keep guest device names stable across restarts.
constexpr int kBootDiskSlot = 4;
constexpr int kFirstNicSlot = 8;
constexpr int kFirstDataDiskSlot = 16;
constexpr int kSeedDiskSlot = 24;
static_assert(kFirstNicSlot + static_cast<int>(kMaxNics) <= kFirstDataDiskSlot);
static_assert(kFirstDataDiskSlot + static_cast<int>(kMaxDataDiskSlots) <= kSeedDiskSlot);

// The metadata only labels Oximeter metrics, which a standalone
// propolis-server does not export; the API still requires every field.
constexpr const char* kNilUuid = "00000000-0000-0000-0000-000000000000";

[[noreturn]] void invalid(const std::string& message, std::string help) {
  throw Error(errc::spec_invalid, message, std::move(help));
}

void check(const InstanceParams& p) {
  static const std::regex uuid("^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$");
  if (!std::regex_match(p.id, uuid))
    invalid(fmt::format("Propolis instance id '{}' is not a UUID", util::printable(p.id)),
            "this is a bug in vmctl: instance ids are generated UUIDs");
  check_board(p.vcpus, p.memory_mb, p.max_vcpus);
  if (p.disk_path.empty()) invalid("the Propolis VM has no boot disk path", "this is a bug in vmctl");
  if (p.vnics.size() > kMaxNics)
    invalid(fmt::format("{} NICs asked for; the Propolis backend supports at most {}", p.vnics.size(), kMaxNics),
            "attach fewer networks to the VM");
  if (p.data_disks.size() > kMaxDataDiskSlots)
    invalid(fmt::format("{} data disks asked for; the Propolis backend supports at most {}", p.data_disks.size(),
                        kMaxDataDiskSlots),
            "give the VM fewer data disks");
  for (const auto& d : p.data_disks) {
    if (d.name.empty() || d.name.size() > kSerialNumberBytes || d.path.empty())
      invalid(fmt::format("data disk '{}' cannot be given to propolis-server (a name of 1 to {} bytes and a path)",
                          util::printable(d.name), kSerialNumberBytes),
              "this is a bug in vmctl: data disk names are checked at create");
  }
}

json pci(int slot) { return {{"bus", 0}, {"device", slot}, {"function", 0}}; }

json component(const char* type, json body) { return {{"type", type}, {"component", std::move(body)}}; }

json virtio_disk(const std::string& backend, int slot) {
  return component("virtio_disk", {{"backend_id", backend}, {"pci_path", pci(slot)}});
}

// A correlation id per NIC, derived from the instance id so that the same
// parameters always give the same request.
std::string interface_id(const std::string& instance_id, std::size_t index) {
  return instance_id.substr(0, instance_id.size() - 4) + fmt::format("{:04x}", index);
}

void add_nics(json& components, const InstanceParams& p) {
  for (std::size_t i = 0; i < p.vnics.size(); ++i) {
    std::string key = fmt::format("net{}", i);
    std::string backend = key + "-backend";
    components[key] = component("virtio_nic", {{"backend_id", backend},
                                               {"interface_id", interface_id(p.id, i)},
                                               {"pci_path", pci(kFirstNicSlot + static_cast<int>(i))}});
    components[backend] = component("virtio_network_backend", {{"vnic_name", p.vnics[i]}});
  }
}

// NVMe's serial number: ASCII, padded with spaces to its 20 bytes.
json serial_number(const std::string& name) {
  json bytes = json::array();
  for (std::size_t i = 0; i < kSerialNumberBytes; ++i)
    bytes.push_back(i < name.size() ? static_cast<unsigned char>(name[i]) : static_cast<unsigned char>(' '));
  return bytes;
}

void add_data_disks(json& components, const InstanceParams& p) {
  for (std::size_t i = 0; i < p.data_disks.size(); ++i) {
    const auto& d = p.data_disks[i];
    std::string key = data_disk_key(d.name);
    std::string backend = "data-backend:" + d.name;
    components[key] = component("nvme_disk", {{"backend_id", backend},
                                              {"pci_path", pci(kFirstDataDiskSlot + static_cast<int>(i))},
                                              {"serial_number", serial_number(d.name)}});
    components[backend] = component("file_storage_backend", {{"path", d.path}, {"readonly", false}, {"block_size", 512}});
  }
}

json components(const InstanceParams& p) {
  json c = json::object();
  c[kSerialKey] = component("serial_port", {{"num", "com1"}});
  const std::string disk_backend = std::string(kBootDiskKey) + "-backend";
  c[kBootDiskKey] = virtio_disk(disk_backend, kBootDiskSlot);
  // 512-byte sectors: what guests expect of a virtio-blk disk and what the
  // zvols vmctl creates use.
  c[disk_backend] = component("file_storage_backend",
                              {{"path", p.disk_path}, {"readonly", p.disk_read_only}, {"block_size", 512}});
  add_nics(c, p);
  add_data_disks(c, p);
  if (p.seed_iso) {
    const std::string seed_backend = std::string(kSeedDiskKey) + "-backend";
    c[kSeedDiskKey] = virtio_disk(seed_backend, kSeedDiskSlot);
    c[seed_backend] =
        component("blob_storage_backend", {{"base64", util::base64_encode(*p.seed_iso)}, {"readonly", true}});
  }
  // Without a boot order the firmware might try the seed disk or PXE first.
  c["boot-settings"] = component("boot_settings", {{"order", json::array({{{"id", kBootDiskKey}}})}});
  return c;
}

json board(const InstanceParams& p) {
  // i440fx is the only chipset API 5.0.0 offers; PCIe config access is not
  // needed by the virtio devices used here.
  return {{"chipset", {{"type", "i440_fx"}, {"value", {{"enable_pcie", false}}}}},
          {"cpus", p.vcpus},
          {"memory_mb", p.memory_mb}};
}

json properties(const InstanceParams& p) {
  return {{"id", p.id},
          {"name", p.name},
          {"description", p.description},
          {"metadata",
           {{"project_id", kNilUuid},
            {"silo_id", kNilUuid},
            {"sled_id", kNilUuid},
            {"sled_model", "vmctl"},
            {"sled_revision", 0},
            {"sled_serial", "vmctl"}}}};
}

}  // namespace

// Names hold no ':' (VM-name rules), the fixed keys none either: no key
// can equal another.
std::string data_disk_key(const std::string& name) { return "data:" + name; }

void check_board(std::uint32_t vcpus, std::uint64_t memory_mb, std::uint32_t max_vcpus) {
  // Board.cpus is a uint8 in the API; the server's own limit is lower still.
  max_vcpus = std::min(max_vcpus, kOmicronBuildMaxVcpus);
  if (vcpus < 1 || vcpus > max_vcpus)
    invalid(fmt::format("vcpus must be between 1 and {} for a Propolis VM, not {}", max_vcpus, vcpus),
            max_vcpus < kOmicronBuildMaxVcpus
                ? fmt::format("propolis-server allows at most {} vCPUs (bhyve's VM_MAXCPU); give fewer, or raise "
                              "VMCTL_PROPOLIS_MAX_VCPUS (up to {}) if the server is built for a Helios kernel "
                              "with more",
                              max_vcpus, kOmicronBuildMaxVcpus)
                : fmt::format("give at most {} vCPUs", max_vcpus));
  if (memory_mb < 1 || memory_mb > kMaxMemoryMb)
    invalid(fmt::format("memory must be between 1 and {} MB for a Propolis VM, not {}", kMaxMemoryMb, memory_mb),
            "propolis-server lays guest memory out below 16 TiB of address space, less 1 GiB for devices; give "
            "less memory");
}

nlohmann::json make_ensure_request(const InstanceParams& params) {
  check(params);
  json spec = {{"board", board(params)}, {"components", components(params)}};
  return {{"properties", properties(params)},
          {"init", {{"method", "Spec"}, {"value", {{"spec", std::move(spec)}}}}}};
}

}  // namespace vm_manager::propolis
