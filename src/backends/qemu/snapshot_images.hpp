// The qemu-img side of snapshots: what an image of a VM holds (its format,
// backing file and internal snapshots, from `qemu-img info --output=json`)
// and `qemu-img snapshot -c/-a/-d` on it, for a VM whose QEMU is not
// running. snapshots.cpp decides which images and when.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "backends/qemu/config.hpp"
#include "backends/qemu/host.hpp"
#include "vm_manager/types.hpp"

namespace vm_manager::qemu {

struct SnapshotImage {
  std::string format;                 // "qcow2", "raw", …
  std::uint64_t virtual_size = 0;     // bytes
  std::optional<std::string> backing;  // the backing file as QEMU resolves it
  std::vector<SnapshotInfo> snapshots;  // internal snapshots, oldest first
};

// Reads `qemu-img info --output=json` output (untrusted: raises
// snapshot::failed naming `image` for anything unexpected).
SnapshotImage parse_snapshot_image(std::string_view json, const std::filesystem::path& image);

// `qemu-img info -U --output=json`: also while QEMU has the image open.
// Raises snapshot::failed.
SnapshotImage inspect_snapshot_image(const std::filesystem::path& image, const QemuConfig& config, Host& host);

enum class ImageSnapshotOp { create, apply, remove };

// The qemu-img arguments (after the program) for `op` on `image`.
std::vector<std::string> image_snapshot_args(ImageSnapshotOp op, const std::string& snapshot,
                                             const std::filesystem::path& image);

// Runs it; raises snapshot::failed with qemu-img's first line of error.
void run_image_snapshot(ImageSnapshotOp op, const std::string& snapshot, const std::filesystem::path& image,
                        const QemuConfig& config, Host& host);

// The VM's own UEFI variables, as qcow2 (so they hold internal snapshots),
// converted from the firmware's VARS template; mode 0600.
void create_uefi_vars(const std::filesystem::path& vars_template, const std::filesystem::path& vars,
                      const QemuConfig& config, Host& host);

}  // namespace vm_manager::qemu
