// The noop backend's snapshots: records in noop-snapshots beside its state,
// so that flows above the backend (the manager, the CLI) can be tested with
// the same refusals the qemu backend makes.
#include <algorithm>
#include <chrono>

#include <fmt/format.h>

#include "backends/noop/state_file.hpp"
#include "vm_manager/error.hpp"
#include "vm_manager/names.hpp"
#include "vm_manager/noop_backend.hpp"
#include "vm_manager/spec_check.hpp"

namespace vm_manager {
namespace {

constexpr std::uint64_t kMiB = 1024ull * 1024;
constexpr std::uint64_t kGiB = 1024 * kMiB;

std::vector<SnapshotInfo>::iterator find_snapshot(std::vector<SnapshotInfo>& all, const std::string& name) {
  return std::find_if(all.begin(), all.end(), [&](const SnapshotInfo& s) { return s.name == name; });
}

[[noreturn]] void not_found(const VmHandle& handle, const std::string& snapshot) {
  throw Error(errc::snapshot_not_found, fmt::format("VM '{}' has no snapshot '{}'", handle.name, snapshot),
              "list the VM's snapshots to see their names");
}

bool runs(VmState state) { return state == VmState::running || state == VmState::suspended; }

// The disk_gb a snapshot's disk_bytes stands for (0: the image's size), from
// the noop-snapshots file, which is checked like any file read back.
std::optional<std::uint64_t> restored_disk_gb(const VmHandle& handle, const SnapshotInfo& snapshot) {
  if (snapshot.disk_bytes == 0) return std::nullopt;
  const std::uint64_t gb = snapshot.disk_bytes / kGiB;
  if (snapshot.disk_bytes % kGiB != 0 || gb > kMaxDiskGb) {
    throw Error(errc::store_corrupt,
                fmt::format("the noop snapshots of VM '{}' are unreadable: snapshot '{}' has a disk of {} bytes",
                            handle.name, snapshot.name, snapshot.disk_bytes),
                "remove the file noop-snapshots in the VM's folder, or destroy the VM");
  }
  return gb;
}

}  // namespace

VmState NoopBackend::existing_state(const VmHandle& handle, std::string_view verb) {
  VmState current = state(handle);
  if (current == VmState::destroyed) {
    throw Error(errc::vm_invalid_state, fmt::format("cannot {} VM '{}': it no longer exists", verb, handle.name),
                "create it again");
  }
  return current;
}

VmHandle NoopBackend::create_snapshot(const VmHandle& handle, const std::string& snapshot, SnapshotMemory memory) {
  validate_snapshot_name(snapshot);
  VmState current = existing_state(handle, "snapshot");
  std::vector<SnapshotInfo> all = noop::read_snapshots(data_dir_, handle.name);
  if (find_snapshot(all, snapshot) != all.end()) {
    throw Error(errc::snapshot_already_exists,
                fmt::format("VM '{}' has a snapshot '{}' already", handle.name, snapshot),
                "choose another name, or delete that snapshot first");
  }
  SnapshotInfo info;
  info.name = snapshot;
  info.created_unix =
      std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
  info.disk_bytes = handle.disk_gb.value_or(0) * kGiB;
  info.has_ram = runs(current) && memory == SnapshotMemory::include;
  if (info.has_ram) info.ram_bytes = handle.memory_mb * kMiB;
  all.push_back(info);
  noop::write_snapshots(data_dir_, handle.name, all);
  return handle;
}

std::vector<SnapshotInfo> NoopBackend::list_snapshots(const VmHandle& handle) {
  existing_state(handle, "list the snapshots of");
  return noop::read_snapshots(data_dir_, handle.name);
}

VmHandle NoopBackend::restore_snapshot(const VmHandle& handle, const std::string& snapshot) {
  VmState current = existing_state(handle, "restore");
  std::vector<SnapshotInfo> all = noop::read_snapshots(data_dir_, handle.name);
  auto found = find_snapshot(all, snapshot);
  if (found == all.end()) not_found(handle, snapshot);
  if (found->has_ram) {
    noop::write_state(data_dir_, handle.name, VmState::running);  // resumes where it was
  } else if (runs(current)) {
    throw Error(errc::snapshot_needs_stopped,
                fmt::format("cannot restore snapshot '{}' into VM '{}' while it is {}: it holds no RAM", snapshot,
                            handle.name, to_string(current)),
                "stop the VM first, then restore the snapshot");
  }
  // The disk as it was at the snapshot, as qemu brings it back; 0 bytes is
  // a disk of the image's size.
  VmHandle restored = handle;
  restored.disk_gb = restored_disk_gb(handle, *found);
  return restored;
}

VmHandle NoopBackend::delete_snapshot(const VmHandle& handle, const std::string& snapshot) {
  existing_state(handle, "delete a snapshot of");
  std::vector<SnapshotInfo> all = noop::read_snapshots(data_dir_, handle.name);
  auto found = find_snapshot(all, snapshot);
  if (found == all.end()) not_found(handle, snapshot);
  all.erase(found);
  noop::write_snapshots(data_dir_, handle.name, all);
  return handle;
}

}  // namespace vm_manager
