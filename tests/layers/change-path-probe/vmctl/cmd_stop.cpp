// Not compiled: the tree check-one-change-path.sh must refuse (a command
// that changes a VM without VmManager).
void stop(Store& store, Hypervisor& hypervisor, const std::string& name) {
  VmLock lock = store.lock(name);
  VmRecord record = store.load(name);
  record.handle = hypervisor.stop(record.handle, std::chrono::seconds(30));
  store.save(lock, record);
}
