// A Propolis VM's host objects on illumos — its ZFS volume (a clone of an
// image snapshot), its VNICs and its nebula-vm zone — made, booted, halted
// and removed with zfs, dladm, zonecfg and zoneadm through a CommandRunner.
//
// Every name is derived and checked up front (make_zone_layout,
// validate_zone_layout) so that a bad name fails before any command runs,
// and a create that fails part-way removes what it made.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "backends/propolis/command_runner.hpp"
#include "core/logger.hpp"
#include "vm_manager/types.hpp"

namespace vm_manager::propolis {

// One of the VM's data disks: a sparse volume of its own, under a folder
// that is the VM's alone (data_disk_parent), so no name another VM can take
// reaches it.
struct ZoneDataDisk {
  std::string name;      // the guest sees it as the serial number of its disk
  std::string dataset;   // "<pool>/vm-disks/<vm name>/<name>"
  std::uint64_t size_gb = 0;
  bool operator==(const ZoneDataDisk&) const = default;
};

// The most data disks a propolis VM has: the PCI slots instance_spec.cpp
// keeps for them.
inline constexpr std::size_t kMaxDataDisks = 8;

// Everything the tools are told about one VM. Usually made by
// make_zone_layout; create/destroy check it again, since it is a plain struct.
struct ZoneLayout {
  std::string vm_name;
  std::string zone_name;                 // "vmctl-<vm name>"
  std::string zonepath;                  // "<zones root>/<zone name>"
  std::string pool;
  std::string image;                     // dataset name under <pool>/images
  std::string snapshot;                  // of <pool>/images/<image>
  std::string dataset;                   // "<pool>/vms/<vm name>", the VM's disk
  std::optional<std::uint64_t> disk_gb;  // grow the clone to this; unset: the image's size
  std::string physical_link;             // the VNICs are created over it
  std::vector<std::string> guest_vnics;  // the guest's NICs, in order
  // Each guest VNIC's MAC ("02:xx:xx:xx:xx:xx"), given to dladm so that the
  // guest's network-config can name its NIC; empty for zones made before
  // vmctl chose them (dladm chose).
  std::vector<std::string> guest_macs;
  std::string api_vnic;                  // carries propolis-server's API address
  std::string api_address;               // "<ip>/<prefix>": the API VNIC's allowed-address
  std::uint16_t api_port = 0;            // propolis-server listens on <ip>:<port>
  std::string bootrom;                   // firmware, path as seen inside the zone
  std::string propolis_dir;              // host folder lofs-mounted read-only at kPropolisZoneDir; empty: none
  std::vector<ZoneDataDisk> data_disks;  // in the order the VM was given them
};

// "<pool>/vm-disks/<vm name>": the filesystem holding the VM's data disks.
std::string data_disk_parent(const ZoneLayout& layout);

// The VM's volumes: its root disk first, then its data disks in order.
std::vector<std::string> disk_datasets(const ZoneLayout& layout);

// Where the brand expects propolis-server and its firmware inside the zone.
inline constexpr std::string_view kPropolisZoneDir = "/opt/oxide/propolis-server";
// The brand's default: propolis-server's own build of OVMF, beside it.
inline constexpr std::string_view kDefaultBootrom = "/opt/oxide/propolis-server/firmware/OVMF_CODE.fd";

// The choices make_zone_layout does not derive from the VM's name.
struct ZoneOptions {
  std::string snapshot;
  std::optional<std::uint64_t> disk_gb;
  std::string physical_link;
  std::size_t guest_nics = 1;  // 1..kMaxGuestNics
  std::string api_address;     // "<ip>/<prefix>", IPv4 or IPv6
  std::uint16_t api_port = 12400;
  std::string bootrom{kDefaultBootrom};
  std::string propolis_dir = "/opt/oxide/propolis-server";
  std::string zones_root = "/zones";
  std::vector<DataDisk> data_disks;  // 0..kMaxDataDisks
};

inline constexpr std::size_t kMaxGuestNics = 8;

// Derives and validates a VM's layout. Raises Error(spec_invalid) naming the
// bad value; runs nothing.
ZoneLayout make_zone_layout(std::string_view vm_name, std::string_view pool, std::string_view image,
                            const ZoneOptions& options);

// Raises Error(spec_invalid) unless every name and value in the layout is one
// the illumos tools accept: zonecfg takes it in double quotes (no '"' and no
// newline), and paths hold no whitespace or shell metacharacters.
void validate_zone_layout(const ZoneLayout& layout);

// Where a path inside the zone lies on the host: <propolis_dir>/<rest> for a
// path under kPropolisZoneDir when propolis_dir is set (the zone's lofs
// mount); nullopt otherwise (it is in the zone root, made at install).
std::optional<std::filesystem::path> host_path_in_zone(const ZoneLayout& layout, std::string_view zone_path);

// Raises Error(spec_invalid), naming the path in the zone and on the host,
// when kPropolisZoneDir/bin/propolis-server (executable) or the bootrom
// would be missing in the zone, as far as host_path_in_zone can tell from
// the host. The brand's boot hook checks both again inside the zone.
void check_propolis_files(const ZoneLayout& layout);

// The name checks, for callers that take names from users.
bool is_valid_zfs_component(std::string_view component);
bool is_valid_dataset_name(std::string_view dataset);  // pool/component/…
bool is_valid_zone_name(std::string_view zone);
bool is_valid_link_name(std::string_view link);

// The VM's VNIC names: "vmctl_<vm name>_<i>" and "vmctl_<vm name>_api0" when
// that is a valid link name, else the same with "vmctl<8 hex digits of a
// hash of the name>" as the stem, so any VM name gets valid, stable names.
std::string guest_vnic_name(std::string_view vm_name, std::size_t index);
std::string api_vnic_name(std::string_view vm_name);

// The MAC of a VM's guest NIC `index`: locally administered and unicast,
// derived from the VM's id (a random UUID), so it is the same every time and
// differs between VMs. viona shows the guest its VNIC's MAC.
std::string guest_mac(std::string_view vm_id, std::size_t index);

// The command file `zonecfg -z <zone> -f FILE` is given (brand/nebula-vm/README.md).
std::string zonecfg_command_file(const ZoneLayout& layout);

class ZoneTools {
 public:
  // Every command gets `timeout`; the runner must outlive this object.
  // `log` hears each command run and what an undo could not undo.
  ZoneTools(CommandRunner& runner, std::chrono::milliseconds timeout, Logger log = {});

