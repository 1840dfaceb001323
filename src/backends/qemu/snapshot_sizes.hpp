// The size of the VM's disk at each snapshot vmctl took, kept in
// snapshot-disks.json in the work dir: qemu-img lists a qcow2 image's
// internal snapshots without the disk size each holds, and `vmctl set` may
// have grown the disk since. The file is vmctl's own, but read as untrusted
// input: an entry that is malformed, out of range, or that no longer
// matches the image's snapshot of that name (made or replaced by hand with
// qemu-img) is ignored, and the disk's current size stands in for it.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "vm_manager/types.hpp"

namespace vm_manager::qemu {

struct SnapshotDisk {
  std::int64_t created_unix = 0;  // the snapshot's date, to tell it from a later one of the same name
  std::uint64_t disk_bytes = 0;   // the root disk's virtual size
  std::optional<std::uint64_t> disk_gb;  // the handle's disk_gb then (none: the image's size)
  bool operator==(const SnapshotDisk&) const = default;
};

using SnapshotDisks = std::map<std::string, SnapshotDisk>;

// Parses the file's text; the entries that pass the checks above (bar the
// match with the image, which the callers make).
SnapshotDisks parse_snapshot_disks(std::string_view text);

// The entries of work_dir/snapshot-disks.json; none when it is missing or
// unreadable. Raises nothing.
SnapshotDisks read_snapshot_disks(const std::filesystem::path& work_dir);

// Replaces the file atomically and durably, keeping only the entries of
// snapshots the root disk still holds (`held`). Raises store::io.
void write_snapshot_disks(const std::filesystem::path& work_dir, SnapshotDisks disks,
                          const std::vector<SnapshotInfo>& held);

// Puts the recorded size into each of `snapshots` whose entry matches it
// (same name and date); the others keep the size they have.
void apply_snapshot_disks(const SnapshotDisks& disks, std::vector<SnapshotInfo>& snapshots);

}  // namespace vm_manager::qemu
