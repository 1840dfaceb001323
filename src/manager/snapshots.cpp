// VmManager's snapshots: the lock → load → act → save sequence around the
// backend's snapshot calls.
#include "vm_manager/manager.hpp"
#include "vm_manager/names.hpp"

namespace vm_manager {

VmRecord VmManager::change_snapshots(std::string_view name, const std::function<VmHandle(const VmHandle&)>& act) {
  VmLock lock = store_.lock_existing(name);
  VmRecord record = load(name);
  VmHandle changed = act(record.handle);
  if (changed == record.handle) return record;
  record.handle = std::move(changed);
  // What a snapshot call changes in the handle is a start's (a pid, a
  // socket): facts of this boot, like those of start itself.
  store_.save(lock, record, Durability::this_boot);
  return record;
}

VmRecord VmManager::create_snapshot(std::string_view name, const std::string& snapshot, SnapshotMemory memory) {
  validate_snapshot_name(snapshot);
  return change_snapshots(name, [&](const VmHandle& h) { return hypervisor_.create_snapshot(h, snapshot, memory); });
}

std::vector<SnapshotInfo> VmManager::list_snapshots(std::string_view name) {
  VmLock lock = store_.lock_existing(name);
  return hypervisor_.list_snapshots(load(name).handle);
}

VmRecord VmManager::restore_snapshot(std::string_view name, const std::string& snapshot) {
  validate_snapshot_name(snapshot);
  VmLock lock = store_.lock_existing(name);
  VmRecord record = load(name);
  VmHandle restored = hypervisor_.restore_snapshot(record.handle, snapshot);
  if (restored == record.handle) return record;
  // A snapshot taken before the disk grew brings the smaller disk back: the
  // spec follows, as after a resize, so that status and a VMFile's drift see
  // the disk as it now is. That outlives a reboot, so it is saved durably.
  const bool disk_changed = restored.disk_gb != record.handle.disk_gb;
  record.handle = std::move(restored);
  if (disk_changed) record.spec.disk_gb = record.handle.disk_gb;
  store_.save(lock, record, disk_changed ? Durability::durable : Durability::this_boot);
  return record;
}

VmRecord VmManager::delete_snapshot(std::string_view name, const std::string& snapshot) {
  validate_snapshot_name(snapshot);
  return change_snapshots(name, [&](const VmHandle& h) { return hypervisor_.delete_snapshot(h, snapshot); });
}

}  // namespace vm_manager
