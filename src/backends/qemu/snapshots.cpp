// The qemu backend's snapshots: internal qcow2 snapshots of every writable
// image of the VM (its disk, its data disks, its UEFI variables). A VM whose
// QEMU does not run is snapshotted with qemu-img; a running one over QMP,
// with its RAM and device state (snapshot-save and friends, run as jobs) or
// without (one transaction of blockdev-snapshot-internal-sync).
#include <unistd.h>

#include <algorithm>

#include <fmt/format.h>

#include "backends/qemu/qemu_backend.hpp"
#include "backends/qemu/qmp_jobs.hpp"
#include "backends/qemu/snapshot_images.hpp"
#include "backends/qemu/snapshot_sizes.hpp"
#include "backends/qemu/work_dir_layout.hpp"
#include "util/printable.hpp"
#include "vm_manager/error.hpp"
#include "vm_manager/names.hpp"

namespace vm_manager::qemu {
namespace fs = std::filesystem;
using namespace std::chrono_literals;

namespace {

// Saving or loading the RAM of a large guest under TCG takes a while; only
// a hang takes this long.
constexpr std::chrono::milliseconds kJobDeadline = 600s;
constexpr std::uint64_t kGiB = 1024ull * 1024 * 1024;

// A writable image of the VM: what to call it, its file, its block node.
struct WritableImage {
  std::string device;
  fs::path path;
  std::string node;
  SnapshotImage facts;
};

std::vector<WritableImage> writable_images(const VmHandle& handle, const QemuVm& vm) {
  const fs::path work_dir(handle.work_dir);
  std::vector<WritableImage> images{{"disk", vm.overlay_path, layout::kRootDiskNode, {}}};
  for (const DataDisk& disk : handle.data_disks) {
    images.push_back({fmt::format("data disk '{}'", disk.name), layout::data_disk(work_dir, disk.name),
                      layout::data_disk_node(disk.name), {}});
  }
  if (vm.uefi) {
    fs::path vars = layout::existing_uefi_vars(work_dir);
    images.push_back({fmt::format("UEFI variables ({})", vars.filename().string()), vars, layout::kUefiVarsNode, {}});
  }
  return images;
}

bool holds(const SnapshotImage& image, const std::string& snapshot) {
  return std::any_of(image.snapshots.begin(), image.snapshots.end(),
                     [&](const SnapshotInfo& s) { return s.name == snapshot; });
}

bool same_file(const fs::path& a, const fs::path& b) {
  std::error_code ec;
  return a.lexically_normal() == b.lexically_normal() || fs::equivalent(a, b, ec);
}

// Every image must hold internal snapshots (qcow2), and the disk must still
// rest on the base image recorded at prepare.
void require_snapshottable(const VmHandle& handle, const QemuVm& vm, const std::vector<WritableImage>& images) {
  for (const WritableImage& image : images) {
    if (image.facts.format == "qcow2") continue;
    throw Error(errc::snapshot_blocked,
                fmt::format("VM '{}' cannot be snapshotted: its {} ({}) is {}, which holds no snapshots", handle.name,
                            image.device, image.path.string(), image.facts.format),
                "recreate the VM: new VMs keep all their writable images in qcow2");
  }
  const SnapshotImage& root = images.front().facts;
  if (!root.backing || !same_file(*root.backing, vm.image_path)) {
    throw Error(errc::snapshot_backing_changed,
                fmt::format("VM '{}''s disk rests on {}, not on the base image {} recorded at create", handle.name,
                            root.backing ? util::printable(*root.backing) : std::string("nothing"), vm.image_path),
                "put the base image back where it was, or recreate the VM");
  }
}

[[noreturn]] void not_found(const VmHandle& handle, const std::string& snapshot) {
  throw Error(errc::snapshot_not_found, fmt::format("VM '{}' has no snapshot '{}'", handle.name, snapshot),
              "list the VM's snapshots to see their names");
}

std::string job_id(std::string_view verb) { return fmt::format("vmctl-{}-{}", verb, ::getpid()); }

nlohmann::json nodes_of(const std::vector<WritableImage>& images) {
  nlohmann::json nodes = nlohmann::json::array();
  for (const WritableImage& image : images) nodes.push_back(image.node);
  return nodes;
}

bool live(VmState state) { return state == VmState::running || state == VmState::suspended; }

std::vector<WritableImage> inspected_images(const VmHandle& handle, const QemuVm& vm, const QemuConfig& config, Host& host) {
  std::vector<WritableImage> images = writable_images(handle, vm);
  for (WritableImage& image : images) image.facts = inspect_snapshot_image(image.path, config, host);
  return images;
}

// qemu-img on each image; those done are undone when one fails, so the VM
// is as it was.
void create_image_snapshots(const std::vector<WritableImage>& images, const std::string& snapshot,
                            const QemuConfig& config, Host& host) {
  for (std::size_t i = 0; i < images.size(); ++i) {
    try {
      run_image_snapshot(ImageSnapshotOp::create, snapshot, images[i].path, config, host);
    } catch (const Error&) {
      for (std::size_t done = 0; done < i; ++done) {
        try {
          run_image_snapshot(ImageSnapshotOp::remove, snapshot, images[done].path, config, host);
        } catch (const Error& e) {
          config.log.warn("{}", e.message());  // the first error is the one to report
        }
      }
      throw;
    }
  }
}

void load_ram_snapshot(QmpClient& qmp, const std::vector<WritableImage>& images,
                                    const std::string& snapshot) {
  run_qmp_job(qmp, "snapshot-load",
              {{"tag", snapshot}, {"vmstate", layout::kRootDiskNode}, {"devices", nodes_of(images)}}, job_id("load"),
              kJobDeadline);
  // It resumes the guest where it was: a suspended VM runs afterwards too.
  if (!qmp.query_status().running) qmp.cont();
}

// Records the root disk's size under the snapshot just taken, from the
// image as it now is (the snapshot's date as qemu-img reports it).
// The snapshot is taken by then: a failure here only costs list its size
// at the time (it shows the current one), so it is a warning.
void record_snapshot_disk(const VmHandle& handle, const QemuVm& vm, std::uint64_t disk_bytes,
                          const std::string& snapshot, const QemuConfig& config, Host& host) {
  try {
    const std::vector<SnapshotInfo> held = inspect_snapshot_image(vm.overlay_path, config, host).snapshots;
    SnapshotDisks disks = read_snapshot_disks(handle.work_dir);
    auto taken = std::find_if(held.begin(), held.end(), [&](const SnapshotInfo& s) { return s.name == snapshot; });
    if (taken != held.end()) disks[snapshot] = SnapshotDisk{taken->created_unix, disk_bytes, handle.disk_gb};
    write_snapshot_disks(handle.work_dir, std::move(disks), held);
  } catch (const Error& e) {
    config.log.warn("the disk size of snapshot '{}' is not recorded: {}", snapshot, e.message());
  }
}

// After a delete: the entries of snapshots gone go too.
void forget_snapshot_disks(const VmHandle& handle, const QemuVm& vm, const QemuConfig& config, Host& host) {
  try {
    write_snapshot_disks(handle.work_dir, read_snapshot_disks(handle.work_dir),
                         inspect_snapshot_image(vm.overlay_path, config, host).snapshots);
  } catch (const Error& e) {
    config.log.warn("the recorded snapshot disk sizes are not updated: {}", e.message());
  }
}

// A restore brings back the disk's size at the snapshot (qemu-img -a, and
// snapshot-load in a running QEMU 7.2, both do): the handle's disk_gb
// follows it. The recorded disk_gb when the entry matches what the disk now
// is, else the size in whole GB, else the image's size (none).
VmHandle with_restored_disk_size(const VmHandle& handle, const std::string& snapshot, const QemuConfig& config,
                                 Host& host) {
  SnapshotImage root;
  try {
    root = inspect_snapshot_image(QemuVm(handle).overlay_path, config, host);
  } catch (const Error& e) {
    // The VM is restored (and may run): its handle must reach the record.
    config.log.warn("the disk size of VM '{}' after the restore is unknown: {}", handle.name, e.message());
    return handle;
  }
  VmHandle restored = handle;
  const SnapshotDisks disks = read_snapshot_disks(handle.work_dir);
  auto entry = disks.find(snapshot);
  auto held = std::find_if(root.snapshots.begin(), root.snapshots.end(),
                           [&](const SnapshotInfo& s) { return s.name == snapshot; });
  if (entry != disks.end() && held != root.snapshots.end() && entry->second.created_unix == held->created_unix &&
      entry->second.disk_bytes == root.virtual_size) {
    restored.disk_gb = entry->second.disk_gb;
  } else if (handle.disk_gb && *handle.disk_gb * kGiB == root.virtual_size) {
    // as it was
  } else if (root.virtual_size % kGiB == 0) {
    restored.disk_gb = root.virtual_size / kGiB;
  } else {
    restored.disk_gb = std::nullopt;
  }
  return restored;
}

}  // namespace

VmState QemuBackend::snapshot_state(const VmHandle& handle, std::optional<QmpClient>& qmp, std::string_view verb) {
  VmState state = state_over_qmp(handle, qmp);
  if (state == VmState::prepared || state == VmState::stopped || (live(state) && qmp)) return state;
  throw Error(errc::vm_invalid_state, fmt::format("cannot {} VM '{}': it is {}", verb, handle.name, to_string(state)),
              state == VmState::destroyed ? "the VM no longer exists" : "stop the VM, then try again");
}

VmHandle QemuBackend::create_snapshot(const VmHandle& handle, const std::string& snapshot, SnapshotMemory memory) {
  validate_snapshot_name(snapshot);
  const QemuVm vm(handle);
  std::optional<QmpClient> qmp;
  const VmState state = snapshot_state(handle, qmp, "snapshot");
  const bool with_ram = live(state) && memory == SnapshotMemory::include;
  if (with_ram && !handle.shared_folders.empty()) {
    throw Error(errc::snapshot_blocked,
                fmt::format("VM '{}' has shared folders: QEMU cannot save the RAM of a VM with virtiofs "
                            "(vhost-user-fs) devices, which cannot be migrated",
                            handle.name),
                "take a snapshot without RAM, or stop the VM and snapshot its disks");
  }
  std::vector<WritableImage> images = inspected_images(handle, vm, config_, *host_);
  require_snapshottable(handle, vm, images);
  for (const WritableImage& image : images) {
    if (holds(image.facts, snapshot)) {
      throw Error(errc::snapshot_already_exists,
                  fmt::format("VM '{}' has a snapshot '{}' already", handle.name, snapshot),
                  "choose another name, or delete that snapshot first");
    }
  }
  if (with_ram) {
    run_qmp_job(*qmp, "snapshot-save",
                {{"tag", snapshot}, {"vmstate", layout::kRootDiskNode}, {"devices", nodes_of(images)}},
                job_id("save"), kJobDeadline);
  } else if (qmp) {
    nlohmann::json actions = nlohmann::json::array();
    for (const WritableImage& image : images) {
      actions.push_back({{"type", "blockdev-snapshot-internal-sync"},
                         {"data", {{"device", image.node}, {"name", snapshot}}}});
    }
    try {
      qmp->execute("transaction", {{"actions", actions}});
    } catch (const Error& e) {
      if (e.code() != errc::qmp_command_failed) throw;
      throw Error(errc::snapshot_failed, fmt::format("QEMU could not snapshot VM '{}': {}", handle.name, e.message()),
                  "see qemu.log in the VM's folder");
    }
  } else {
    create_image_snapshots(images, snapshot, config_, *host_);
  }
  record_snapshot_disk(handle, vm, images.front().facts.virtual_size, snapshot, config_, *host_);
  return handle;
}

std::vector<SnapshotInfo> QemuBackend::list_snapshots(const VmHandle& handle) {
  if (handle.work_dir.empty() || !fs::is_directory(handle.work_dir)) {
    throw Error(errc::vm_invalid_state, fmt::format("VM '{}' no longer exists", handle.name), "create it again");
  }
  std::vector<SnapshotInfo> snapshots = inspect_snapshot_image(QemuVm(handle).overlay_path, config_, *host_).snapshots;
  // qemu-img gives each the disk's current size; vmctl's record, the size
  // it had then.
  apply_snapshot_disks(read_snapshot_disks(handle.work_dir), snapshots);
  return snapshots;
}

VmHandle QemuBackend::restore_snapshot(const VmHandle& handle, const std::string& snapshot) {
  const QemuVm vm(handle);
  std::optional<QmpClient> qmp;
  const VmState state = snapshot_state(handle, qmp, "restore a snapshot of");
  std::vector<WritableImage> images = inspected_images(handle, vm, config_, *host_);
  const auto& root = images.front().facts.snapshots;
  auto found = std::find_if(root.begin(), root.end(), [&](const SnapshotInfo& s) { return s.name == snapshot; });
  if (found == root.end()) not_found(handle, snapshot);
  require_snapshottable(handle, vm, images);
  for (const WritableImage& image : images) {
    if (holds(image.facts, snapshot)) continue;
    throw Error(errc::snapshot_failed,
                fmt::format("VM '{}''s {} holds no snapshot '{}'", handle.name, image.device, snapshot),
                "restore another snapshot, or delete this one");
  }
  if (!found->has_ram) {
    if (live(state)) {
      throw Error(errc::snapshot_needs_stopped,
                  fmt::format("cannot restore snapshot '{}' into VM '{}' while it is {}: it holds no RAM", snapshot,
                              handle.name, to_string(state)),
                  "stop the VM first, then restore the snapshot");
    }
    for (const WritableImage& image : images) {
      run_image_snapshot(ImageSnapshotOp::apply, snapshot, image.path, config_, *host_);
    }
    return with_restored_disk_size(handle, snapshot, config_, *host_);
  }
  if (live(state)) {
    load_ram_snapshot(*qmp, images, snapshot);
    return with_restored_disk_size(handle, snapshot, config_, *host_);
  }
  // Into a stopped VM: boot it, then load the state, which replaces
  // everything the guest did meanwhile (RAM, devices and disks).
  qmp.reset();
  VmHandle started = start(handle);
  try {
    QmpClient session = QmpClient::connect(vm.qmp_socket, config_.qmp_timeout);
    load_ram_snapshot(session, images, snapshot);
  } catch (const Error&) {
    stop(started, 0ms);  // not a guest that booted afresh instead
    throw;
  }
  return with_restored_disk_size(started, snapshot, config_, *host_);
}

VmHandle QemuBackend::delete_snapshot(const VmHandle& handle, const std::string& snapshot) {
  const QemuVm vm(handle);
  std::optional<QmpClient> qmp;
  snapshot_state(handle, qmp, "delete a snapshot of");
  std::vector<WritableImage> images = inspected_images(handle, vm, config_, *host_);
  if (!holds(images.front().facts, snapshot)) not_found(handle, snapshot);
  std::erase_if(images, [&](const WritableImage& image) { return !holds(image.facts, snapshot); });
  if (qmp) {
    run_qmp_job(*qmp, "snapshot-delete", {{"tag", snapshot}, {"devices", nodes_of(images)}}, job_id("delete"),
                kJobDeadline);
  } else {
    for (const WritableImage& image : images) {
      run_image_snapshot(ImageSnapshotOp::remove, snapshot, image.path, config_, *host_);
    }
  }
  forget_snapshot_disks(handle, vm, config_, *host_);
  return handle;
}

}  // namespace vm_manager::qemu
