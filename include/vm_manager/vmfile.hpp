// VMFile.kdl: a project's VMs, declared (docs/vmfile.md), and bringing them
// to the state asked for through a VmManager: up, down, reload, provision.
//
// Loading checks the whole file strictly and reports every problem at once
// (vmfile::invalid, with each problem in Error::details()) before anything
// runs. Applying handles the selected VMs in parallel; one VM's failure
// becomes its outcome and never stops the others. What happens to each VM
// is reported through ApplyOptions::on_event, so the caller prints what it
// likes; the library prints nothing.
#pragma once

#include "vm_manager/export.hpp"

#include <chrono>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "vm_manager/manager.hpp"
#include "vm_manager/provision.hpp"
#include "vm_manager/types.hpp"

namespace vm_manager {

// Where in a file something was written (1-based).
struct SourcePosition {
  int line = 1;
  int column = 1;
  friend bool operator==(const SourcePosition&, const SourcePosition&) = default;
};

// One `vm "<name>" { … }` node.
struct VmDefinition {
  SourcePosition position;  // of the vm node
  // What to create the VM from. For `image "<path>"` spec.image_path is the
  // resolved absolute path; for `image-url` it is empty and image_url says
  // what to pull into the image cache first.
  VmSpec spec;
  std::optional<std::string> image_url;     // http(s)://…, oci://…, a path or an image name, pulled
  std::optional<std::string> image_sha256;  // lower-case hex
  std::vector<ProvisionStep> provisioners;  // paths resolved
};

struct VM_MANAGER_API VmFile {
  std::filesystem::path path;  // absolute
  int kdl_version = 2;
  std::vector<VmDefinition> vms;  // in file order
  // The top-level `connect "URI"`: where the file's libvirt VMs that name no
  // host run.
  std::optional<std::string> connect;
  // The machines the file names, to describe them (VmManager::describe_hosts):
  // each `host` (backend "libvirt", options connect and any pool, network),
  // in file order, then each URI a VM is placed at without a host (the
  // top-level `connect`, a VM's own `connect`) that no host has, named by
  // the URI. A VM's own placement is in its spec.backend_options.
  std::vector<HostSpec> hosts;

  // nullptr when no VM has that name.
  const VmDefinition* find(std::string_view name) const;
};

struct VmFileOptions {
  // Where `~` expands to; unset, a `~/` path is an error.
  std::optional<std::filesystem::path> home;
};

// Reads, parses and validates a VMFile. Relative paths inside resolve
// against the file's folder; the files it names must exist. Raises
// vmfile::not_found, vmfile::syntax, vmfile::invalid.
VM_MANAGER_API VmFile load_vmfile(const std::filesystem::path& path, const VmFileOptions& options = {});
// The same for text in memory; `path` names it in messages and anchors
// relative paths.
VM_MANAGER_API VmFile parse_vmfile(std::string_view text, const std::filesystem::path& path,
                                   const VmFileOptions& options = {});
// "VMFile.kdl" in `folder`: where a project keeps its VMFile.
VM_MANAGER_API std::filesystem::path default_vmfile_path(const std::filesystem::path& folder);

// What happened to one VM.
struct VmOutcome {
  std::string name;
  bool ok = true;
  std::string result;              // "created", "started", "resumed", "running", "stopped", "destroyed", …
  std::vector<std::string> drift;  // "vcpus 1 -> 2", … when the VM differs from its definition
  std::string error;               // one line, when !ok
  std::string error_code;
};

struct ApplyOptions {
  // Only this VM of the file (vm::not_found when it has none); empty: all.
  std::string only;
  unsigned jobs = 0;  // VMs handled at once; 0: all of them
  std::chrono::milliseconds ready_timeout{std::chrono::minutes(5)};  // SSH and cloud-init, per VM
  std::chrono::milliseconds stop_timeout{std::chrono::seconds(30)};  // graceful shutdown, per VM
  bool provision = true;  // up and reload: run the provisioners of new VMs
  // One line (no newline) about a VM as it happens: "created (qemu
  // backend)", "waiting for SSH", "ready", a provisioner's output, "failed:
  // …". Called from worker threads, possibly at once; must not throw.
  std::function<void(const std::string& vm, const std::string& line)> on_event;
};

// A new VM is pulled, created, started, waited for and provisioned; a
// stopped one started (and waited for), a suspended one resumed, a running
// one left alone. Differences from its definition are reported as drift,
// never applied. Outcomes come in file order.
VM_MANAGER_API std::vector<VmOutcome> apply_up(VmManager& manager, const VmFile& file, const ApplyOptions& options);
// Stops the VMs, or destroys them with their disks.
VM_MANAGER_API std::vector<VmOutcome> apply_down(VmManager& manager, const VmFile& file, bool destroy,
                                                 const ApplyOptions& options);
// Destroys the VMs that exist, then up.
VM_MANAGER_API std::vector<VmOutcome> apply_reload(VmManager& manager, const VmFile& file,
                                                   const ApplyOptions& options);
// Runs the provisioners again on running VMs.
VM_MANAGER_API std::vector<VmOutcome> apply_provision(VmManager& manager, const VmFile& file,
                                                      const ApplyOptions& options);

}  // namespace vm_manager