  // Clones the image into the VM's volume (and grows it), creates the VNICs,
  // configures and installs the zone. On failure undoes what it did, in
  // reverse order, and raises the failure (propolis::tool_failed).
  void create(const ZoneLayout& layout);
  // zoneadm -z <zone> boot / halt.
  void boot(const ZoneLayout& layout);
  void halt(const ZoneLayout& layout);
  // Halts, uninstalls and deletes the zone, deletes the VNICs and destroys
  // the volume; parts already gone are skipped, so it may be repeated. Tries
  // every part and raises the first failure.
  void destroy(const ZoneLayout& layout);
  // The zone's state from `zoneadm -z <zone> list -p` ("configured",
  // "installed", "running", …), or "" when there is no such zone.
  std::string zone_state(const std::string& zone);

  // Snapshots of the VM's volumes (disk_datasets). Each raises
  // snapshot::failed naming the command and what zfs said, unless said
  // otherwise.
  //
  // One `zfs snapshot` of every volume, which ZFS takes atomically: all or
  // none. snapshot::already_exists when one of them has it.
  void snapshot(const ZoneLayout& layout, const std::string& name);
  struct VolumeSnapshot {
    std::string name;             // after the '@'
    std::uint64_t createtxg = 0;  // orders them as they were taken
    std::int64_t creation = 0;    // seconds since the epoch
    std::uint64_t volsize = 0;    // the volume's size when it was taken
  };
  // The snapshots of one volume, oldest first.
  std::vector<VolumeSnapshot> snapshots(const std::string& dataset);
  // `zfs rollback -r` of every volume: later snapshots are destroyed.
  void rollback(const ZoneLayout& layout, const std::string& name);
  // `zfs destroy` of the snapshot of every volume that has it.
  void destroy_snapshot(const ZoneLayout& layout, const std::string& name);

  // A volume's size in bytes (`zfs get -Hp volsize`); propolis::tool_failed.
  std::uint64_t volsize(const std::string& dataset);
  // `zfs set volsize=<gb>G`; propolis::tool_failed.
  void set_volsize(const std::string& dataset, std::uint64_t gb);

 private:
  os::ProcessOutput run(const std::vector<std::string>& argv);
  void run_checked(const std::vector<std::string>& argv);
  void configure_zone(const ZoneLayout& layout);
  void remove_zone(const std::string& zone);
  void delete_vnic(const std::string& vnic);
  void destroy_dataset(const std::string& dataset);

  CommandRunner& runner_;
  std::chrono::milliseconds timeout_;
  Logger log_;
};

// One line for a command that failed: the command and its stderr, quoted.
std::string describe_failure(const std::vector<std::string>& argv, const os::ProcessOutput& out);

}  // namespace vm_manager::propolis
