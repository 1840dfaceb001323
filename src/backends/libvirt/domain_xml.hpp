// The domain XML of a vmctl VM, and the few facts read back from libvirt's
// XML (capabilities, a pool's path, the vmctl metadata). Pure: no libvirt.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace vm_manager::libvirt {

// The namespace of the <vmctl:vm> metadata element every vmctl domain carries.
inline constexpr std::string_view kMetadataNamespace = "https://vmctl.dev/xmlns/libvirt/1";

// The guest's NIC: on a libvirt network, on a host bridge, or none.
struct NetworkNic {
  std::string network;
};
struct BridgeNic {
  std::string bridge;
};
struct NoNic {};
using Nic = std::variant<NetworkNic, BridgeNic, NoNic>;

struct DomainDefinition {
  std::string name;
  std::string vm_id;          // the handle's id, in the metadata
  std::string type = "qemu";  // "kvm", "qemu" (or "test" for libvirt's test driver)
  std::uint32_t vcpus = 1;
  std::uint64_t memory_mb = 1024;
  bool uefi = false;
  std::string disk_path;       // the overlay (qcow2)
  std::string seed_path;       // the cloud-init seed; empty: none
  std::string kernel_path;     // empty: boot from the disk
  std::string initrd_path;
  std::string cmdline;
  Nic nic = NoNic{};
  std::string mac;             // the NIC's MAC; empty: libvirt picks one
  std::string console_log;     // the file the serial console is appended to
};

// Escapes &, <, >, " and ' for XML text and attribute values.
std::string xml_escape(std::string_view text);

// The <domain> XML for `definition`: q35, virtio disk(s), net and rng, a
// pty serial port logged to console_log, a console, VNC on 127.0.0.1, EFI
// firmware when uefi, direct kernel boot when kernel_path is set.
std::string domain_xml(const DomainDefinition& definition);

// The <vmctl:vm> element alone, as virDomainGetMetadata returns it.
std::string metadata_xml(std::string_view name, std::string_view vm_id);

// The VM id in a <vmctl:vm> element (whatever its prefix); nullopt when it has none.
std::optional<std::string> metadata_vm_id(std::string_view metadata);

// The domain types (<domain type='…'>) the capabilities XML offers for
// x86_64 guests, in the order listed; those for any guest when it lists no
// x86_64 one (libvirt's test driver).
std::vector<std::string> domain_types(std::string_view capabilities_xml);

// The pool's folder: <target><path> in its XML; empty when it has none.
std::string pool_path(std::string_view pool_xml);

// The <volume> XML: a raw volume of `capacity` bytes, or (backing_path set)
// a qcow2 overlay on that file of format `backing_format`.
std::string volume_xml(std::string_view name, std::uint64_t capacity, std::string_view format,
                       std::string_view backing_path = {}, std::string_view backing_format = {});

}  // namespace vm_manager::libvirt
