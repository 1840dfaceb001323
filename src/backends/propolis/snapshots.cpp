// A propolis VM's snapshots: ZFS snapshots of its volumes, taken together.
// propolis-server has no way to save a guest's RAM and devices outside a
// live migration, so they hold the disks alone, and are taken and restored
// only while the VM is stopped, when no one writes to its volumes.
#include <algorithm>

#include <fmt/format.h>

#include "backends/propolis/propolis_backend.hpp"
#include "vm_manager/error.hpp"
#include "vm_manager/names.hpp"

namespace vm_manager::propolis {
namespace {

bool has_snapshot(const std::vector<ZoneTools::VolumeSnapshot>& list, const std::string& name) {
  return std::any_of(list.begin(), list.end(), [&](const auto& s) { return s.name == name; });
}

[[noreturn]] void not_found(const VmHandle& handle, const std::string& snapshot) {
  throw Error(errc::snapshot_not_found, fmt::format("VM '{}' has no snapshot '{}'", handle.name, snapshot),
              "list the VM's snapshots to see their names");
}

}  // namespace

void PropolisBackend::require_stopped(const VmHandle& handle, std::string_view code, std::string_view what) {
  VmState current = state(handle);
  if (current == VmState::stopped || current == VmState::prepared) return;
  throw Error(code, fmt::format("cannot {} of VM '{}': it is {}", what, handle.name, to_string(current)),
              "stop the VM first: the propolis backend works on its disks only while it is stopped");
}

VmHandle PropolisBackend::create_snapshot(const VmHandle& handle, const std::string& snapshot, SnapshotMemory memory) {
  validate_snapshot_name(snapshot);
  VmState current = state(handle);
  if (memory == SnapshotMemory::include && (current == VmState::running || current == VmState::suspended)) {
    throw Error(errc::snapshot_unsupported,
                fmt::format("cannot take a snapshot with RAM of VM '{}': propolis-server cannot save a guest's "
                            "memory and devices",
                            handle.name),
                "stop the VM and take a snapshot of its disks");
  }
  require_stopped(handle, errc::snapshot_needs_stopped, "take a snapshot");
  tools_.snapshot(layout_of(handle), snapshot);
  return handle;
}

std::vector<SnapshotInfo> PropolisBackend::list_snapshots(const VmHandle& handle) {
  std::vector<SnapshotInfo> result;
  for (const auto& s : tools_.snapshots(layout_of(handle).dataset)) {
    SnapshotInfo info;
    info.name = s.name;
    info.created_unix = s.creation;
    info.disk_bytes = s.volsize;
    result.push_back(std::move(info));
  }
  return result;
}

VmHandle PropolisBackend::restore_snapshot(const VmHandle& handle, const std::string& snapshot) {
  validate_snapshot_name(snapshot);
  require_stopped(handle, errc::snapshot_needs_stopped, "restore a snapshot");
  ZoneLayout layout = layout_of(handle);
  // Every volume must have it, or the disks would come back from different times.
  for (const auto& dataset : disk_datasets(layout)) {
    if (has_snapshot(tools_.snapshots(dataset), snapshot)) continue;
    if (dataset == layout.dataset) not_found(handle, snapshot);
    throw Error(errc::snapshot_failed,
                fmt::format("cannot restore snapshot '{}' of VM '{}': its volume {} has no such snapshot", snapshot,
                            handle.name, dataset),
                "a snapshot made by hand of one volume cannot be restored; snapshot the whole VM, which takes "
                "all its volumes together");
  }
  std::uint64_t size_before = tools_.volsize(layout.dataset);
  // A stopped instance in a zone that still runs keeps the volumes open.
  if (tools_.zone_state(layout.zone_name) == "running") tools_.halt(layout);
  tools_.rollback(layout, snapshot);
  // A snapshot from before a resize brings the old size back with it.
  VmHandle h = handle;
  std::uint64_t size = tools_.volsize(layout.dataset);
  if (size != size_before && size % (std::uint64_t{1} << 30) == 0) h.disk_gb = size >> 30;
  return h;
}

VmHandle PropolisBackend::delete_snapshot(const VmHandle& handle, const std::string& snapshot) {
  validate_snapshot_name(snapshot);
  ZoneLayout layout = layout_of(handle);
  if (!has_snapshot(tools_.snapshots(layout.dataset), snapshot)) not_found(handle, snapshot);
  tools_.destroy_snapshot(layout, snapshot);
  return handle;
}

}  // namespace vm_manager::propolis
