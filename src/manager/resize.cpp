// VmManager::resize: a stopped VM's size, changed in place.
#include "vm_manager/manager.hpp"

namespace vm_manager {

VmRecord VmManager::resize(std::string_view name, const VmResize& change) {
  VmLock lock = store_.lock_existing(name);
  VmRecord record = load(name);
  if (change == VmResize{}) return record;
  record.handle = hypervisor_.resize(record.handle, change);
  // The spec follows, so that status and a VMFile's drift see the VM as it
  // now is.
  if (change.vcpus) record.spec.vcpus = *change.vcpus;
  if (change.memory_mb) record.spec.memory_mb = *change.memory_mb;
  if (change.disk_gb) record.spec.disk_gb = *change.disk_gb;
  // Durable: the size is what the VM is, not a fact of this boot.
  store_.save(lock, record, Durability::durable);
  return record;
}

}  // namespace vm_manager
