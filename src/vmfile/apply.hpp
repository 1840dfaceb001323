// Bringing a VMFile's VMs to the state the user asks for: up, down, reload
// and provision, one VM at a time here; apply_parallel runs many at once.
// The public face (vm_manager/vmfile.hpp: apply_up…) is vmfile_api.cpp.
#pragma once

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "vm_manager/manager.hpp"
#include "vmfile/vmfile.hpp"

namespace vm_manager::vmfile {

struct ApplyContext {
  VmManager* manager = nullptr;  // and its image cache, into which image-url sources are pulled
  // One line about a VM (no newline); called from worker threads.
  std::function<void(const std::string& vm, const std::string& line)> on_event;
  std::chrono::milliseconds ready_timeout{std::chrono::minutes(5)};
  std::chrono::milliseconds stop_timeout{std::chrono::seconds(30)};
  bool provision = true;  // up and reload: run the provisioners of new VMs
};

using VmOutcome = vm_manager::VmOutcome;

// Differences between a VM and its definition: image, vcpus, memory, disk,
// network…, and where it runs (host, connect, pool, host network).
// `created_from` is the spec the VM has (as created, or resized
// since).
std::vector<std::string> drift_between(const VmSpec& created_from, const VmSpec& wanted);

// The change VmManager::resize applies in place when the drift is only in
// vcpus, memory and a disk that grows to a given size; nullopt when there is
// no drift, or drift a new VM must apply (a disk back to the image's size, a
// smaller disk, any other field).
std::optional<VmResize> in_place_change(const VmSpec& created_from, const VmSpec& wanted);

// New VM: pull, create, start, wait for SSH and cloud-init, provision.
// Stopped: start (and wait); suspended: resume; running: left alone.
// Drift is reported; drift in_place_change takes is applied to a VM that
// is stopped (or prepared) before it starts, and said.
VmOutcome up(const ApplyContext& ctx, const VmDefinition& vm);
// Stops the VM (or destroys it and its disks with `destroy`).
VmOutcome down(const ApplyContext& ctx, const VmDefinition& vm, bool destroy);
// Destroys the VM if it exists, then up(). A VM whose drift is only what
// in_place_change takes is stopped, resized and started instead.
VmOutcome reload(const ApplyContext& ctx, const VmDefinition& vm);
// Runs the provisioners again on a running VM.
VmOutcome provision(const ApplyContext& ctx, const VmDefinition& vm);

// Runs `action` for every VM, at most `jobs` at once (0: all at once). A
// failing VM never stops the others. Outcomes come back in the order of `vms`.
std::vector<VmOutcome> apply_parallel(const std::vector<const VmDefinition*>& vms, unsigned jobs,
                                      const std::function<VmOutcome(const VmDefinition&)>& action);

}  // namespace vm_manager::vmfile
