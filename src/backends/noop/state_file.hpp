// The noop backend's state file, <data dir>/vms/<name>/noop-state. Its path
// comes from the data dir and the VM's name, never from the record, and it
// is reached through the VM's folder opened without following a symlink: a
// link planted at the folder or the file never leads outside the data dir.
#pragma once

#include <optional>
#include <string_view>
#include <vector>

#include "vm_manager/data_dir.hpp"
#include "vm_manager/types.hpp"

namespace vm_manager::noop {

// Whether the VM's folder is there at all (a VM without it is destroyed).
bool has_work_dir(const DataDir& data_dir, std::string_view name);

// The state written last; nullopt when the folder holds no readable state
// file (not a regular file, or not a state). Raises store::io.
std::optional<VmState> read_state(const DataDir& data_dir, std::string_view name);

// Replaces the state file atomically (mode 0600). Raises store::io.
void write_state(const DataDir& data_dir, std::string_view name, VmState state);

// The snapshots recorded in <data dir>/vms/<name>/noop-snapshots, oldest
// first; none when there is no such file. Raises store::corrupt for one it
// cannot read, store::io.
std::vector<SnapshotInfo> read_snapshots(const DataDir& data_dir, std::string_view name);

// Replaces that file atomically (mode 0600). Raises store::io.
void write_snapshots(const DataDir& data_dir, std::string_view name, const std::vector<SnapshotInfo>& snapshots);

}  // namespace vm_manager::noop
