// The VM store: one vm.json per VM under the data dir, no daemon.
//
// Crash safety: vm.json is replaced atomically (temp file, fsync, rename,
// fsync of the folder), so a crash leaves the old record or the new one.
// What only holds while the host runs (a pid, the port QEMU bound) goes to
// run.json beside it, replaced atomically but not synced: those facts die with
// the host anyway, and an fsync costs milliseconds on every start and stop.
// load() prefers run.json written since the host booted, as libvirt keeps a
// domain's status apart from its definition; one from an earlier boot is
// ignored, so a host crash falls back to the last durable record.
// Concurrency: a command that changes a VM holds that VM's VmLock (flock) for
// its whole run; readers (list, status) need no lock because of the atomic
// replace.
#pragma once

#include "vm_manager/export.hpp"

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "vm_manager/data_dir.hpp"
#include "vm_manager/types.hpp"

namespace vm_manager {

// What vm.json holds: the handle backends work from and the spec it was made
// from (so later tools can tell when a definition drifted).
struct VmRecord {
  VmHandle handle;
  VmSpec spec;
  std::string created_at;  // RFC 3339, UTC
  bool operator==(const VmRecord&) const = default;
};

// How a save must outlive a crash of the host (a crash of vmctl loses
// nothing either way).
enum class Durability {
  durable,    // vm.json, synced: the record survives anything
  this_boot,  // run.json, unsynced: only facts that die with the host changed
};

struct LockOptions {
  // How long lock() waits for another command before raising vm::locked.
  std::chrono::milliseconds timeout = std::chrono::seconds(120);
  // Called once when lock() has to wait, with the holder's pid (0 if unknown).
  std::function<void(std::string_view name, long holder_pid)> on_wait;
};

// Exclusive ownership of one VM's lock; released on destruction. Move-only.
class VM_MANAGER_API VmLock {
 public:
  VmLock(VmLock&& other) noexcept;
  VmLock& operator=(VmLock&& other) noexcept;
  VmLock(const VmLock&) = delete;
  VmLock& operator=(const VmLock&) = delete;
  ~VmLock();

  const std::string& name() const { return name_; }

 private:
  friend class VmStore;
  VmLock(std::string name, int fd);
  std::string name_;
  int fd_ = -1;
};

// One row of list(): a VM with its record, or a VM whose record is missing
// (a create in progress or one that crashed) or unreadable.
struct StoreEntry {
  std::string name;
  std::optional<VmRecord> record;
  // When record is empty: preparing (a create holds the lock) or failed.
  VmState state_without_record = VmState::failed;
  std::string problem;  // why the record is missing or unreadable
};

class VM_MANAGER_API VmStore {
 public:
  explicit VmStore(DataDir data_dir, LockOptions options = {});

  const DataDir& data_dir() const { return data_dir_; }

  // Takes the VM's exclusive lock, waiting at most options.timeout, making
  // the data dir and the lock file when missing: for creating the VM.
  // Raises vm::invalid_name, vm::locked, store::unsafe_lock, store::io and
  // the data dir's errors (data_dir.hpp).
  VmLock lock(std::string_view name) const;

  // The same for a VM that exists (its folder in vms/ is there): raises
  // vm::not_found, without making a lock file, for one that does not, or
  // that was destroyed while this waited.
  VmLock lock_existing(std::string_view name) const;

  // Like every reader below, raises data_dir::not_private for a data dir
  // that is not private (DataDir::check_private).
  bool exists(std::string_view name) const;

  // The record as it stands: run.json when this boot wrote one, else
  // vm.json. Raises vm::not_found, store::corrupt, vm::invalid_name.
  VmRecord load(std::string_view name) const;

  // What can still be read of a VM whose record load() refuses: its name
  // and work dir always, and the handle's id and backend where the file
  // yields them with the right types, and its backend_state object as it is
  // (a backend reads from it only what has the right type). For
  // Hypervisor::destroy_remains.
  VmHandle salvage(std::string_view name) const;

  // Atomically replaces the VM's record. The caller holds `lock` for the VM.
  // Durability::durable writes vm.json and drops run.json; this_boot writes
  // run.json only, for changes that no longer hold once the host restarts.
  void save(const VmLock& lock, const VmRecord& record, Durability durability = Durability::durable) const;

  // Creates the VM under `lock`: refuses an existing name (vm::already_exists),
  // clears the leftovers of a create that crashed, calls `prepare` and saves
  // the record. If prepare fails, nothing of the VM remains.
  VmRecord create(const VmLock& lock, const VmSpec& spec,
                  const std::function<VmHandle(const VmSpec&)>& prepare) const;

  // Forgets a destroyed VM: removes what is left of its work dir (only ever
  // inside the data dir) and its lock file.
  void remove(VmLock&& lock) const;

  // Every VM in the data dir, sorted by name.
  std::vector<StoreEntry> list() const;

 private:
  std::filesystem::path run_file(std::string_view name) const;

  DataDir data_dir_;
  LockOptions options_;
};

}  // namespace vm_manager
