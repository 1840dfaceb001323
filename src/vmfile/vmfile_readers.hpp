// The readers that translate the nodes of a VMFile into VmDefinitions
// (internal to vmfile.cpp; split by block to keep each file small).
#pragma once

#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "provision/provisioner.hpp"
#include "vm_manager/types.hpp"
#include "vmfile/kdl.hpp"
#include "vmfile/vmfile.hpp"
#include "vmfile/vmfile_paths.hpp"
#include "vmfile/vmfile_schema.hpp"

namespace vm_manager::vmfile {

struct ReadContext {
  Problems& problems;
  const PathResolver& paths;
};

// Where a leaf node's value is, for problems about the value (a missing
// file) rather than the node: its first argument, else the node.
kdl::Position value_position(const kdl::Node& node);

// Where a `vm` block asks to run: on a declared host (`host "NAME"`) or at
// a libvirt URI (`connect "URI"`). Joined with the file's hosts once the
// whole file is read, since a host may be declared below the VMs on it.
struct VmPlacement {
  std::optional<std::string> host;
  kdl::Position host_at;
  std::optional<std::string> connect;
  kdl::Position connect_at;
};

// `vm "<name>" { … }`. Problems go to ctx; the definition is only
// meaningful when none were found.
VmDefinition read_vm(const kdl::Node& node, ReadContext& ctx, VmPlacement& placement);

// The file's top-level `host "NAME" connect="URI" pool="…" network="…"`
// nodes and its `connect "URI"` (vmfile_hosts.cpp).
struct FileHosts {
  std::vector<HostSpec> declared;  // file order
  std::map<std::string, kdl::Position> declared_at;
  std::optional<std::string> connect;
};

// A top-level `host`; a name declared before is reported.
void read_host(const kdl::Node& node, ReadContext& ctx, FileHosts& hosts);
// `connect "URI"`, at the top or in a vm: a libvirt URI of the right shape.
std::optional<std::string> read_connect(const kdl::Node& node, ReadContext& ctx);
// Gives each VM its placement as backend_options (connect, and host, pool,
// network for a declared host; the top-level connect for a libvirt VM that
// names none) and fills file.hosts and file.connect. A VM on a host
// without a backend is a libvirt VM.
void place_vms(VmFile& file, const std::vector<VmPlacement>& placements, const FileHosts& hosts,
               Problems& problems);

// `network "user" | "tap" | "vnic" | "none"`, bridge or VNIC name as a
// property or a child.
std::optional<NetworkConfig> read_network(const kdl::Node& node, ReadContext& ctx);

// `forward host=8080 guest=80 protocol="udp" address="…"` (vmfile_forward.cpp).
std::optional<PortForward> read_forward(const kdl::Node& node, ReadContext& ctx);
// The VM's forwards together with its network (validate_port_forwards),
// reported at the forward concerned; `at` holds where each forward was.
void check_forwards(const VmDefinition& def, const std::vector<kdl::Position>& at, Problems& problems);

// What the `cloud-init` and `ssh` blocks say, gathered before being
// combined into spec.ssh: the public key comes from one block and the
// private key from the other.
struct AccessDraft {
  std::optional<CloudInitConfig> cloud_init;
  std::string user = "vm";
  std::string public_key;  // the key line, when cloud-init ssh-key was given
  std::optional<std::filesystem::path> public_key_path;
  std::optional<std::filesystem::path> private_key_path;
  kdl::Position private_key_at;
};

void read_cloud_init(const kdl::Node& node, ReadContext& ctx, AccessDraft& access);
void read_ssh(const kdl::Node& node, ReadContext& ctx, AccessDraft& access);

// spec.ssh: always set, because vmctl always gives a VM SSH access.
SshConfig finish_ssh(const AccessDraft& access, ReadContext& ctx);

// `mount "HOST" ["GUEST"] readonly=#true`: HOST relative to the VMFile,
// GUEST defaulting to HOST's absolute path; checked as the library would.
std::optional<SharedFolder> read_mount(const kdl::Node& node, ReadContext& ctx);

// `data-disk "NAME" size=GB`: an empty disk with serial NAME; checked alone
// as the library would (the names' uniqueness is checked with the VM).
std::optional<DataDisk> read_data_disk(const kdl::Node& node, ReadContext& ctx);

// `provision "shell" { inline | script }` or `provision "file" { source; destination }`.
std::optional<provision::Step> read_provision(const kdl::Node& node, ReadContext& ctx);

}  // namespace vm_manager::vmfile
