// VmManager: what programs do with VMs, in one place. It owns the data dir,
// the store with its per-VM locks, and the backends (through the router), and
// runs every change the same way: lock the VM, load its record, act, save.
//
// Thread safety: a VmManager may be used from several threads, and several
// processes may use the same data dir; operations on one VM are serialised
// by its lock (LockOptions says how long to wait for it). Every failure is a
// vm_manager::Error with a stable code.
#pragma once

#include "vm_manager/export.hpp"

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "vm_manager/backend_registry.hpp"
#include "vm_manager/data_dir.hpp"
#include "vm_manager/environment.hpp"
#include "vm_manager/log.hpp"
#include "vm_manager/progress.hpp"
#include "vm_manager/router.hpp"
#include "vm_manager/store.hpp"
#include "vm_manager/types.hpp"

namespace vm_manager {

struct ManagerConfig {
  DataDir data_dir;
  // Handed to the backends (BackendContext::environment) for their settings.
  Environment environment;
  LockOptions locks;
  std::optional<std::string> bridge;    // default bridge for TAP networking
  std::optional<std::string> zfs_pool;  // pool for Propolis disks
  // Which backends there are; BackendRegistry::noop_only() for tests.
  BackendRegistry backends = BackendRegistry::builtin();
  // Where the library's diagnostics go, from every part the manager drives
  // (log.hpp); the library itself never writes to stdout or stderr. Empty:
  // they are dropped.
  LogSink log = {};
};

// What a command run in the guest did.
struct ExecResult {
  int exit_status = -1;  // the command's status; 128+N when killed by signal N
  std::string out;
  std::string err;
};

struct ReadyOptions {
  std::chrono::milliseconds timeout{std::chrono::minutes(5)};
  bool wait_for_cloud_init = true;  // when the VM has a cloud-init seed
  // Hears each step as it begins (what: "ssh", then "cloud-init"), and
  // again with finished as it ends, also when it fails; nothing is counted.
  ProgressCallback progress;
};

// What bring_up() did.
enum class BringUp { already_running, started, resumed };

// What destroy() removed.
enum class Destroyed {
  vm,                 // a VM with its resources
  unreadable_record,  // a VM whose vm.json could not be read: what could be proven its
  remains,            // the folder a create that crashed left behind
};

class VM_MANAGER_API VmManager {
 public:
  explicit VmManager(ManagerConfig config);
  VmManager(const VmManager&) = delete;
  VmManager& operator=(const VmManager&) = delete;

  const DataDir& data_dir() const { return store_.data_dir(); }
  VmStore& store() { return store_; }
  RouterHypervisor& hypervisor() { return hypervisor_; }

  // Creates the VM (prepared, not started) from `spec`, whose image_path is
  // a file. With `start`, starts it too, under the same lock; `on_created`
  // hears of the VM in between. Raises vm::already_exists; when creating
  // fails nothing of the VM remains (when only starting fails, the VM stays,
  // prepared).
  VmRecord create(const VmSpec& spec, bool start = false,
                  const std::function<void(const VmRecord&)>& on_created = {});

  // Boots a prepared or stopped VM; a running one is left as it is.
  VmRecord start(std::string_view name, bool* was_running = nullptr);
  // Gracefully, then forcefully once `timeout` has passed (0: at once).
  VmRecord stop(std::string_view name, std::chrono::milliseconds timeout);
  VmRecord suspend(std::string_view name);
  VmRecord resume(std::string_view name);
  // Makes the VM run: starts a prepared or stopped one, resumes a suspended
  // one. Raises vm::invalid_state for a failed or destroyed VM.
  BringUp bring_up(std::string_view name, VmRecord* record = nullptr);
  // Stops the VM if needed and removes it with its work dir. Also removes a
  // VM whose record is unreadable (each backend clears what it can prove is
  // that VM's) and the remains of a create that crashed.
  Destroyed destroy(std::string_view name);

  // Waits until the VM's guest answers SSH with the host key generated for
  // it and accepts the VM's login key, then (with a seed) until cloud-init
  // has finished. Raises ssh::timeout at options.timeout, vm::start_failed
  // when cloud-init failed, vm::invalid_state when the VM does not run.
  void wait_ready(std::string_view name, const ReadyOptions& options = {});
  // Runs `command` through the login user's shell in the guest, over SSH
  // pinned to the VM's host key. `timeout` 0: no limit. Raises ssh::*.
  ExecResult exec(std::string_view name, const std::string& command,
                  std::chrono::milliseconds timeout = std::chrono::milliseconds(0));

  // The VM's record. Raises vm::not_found, store::corrupt.
  VmRecord get(std::string_view name) const;
  // The live state, asked of the VM's backend.
  VmState state(const VmHandle& handle);

 private:
  // The one place a VM changes: lock, load, `act`, save.
  template <typename Act>
  VmRecord change(std::string_view name, Act act);

  VmStore store_;
  RouterHypervisor hypervisor_;
};

}  // namespace vm_manager
