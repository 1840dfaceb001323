#include "vm_manager/manager.hpp"

#include <filesystem>

#include <fmt/format.h>

#include "ssh/session.hpp"
#include "ssh/vm_access.hpp"
#include "vm_manager/error.hpp"

namespace vm_manager {

VmManager::VmManager(ManagerConfig config)
    : store_(config.data_dir, std::move(config.locks)),
      hypervisor_(BackendContext{config.data_dir, std::move(config.bridge), std::move(config.zfs_pool),
                                 std::move(config.environment), std::move(config.log)},
                  std::move(config.backends)) {}

template <typename Act>
VmRecord VmManager::change(std::string_view name, Act act) {
  VmLock lock = store_.lock(name);
  VmRecord record = store_.load(name);
  VmHandle changed = act(record);
  // An unchanged handle (suspend, resume, starting a running VM) needs no
  // save: rewriting the same record would cost two fsyncs for nothing.
  if (changed == record.handle) return record;
  record.handle = std::move(changed);
  store_.save(lock, record);
  return record;
}

VmRecord VmManager::create(const VmSpec& spec, bool start, const std::function<void(const VmRecord&)>& on_created) {
  VmLock lock = store_.lock(spec.name);
  VmRecord record;
  try {
    record = store_.create(lock, spec, [&](const VmSpec& s) { return hypervisor_.prepare(s); });
  } catch (...) {
    if (!store_.exists(spec.name)) store_.remove(std::move(lock));  // leave no lock file behind
    throw;
  }
  if (on_created) on_created(record);
  if (start) {
    record.handle = hypervisor_.start(record.handle);
    store_.save(lock, record);
  }
  return record;
}

VmRecord VmManager::start(std::string_view name, bool* was_running) {
  bool running = false;
  VmRecord record = change(name, [&](const VmRecord& current) {
    // Starting a running VM is what the caller wanted already.
    running = hypervisor_.state(current.handle) == VmState::running;
    return running ? current.handle : hypervisor_.start(current.handle);
  });
  if (was_running != nullptr) *was_running = running;
  return record;
}

VmRecord VmManager::stop(std::string_view name, std::chrono::milliseconds timeout) {
  return change(name, [&](const VmRecord& current) { return hypervisor_.stop(current.handle, timeout); });
}

VmRecord VmManager::suspend(std::string_view name) {
  return change(name, [&](const VmRecord& current) { return hypervisor_.suspend(current.handle); });
}

VmRecord VmManager::resume(std::string_view name) {
  return change(name, [&](const VmRecord& current) { return hypervisor_.resume(current.handle); });
}

BringUp VmManager::bring_up(std::string_view name, VmRecord* record) {
  BringUp done = BringUp::already_running;
  VmRecord changed = change(name, [&](const VmRecord& current) {
    VmState state = hypervisor_.state(current.handle);
    switch (state) {
      case VmState::running:
        return current.handle;
      case VmState::suspended:
        done = BringUp::resumed;
        return hypervisor_.resume(current.handle);
      case VmState::prepared:
      case VmState::stopped:
        done = BringUp::started;
        return hypervisor_.start(current.handle);
      default:
        throw Error(errc::vm_invalid_state, fmt::format("VM '{}' is {}", name, to_string(state)),
                    "destroy it and create it again");
    }
  });
  if (record != nullptr) *record = std::move(changed);
  return done;
}

Destroyed VmManager::destroy(std::string_view name) {
  VmLock lock = store_.lock(name);
  if (!store_.exists(name)) {
    // A create that crashed leaves a folder without vm.json.
    if (std::filesystem::exists(store_.data_dir().vm_dir(name))) {
      store_.remove(std::move(lock));
      return Destroyed::remains;
    }
    store_.load(name);  // raises vm::not_found
  }
  std::optional<VmRecord> record;
  try {
    record = store_.load(name);
  } catch (const Error& e) {
    if (e.code() != errc::store_corrupt) throw;
    // The record that names the backend is unreadable: each backend clears
    // what it can prove is this VM's, then the folder goes.
    hypervisor_.destroy_remains(store_.salvage(name));
    store_.remove(std::move(lock));
    return Destroyed::unreadable_record;
  }
  hypervisor_.destroy(record->handle);
  store_.remove(std::move(lock));
  return Destroyed::vm;
}

void VmManager::wait_ready(std::string_view name, const ReadyOptions& options) {
  ssh::WaitOptions wait;
  wait.timeout = options.timeout;
  wait.wait_for_cloud_init = options.wait_for_cloud_init;
  wait.progress = options.progress;
  // No lock: others may use the VM while it boots.
  ssh::wait_until_ready(hypervisor_, get(name).handle, wait);
}

ExecResult VmManager::exec(std::string_view name, const std::string& command, std::chrono::milliseconds timeout) {
  ssh::Session session = ssh::Session::connect(ssh::target_for(hypervisor_, get(name).handle));
  ssh::ExecResult result = session.exec_capture(command, timeout);
  return ExecResult{result.exit_status, std::move(result.out), std::move(result.err)};
}

VmRecord VmManager::get(std::string_view name) const { return store_.load(name); }

VmState VmManager::state(const VmHandle& handle) { return hypervisor_.state(handle); }

}  // namespace vm_manager
