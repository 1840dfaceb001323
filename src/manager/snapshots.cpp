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
  return change_snapshots(name, [&](const VmHandle& h) { return hypervisor_.restore_snapshot(h, snapshot); });
}

VmRecord VmManager::delete_snapshot(std::string_view name, const std::string& snapshot) {
  validate_snapshot_name(snapshot);
  return change_snapshots(name, [&](const VmHandle& h) { return hypervisor_.delete_snapshot(h, snapshot); });
}

}  // namespace vm_manager
