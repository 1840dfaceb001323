#include "backends/qemu/snapshot_sizes.hpp"

#include <nlohmann/json.hpp>

#include "backends/qemu/work_dir_layout.hpp"
#include "os/files.hpp"
#include "vm_manager/error.hpp"
#include "vm_manager/names.hpp"
#include "vm_manager/spec_check.hpp"

namespace vm_manager::qemu {
namespace fs = std::filesystem;
namespace {

constexpr int kVersion = 1;
constexpr std::uint64_t kGiB = 1024ull * 1024 * 1024;
// Far more than the entries of any VM's snapshots.
constexpr std::size_t kMaxFileBytes = 1024 * 1024;

bool valid_name(const std::string& name) {
  try {
    validate_snapshot_name(name);
    return true;
  } catch (const Error&) {
    return false;
  }
}

// One entry, or nothing when any part of it is off.
std::optional<SnapshotDisk> entry_from(const nlohmann::json& j) {
  if (!j.is_object()) return std::nullopt;
  auto created = j.find("created_unix");
  auto bytes = j.find("disk_bytes");
  auto gb = j.find("disk_gb");
  if (created == j.end() || !created->is_number_integer()) return std::nullopt;
  if (bytes == j.end() || !bytes->is_number_unsigned()) return std::nullopt;
  SnapshotDisk disk{created->get<std::int64_t>(), bytes->get<std::uint64_t>(), std::nullopt};
  if (disk.disk_bytes == 0 || disk.disk_bytes > kMaxDiskGb * kGiB) return std::nullopt;
  if (gb != j.end() && !gb->is_null()) {
    if (!gb->is_number_unsigned()) return std::nullopt;
    disk.disk_gb = gb->get<std::uint64_t>();
    if (*disk.disk_gb < 1 || *disk.disk_gb > kMaxDiskGb) return std::nullopt;
  }
  return disk;
}

nlohmann::json entry_json(const SnapshotDisk& disk) {
  return {{"created_unix", disk.created_unix},
          {"disk_bytes", disk.disk_bytes},
          {"disk_gb", disk.disk_gb ? nlohmann::json(*disk.disk_gb) : nlohmann::json(nullptr)}};
}

}  // namespace

SnapshotDisks parse_snapshot_disks(std::string_view text) {
  SnapshotDisks disks;
  auto j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object()) return disks;
  auto version = j.find("version");
  auto snapshots = j.find("snapshots");
  if (version == j.end() || *version != kVersion || snapshots == j.end() || !snapshots->is_object()) return disks;
  for (const auto& [name, value] : snapshots->items()) {
    if (!valid_name(name)) continue;
    if (std::optional<SnapshotDisk> disk = entry_from(value)) disks.emplace(name, *disk);
  }
  return disks;
}

SnapshotDisks read_snapshot_disks(const fs::path& work_dir) {
  try {
    return parse_snapshot_disks(os::read_regular_file(layout::snapshot_disks(work_dir), kMaxFileBytes,
                                                      "the VM's snapshot sizes"));
  } catch (const Error&) {
    return {};  // missing, not a file, too large: the disk's size stands in
  }
}

void write_snapshot_disks(const fs::path& work_dir, SnapshotDisks disks, const std::vector<SnapshotInfo>& held) {
  std::erase_if(disks, [&](const auto& entry) {
    return std::none_of(held.begin(), held.end(), [&](const SnapshotInfo& s) {
      return s.name == entry.first && s.created_unix == entry.second.created_unix;
    });
  });
  nlohmann::json snapshots = nlohmann::json::object();
  for (const auto& [name, disk] : disks) snapshots[name] = entry_json(disk);
  nlohmann::json file{{"version", kVersion}, {"snapshots", snapshots}};
  os::write_file_atomic(layout::snapshot_disks(work_dir), file.dump(2) + "\n");
}

void apply_snapshot_disks(const SnapshotDisks& disks, std::vector<SnapshotInfo>& snapshots) {
  for (SnapshotInfo& s : snapshots) {
    auto found = disks.find(s.name);
    if (found != disks.end() && found->second.created_unix == s.created_unix) s.disk_bytes = found->second.disk_bytes;
  }
}

}  // namespace vm_manager::qemu
