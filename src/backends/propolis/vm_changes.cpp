// Changes to a propolis VM in place: a hard reset of the running guest, and
// a new size for the stopped one.
#include <limits>

#include <fmt/format.h>

#include "backends/propolis/instance_spec.hpp"
#include "backends/propolis/propolis_backend.hpp"
#include "backends/propolis/propolis_client.hpp"
#include "backends/propolis/propolis_state.hpp"
#include "vm_manager/error.hpp"

namespace vm_manager::propolis {

VmHandle PropolisBackend::hard_reset(const VmHandle& handle) {
  VmState current = state(handle);
  if (current != VmState::running) {
    throw Error(errc::vm_invalid_state, fmt::format("cannot reset VM '{}': it is {}", handle.name, to_string(current)),
                "start the VM first");
  }
  PropolisClient client(PropolisState::of(handle).propolis_address, config_.request_timeout);
  auto deadline = std::chrono::steady_clock::now() + config_.start_timeout;
  // The generation before the request: "Running" from later ones is the
  // guest after the reset, not before it.
  std::uint64_t before = client.monitor(0, config_.request_timeout).gen;
  client.request_state("Reboot");
  client.wait_for_state({"Running"}, deadline, before + 1);
  return handle;
}

VmHandle PropolisBackend::resize(const VmHandle& handle, const VmResize& change) {
  require_stopped(handle, errc::resize_running, "change the size");
  VmHandle h = handle;
  std::uint32_t vcpus = change.vcpus.value_or(h.vcpus);
  std::uint64_t memory_mb = change.memory_mb.value_or(h.memory_mb);
  check_board(vcpus, memory_mb, config_.max_vcpus);
  if (change.disk_gb) {
    constexpr std::uint64_t kMaxGb = std::numeric_limits<std::uint64_t>::max() >> 30;
    if (*change.disk_gb == 0 || *change.disk_gb > kMaxGb) {
      throw Error(errc::spec_invalid, fmt::format("a disk of {} GB cannot be made", *change.disk_gb),
                  "give a disk size of at least 1 GB");
    }
    ZoneLayout layout = layout_of(h);
    std::uint64_t now = tools_.volsize(layout.dataset);
    std::uint64_t wanted = *change.disk_gb << 30;
    if (wanted < now) {
      throw Error(errc::resize_shrink,
                  fmt::format("cannot shrink the disk of VM '{}' from {} to {} GB", handle.name,
                              now % (1ull << 30) == 0 ? fmt::format("{} GB", now >> 30) : fmt::format("{} bytes", now),
                              *change.disk_gb),
                  "a disk only grows: the guest's file systems fill it; give a size at least as large");
    }
    // Growing a volume with snapshots is allowed; a rollback shrinks it back.
    if (wanted > now) tools_.set_volsize(layout.dataset, *change.disk_gb);
    h.disk_gb = *change.disk_gb;
  }
  // create_instance reads them from the handle at the next start.
  h.vcpus = vcpus;
  h.memory_mb = memory_mb;
  return h;
}

}  // namespace vm_manager::propolis
