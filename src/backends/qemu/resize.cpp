// QemuBackend::resize. A stopped VM's vCPUs and memory live in its handle,
// which the next start puts on QEMU's command line (command_line.cpp); its
// disk grows with `qemu-img resize` on the overlay.
//
// An overlay holding internal snapshots grows too (qemu-img 7.2 does it;
// each snapshot keeps the size it was taken at, and restoring one brings
// that size back).
#include <fmt/format.h>

#include "backends/qemu/disk.hpp"
#include "backends/qemu/qemu_backend.hpp"
#include "vm_manager/error.hpp"
#include "vm_manager/spec_check.hpp"

namespace vm_manager::qemu {
using namespace std::chrono_literals;
namespace {

constexpr std::uint64_t kGiB = 1024ull * 1024 * 1024;

// QEMU reads the vCPUs, memory and disk only when it starts: a VM it runs
// (or holds paused, or that no longer answers) keeps its size.
void require_not_running(const VmHandle& handle, VmState state) {
  if (state == VmState::prepared || state == VmState::stopped) return;
  if (state == VmState::destroyed) {
    throw Error(errc::vm_invalid_state, fmt::format("cannot resize VM '{}': it no longer exists", handle.name),
                "create it again");
  }
  throw Error(errc::resize_running,
              fmt::format("cannot resize VM '{}': it is {}; its size changes only while it is stopped", handle.name,
                          to_string(state)),
              "stop the VM, change its size, then start it again");
}

std::string gigabytes(std::uint64_t bytes) { return fmt::format("{:.1f} GB", double(bytes) / double(kGiB)); }

}  // namespace

VmHandle QemuBackend::resize(const VmHandle& handle, const VmResize& change) {
  validate_resize(change);
  require_not_running(handle, state(handle));
  QemuVm vm(handle);
  // The disk first: when it cannot grow, nothing of the VM has changed.
  if (change.disk_gb) grow_disk(vm, *change.disk_gb);
  if (change.vcpus) vm.vcpus = *change.vcpus;
  if (change.memory_mb) vm.memory_mb = *change.memory_mb;
  if (change.disk_gb) vm.disk_gb = *change.disk_gb;
  return vm.handle();
}

void QemuBackend::grow_disk(const QemuVm& vm, std::uint64_t disk_gb) {
  // The disk's own size, not the record's: a disk created at the image's
  // size has none recorded, and a restored snapshot may have brought back
  // an older one.
  const std::uint64_t current = inspect_image(vm.overlay_path, config_, *host_).virtual_size;
  const std::uint64_t wanted = disk_gb * kGiB;
  if (wanted < current) {
    throw Error(errc::resize_shrink,
                fmt::format("cannot shrink the disk of VM '{}' from {} to {} GB: a disk only grows", vm.name,
                            gigabytes(current), disk_gb),
                fmt::format("give at least {} GB; for a smaller disk, create the VM again",
                            (current + kGiB - 1) / kGiB));
  }
  if (wanted == current) return;
  os::ProcessSpec resize;
  // -f: the overlay is always qcow2, never probed.
  resize.argv = {config_.qemu_img, "resize", "-q", "-f", "qcow2", vm.overlay_path, std::to_string(wanted)};
  os::ProcessOutput out = host_->run(resize, 120s);
  if (!out.ok()) {
    throw Error(errc::resize_failed,
                fmt::format("qemu-img could not grow the disk of VM '{}' to {} GB: {}", vm.name, disk_gb,
                            out.err.substr(0, out.err.find('\n'))),
                "check free space in the data dir; qemu-img reports what else stopped it");
  }
}

}  // namespace vm_manager::qemu
