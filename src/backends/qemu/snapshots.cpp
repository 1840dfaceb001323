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
  return handle;
}

std::vector<SnapshotInfo> QemuBackend::list_snapshots(const VmHandle& handle) {
  if (handle.work_dir.empty() || !fs::is_directory(handle.work_dir)) {
    throw Error(errc::vm_invalid_state, fmt::format("VM '{}' no longer exists", handle.name), "create it again");
  }
  return inspect_snapshot_image(QemuVm(handle).overlay_path, config_, *host_).snapshots;
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
    return handle;
  }
  if (live(state)) {
    load_ram_snapshot(*qmp, images, snapshot);
    return handle;
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
  return started;
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
    return handle;
  }
  for (const WritableImage& image : images) {
    run_image_snapshot(ImageSnapshotOp::remove, snapshot, image.path, config_, *host_);
  }
  return handle;
}

}  // namespace vm_manager::qemu
