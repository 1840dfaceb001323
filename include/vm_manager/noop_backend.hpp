// A backend that runs nothing but keeps an honest lifecycle, for tests and
// for trying vmctl out. Its state lives in <data dir>/vms/<name>/noop-state
// (a path made from the name, never read from the record), so every process
// sees the same VM; destroy removes that folder.
#pragma once

#include "vm_manager/export.hpp"

#include "vm_manager/data_dir.hpp"
#include "vm_manager/hypervisor.hpp"

namespace vm_manager {

class VM_MANAGER_API NoopBackend final : public Hypervisor {
 public:
  // The id it registers under and tags its VMs with.
  static constexpr std::string_view kId = "noop";

  explicit NoopBackend(DataDir data_dir);

  // The handle's host is spec.backend_options "host", else "connect" (as a
  // libvirt VM's would be), so that placing VMs on hosts can be tried with
  // VMs that run nowhere; nothing is reached there.
  VmHandle prepare(const VmSpec& spec) override;
  VmHandle start(const VmHandle& handle) override;
  VmHandle stop(const VmHandle& handle, std::chrono::milliseconds timeout) override;
  VmHandle suspend(const VmHandle& handle) override;
  VmHandle resume(const VmHandle& handle) override;
  void destroy(VmHandle handle) override;
  VmState state(const VmHandle& handle) override;
  std::string guest_ip(const VmHandle& handle) override;
  ConsoleEndpoint console_endpoint(const VmHandle& handle) override;
  // Records the forward (nothing listens), so that flows above the backend
  // can be tested; a destroyed VM raises vm::invalid_state.
  VmHandle add_port_forward(const VmHandle& handle, const PortForward& forward) override;
  VmHandle remove_port_forward(const VmHandle& handle, std::uint16_t host_port, PortProtocol protocol) override;
  // Records the new size in the handle, refusing as a real backend does: a
  // running or suspended VM (resize::running), a disk smaller than the one
  // recorded (resize::shrink; a disk of the image's size has no recorded
  // size, so any size grows it).
  VmHandle resize(const VmHandle& handle, const VmResize& change) override;
  // Snapshots are recorded (noop_snapshots.cpp), with the qemu backend's
  // rules: one taken while the VM runs holds its "RAM" unless `memory` is
  // exclude, restoring it makes the VM run; one without RAM restores only
  // into a VM that does not run (snapshot::needs_stopped).
  VmHandle create_snapshot(const VmHandle& handle, const std::string& snapshot, SnapshotMemory memory) override;
  std::vector<SnapshotInfo> list_snapshots(const VmHandle& handle) override;
  VmHandle restore_snapshot(const VmHandle& handle, const std::string& snapshot) override;
  VmHandle delete_snapshot(const VmHandle& handle, const std::string& snapshot) override;
  // A running VM stays running (nothing reboots); any other raises
  // vm::invalid_state, as a real backend does.
  VmHandle hard_reset(const VmHandle& handle) override;

 private:
  // Moves the VM from one of `from` to `to`, or raises vm::invalid_state.
  VmHandle transition(const VmHandle& handle, std::initializer_list<VmState> from, VmState to,
                      std::string_view verb);
  // The VM's state, or vm::invalid_state when it is destroyed.
  VmState existing_state(const VmHandle& handle, std::string_view verb);
  DataDir data_dir_;
};

}  // namespace vm_manager
