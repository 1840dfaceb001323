#include "vm_manager/manager.hpp"

#include <filesystem>
#include <future>

#include <fmt/format.h>

#include "vm_manager/error.hpp"
#include "vm_manager/names.hpp"

namespace vm_manager {
namespace {

bool is_remote(std::string_view source) {
  return source.starts_with("http://") || source.starts_with("https://") || source.starts_with("oci://");
}

}  // namespace

VmManager::VmManager(ManagerConfig config)
    : store_(config.data_dir, std::move(config.locks)),
      hypervisor_(BackendContext{config.data_dir, std::move(config.bridge), std::move(config.zfs_pool),
                                 config.environment, config.log},
                  std::move(config.backends)),
      images_(ImageCacheConfig{std::move(config.image_cache), std::move(config.environment),
                               config.image_log ? std::move(config.image_log) : std::move(config.log)},
              store_) {}

template <typename Act>
VmRecord VmManager::change(std::string_view name, Act act) {
  VmLock lock = store_.lock_existing(name);  // makes no lock file for a VM that does not exist
  VmRecord record = load(name);
  VmHandle changed = act(record);
  // An unchanged handle (suspend, resume, starting a running VM) needs no
  // save.
  if (changed == record.handle) return record;
  record.handle = std::move(changed);
  // Every act is a start, stop, suspend or resume, whose changes hold only
  // until the host restarts (Hypervisor::start).
  store_.save(lock, record, Durability::this_boot);
  return record;
}

std::string VmManager::resolve_image(const VmSpec& spec, const CreateOptions& options) {
  if (spec.image_path.empty()) return "";
  if (options.through_cache || is_remote(spec.image_path) || options.image_sha256) {
    return images_.pull(spec.image_path, options.image_sha256, options.progress).string();
  }
  return hypervisor_.image_reference(spec);
}

VmRecord VmManager::create(const VmSpec& spec, bool start, const std::function<void(const VmRecord&)>& on_created) {
  CreateOptions options;
  options.start = start;
  options.on_created = on_created;
  return create(spec, options);
}

VmRecord VmManager::create(const VmSpec& wanted, const CreateOptions& options) {
  validate_vm_name(wanted.name);  // before anything touches the disk
  if (store_.exists(wanted.name)) {  // before a possibly long download
    throw Error(errc::vm_already_exists, fmt::format("a VM named '{}' already exists", wanted.name),
                "choose another name, or destroy the existing VM first");
  }
  VmSpec spec = wanted;
  spec.image_path = resolve_image(wanted, options);
  VmLock lock = store_.lock(spec.name);
  VmRecord record;
  try {
    record = store_.create(lock, spec, [&](const VmSpec& s) { return hypervisor_.prepare(s); });
  } catch (...) {
    if (!store_.exists(spec.name)) store_.remove(std::move(lock));  // leave no lock file behind
    throw;
  }
  if (options.on_created) options.on_created(record);
  if (options.start) {
    VmHandle started = hypervisor_.start(record.handle);
    if (started != record.handle) {
      record.handle = std::move(started);
      store_.save(lock, record, Durability::this_boot);
    }
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

VmRecord VmManager::start(std::string_view name, const ReadyOptions& ready, bool* was_running) {
  VmRecord record = start(name, was_running);
  wait_ready(name, ready);
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

VmRecord VmManager::restart(std::string_view name, std::chrono::milliseconds timeout) {
  return change(name, [&](const VmRecord& current) {
    VmState state = hypervisor_.state(current.handle);
    bool runs = state == VmState::running || state == VmState::suspended;
    return hypervisor_.start(runs ? hypervisor_.stop(current.handle, timeout) : current.handle);
  });
}

VmRecord VmManager::hard_reset(std::string_view name) {
  return change(name, [&](const VmRecord& current) { return hypervisor_.hard_reset(current.handle); });
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
  VmLock lock = store_.lock_existing(name);  // raises vm::not_found for no folder in vms/
  if (!store_.exists(name)) {
    // A create that crashed leaves a folder without vm.json.
    store_.remove(std::move(lock));
    return Destroyed::remains;
  }
  std::optional<VmRecord> record;
  try {
    record = load(name);
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

template <typename Act>
VmRecord VmManager::change_forwards(std::string_view name, Act act) {
  VmLock lock = store_.lock_existing(name);
  VmRecord record = load(name);
  record.handle = act(record.handle);
  record.spec.port_forwards = record.handle.port_forwards;
  // Durable: the forwards are what the VM is, not a fact of this boot.
  store_.save(lock, record, Durability::durable);
  return record;
}

VmRecord VmManager::add_port_forward(std::string_view name, const PortForward& forward) {
  return change_forwards(name, [&](const VmHandle& h) { return hypervisor_.add_port_forward(h, forward); });
}

VmRecord VmManager::remove_port_forward(std::string_view name, std::uint16_t host_port, PortProtocol protocol) {
  return change_forwards(name,
                         [&](const VmHandle& h) { return hypervisor_.remove_port_forward(h, host_port, protocol); });
}

VmRecord VmManager::load(std::string_view name) const {
  VmRecord record = store_.load(name);
  hypervisor_.check_stored_paths(record.handle);
  return record;
}

VmRecord VmManager::get(std::string_view name) const { return load(name); }

bool VmManager::exists(std::string_view name) const { return store_.exists(name); }

namespace {

VmStatus status_of(StoreEntry entry, Hypervisor& hypervisor) {
  VmStatus status{std::move(entry.name), std::move(entry.record), entry.state_without_record,
                  std::move(entry.problem)};
  if (!status.record) return status;
  try {
    hypervisor.check_stored_paths(status.record->handle);
    status.state = hypervisor.state(status.record->handle);
    const bool live = status.state == VmState::running || status.state == VmState::suspended;
    if (live) status.details = hypervisor.describe(status.record->handle);
  } catch (const Error& e) {
    status.state = VmState::failed;
    status.problem = e.message();
  }
  return status;
}

}  // namespace

std::vector<VmStatus> VmManager::list() {
  // A running QEMU's state is a QMP round trip; asking every VM at once
  // makes the listing as slow as the slowest VM rather than the sum of all.
  // Backends may be called concurrently for different VMs.
  std::vector<StoreEntry> entries = store_.list();
  std::vector<std::future<VmStatus>> pending;
  pending.reserve(entries.size());
  for (auto& entry : entries) {
    pending.push_back(std::async(std::launch::async, [this, &entry] { return status_of(std::move(entry), hypervisor_); }));
  }
  std::vector<VmStatus> all;
  all.reserve(entries.size());
  for (auto& status : pending) all.push_back(status.get());
  return all;
}

std::vector<HostInfo> VmManager::describe_hosts(const std::vector<HostSpec>& hosts) {
  std::vector<std::future<HostInfo>> pending;
  pending.reserve(hosts.size());
  for (const HostSpec& host : hosts) {
    pending.push_back(std::async(std::launch::async, [this, &host] { return hypervisor_.describe_host(host); }));
  }
  std::vector<HostInfo> all;
  all.reserve(hosts.size());
  for (auto& info : pending) all.push_back(info.get());
  return all;
}

VmStatus VmManager::status(std::string_view name) {
  StoreEntry entry;
  entry.name = std::string(name);
  entry.record = load(name);
  return status_of(std::move(entry), hypervisor_);
}

VmState VmManager::state(const VmHandle& handle) { return hypervisor_.state(handle); }

}  // namespace vm_manager
