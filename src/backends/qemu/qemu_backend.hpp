// The QEMU backend: daemonized qemu-system-x86_64 controlled over QMP.
//
// Work dir (vms/<name>/): disk.qcow2 (overlay on the base image), seed.iso,
// console.log, qemu.log (QEMU's stderr), qemu.pid, OVMF_VARS.qcow2 (raw
// OVMF_VARS.fd in VMs made before snapshots), data-NAME.qcow2 per data disk
// (data_disks.hpp), and the
// qmp.sock and console.sock sockets (elsewhere when the path is too long for
// a unix socket).
#pragma once

#include <memory>
#include <optional>
#include <string_view>

#include "backends/qemu/config.hpp"
#include "backends/qemu/host.hpp"
#include "backends/qemu/qemu_vm.hpp"
#include "backends/qemu/qmp_client.hpp"
#include "vm_manager/data_dir.hpp"
#include "vm_manager/hypervisor.hpp"

namespace vm_manager::qemu {

// The id this backend registers under and tags its VMs with.
inline constexpr std::string_view kBackendId = "qemu";

class QemuBackend final : public Hypervisor {
 public:
  QemuBackend(DataDir data_dir, QemuConfig config, std::shared_ptr<Host> host = make_posix_host());

  VmHandle prepare(const VmSpec& spec) override;
  VmHandle start(const VmHandle& handle) override;
  VmHandle stop(const VmHandle& handle, std::chrono::milliseconds timeout) override;
  VmHandle suspend(const VmHandle& handle) override;
  VmHandle resume(const VmHandle& handle) override;
  void destroy(VmHandle handle) override;
  // Kills the QEMU named by the pidfile, if it runs that VM (remains.cpp).
  void destroy_remains(const VmHandle& remains) override;
  void check_stored_paths(const VmHandle& handle) override;
  VmState state(const VmHandle& handle) override;
  std::string guest_ip(const VmHandle& handle) override;
  ConsoleEndpoint console_endpoint(const VmHandle& handle) override;
  // "pid" and "vnc", once it has run.
  nlohmann::json describe(const VmHandle& handle) override;
  // hostfwd_add and hostfwd_remove over QMP while QEMU runs (or is paused);
  // only the handle otherwise, for the next start (port_forwards.hpp).
  VmHandle add_port_forward(const VmHandle& handle, const PortForward& forward) override;
  VmHandle remove_port_forward(const VmHandle& handle, std::uint16_t host_port, PortProtocol protocol) override;
  // vCPUs and memory for the next start; the overlay grows with qemu-img
  // resize (resize.cpp).
  VmHandle resize(const VmHandle& handle, const VmResize& change) override;
  // Internal qcow2 snapshots of every writable image (snapshots.cpp): with
  // qemu-img while QEMU does not run, over QMP (with the RAM) while it does.
  VmHandle create_snapshot(const VmHandle& handle, const std::string& snapshot, SnapshotMemory memory) override;
  std::vector<SnapshotInfo> list_snapshots(const VmHandle& handle) override;
  VmHandle restore_snapshot(const VmHandle& handle, const std::string& snapshot) override;
  VmHandle delete_snapshot(const VmHandle& handle, const std::string& snapshot) override;
  // QMP system_reset (reset.cpp).
  VmHandle hard_reset(const VmHandle& handle) override;

 private:
  // The recorded process runs, and is this VM's QEMU (qemu_process.cpp).
  bool process_alive(const QemuVm& vm);
  // What a signal to this VM's QEMU checks the process for.
  os::IdentityCheck its_qemu(const QemuVm& vm) const;
  // Removes the VM's private socket folder, when its sockets are not in its
  // work dir.
  void remove_socket_dir(const QemuVm& vm);
  // state(), keeping the QMP session it asked (when QEMU answered one).
  VmState state_over_qmp(const VmHandle& handle, std::optional<QmpClient>& qmp);
  // The QMP session state_over_qmp opened, when the VM is `wanted`; else
  // raises vm::invalid_state ("cannot <verb> …"). The command then goes over
  // the same session: a second connection and handshake cost as much as the
  // command itself.
  QmpClient connect_when(const VmHandle& handle, VmState wanted, std::string_view verb);
  // A QMP session when QEMU runs the VM (running or suspended); nullopt when
  // it is prepared or stopped; else raises vm::invalid_state ("cannot <verb> …").
  std::optional<QmpClient> session_if_live(const VmHandle& handle, std::string_view verb);

  // Grows the VM's overlay to disk_gb; raises resize::shrink for a smaller
  // size than it has, resize::failed when qemu-img fails (resize.cpp).
  void grow_disk(const QemuVm& vm, std::uint64_t disk_gb);
  // The state for a snapshot call, with a QMP session when QEMU runs the VM;
  // raises vm::invalid_state ("cannot <verb> …") when it is failed or gone.
  VmState snapshot_state(const VmHandle& handle, std::optional<QmpClient>& qmp, std::string_view verb);

  DataDir data_dir_;
  QemuConfig config_;
  std::shared_ptr<Host> host_;
};

}  // namespace vm_manager::qemu
