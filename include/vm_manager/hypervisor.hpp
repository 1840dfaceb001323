// The one interface every backend implements.
#pragma once

#include "vm_manager/export.hpp"

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "vm_manager/types.hpp"

namespace vm_manager {

// Thread safety: every call may run concurrently with calls for *other* VMs.
// Calls for the same VM must be serialised by the caller (vmctl holds a per-VM
// lock). Every call returns within a bounded time; none waits forever.
//
// Operations that change a VM return the updated handle; callers persist it.
// Every failure is a vm_manager::Error.
class VM_MANAGER_API Hypervisor {
 public:
  virtual ~Hypervisor() = default;

  // Creates the VM's resources (work dir, disks, seed) without starting it.
  // On return the VM is `prepared`. Raises spec::invalid for values the backend
  // cannot honour, vm::invalid_name, vm::already_exists when resources of that
  // name exist, backend::not_available. On failure nothing it created remains.
  virtual VmHandle prepare(const VmSpec& spec) = 0;

  // What a VM's record keeps for the image `spec.image_path` names. By
  // default an absolute path to an existing file, so that the record does
  // not depend on the folder a later command runs in; a backend whose images
  // are not files (propolis: ZFS snapshots) keeps them as named. Raises
  // spec::invalid.
  virtual std::string image_reference(const VmSpec& spec);

  // Boots a prepared or stopped VM. On return it is `running`. Raises
  // vm::invalid_state when it is running, suspended or destroyed. When it
  // gave the VM's VNC a new password (VncMode::tcp), the returned handle
  // carries it in vnc_password, the only place it is ever handed out.
  //
  // What start, stop, suspend and resume change in the handle must be facts
  // that hold only until the host restarts (a pid, a socket, a port bound):
  // the store keeps them for this boot, unsynced (Durability::this_boot). A
  // backend whose start leaves something that outlives a reboot (a defined
  // domain, a zone) records it at prepare, or on its own disk, durably.
  virtual VmHandle start(const VmHandle& handle) = 0;

  // Shuts the VM down: gracefully first, forcefully once `timeout` has passed.
  // On return the VM is `stopped` (nothing of it runs any more). Stopping a VM
  // that does not run is not an error. Raises vm::invalid_state when destroyed.
  virtual VmHandle stop(const VmHandle& handle, std::chrono::milliseconds timeout) = 0;

  // Pauses a running VM. On return it is `suspended`. Raises vm::invalid_state
  // when it is not running, or when the backend cannot suspend.
  virtual VmHandle suspend(const VmHandle& handle) = 0;

  // Continues a suspended VM. On return it is `running`. Raises
  // vm::invalid_state when it is not suspended.
  virtual VmHandle resume(const VmHandle& handle) = 0;

  // Stops the VM if needed and removes every resource it owns. On return the
  // VM is `destroyed`. Destroying a destroyed VM is not an error.
  virtual void destroy(VmHandle handle) = 0;

  // Clears what this backend may have left of a VM whose record is lost or
  // unreadable. `remains` holds what could still be read: always the name
  // and work dir, the rest when the record yielded it (pid, start time…).
  // Stops only what the backend can prove is that VM's (a pid alone proves
  // nothing) and releases what lies outside the work dir; the caller then
  // removes the work dir. Finding nothing is not an error. The default does
  // nothing: a backend that keeps everything in the work dir needs no more.
  virtual void destroy_remains(const VmHandle& remains);

  // Raises store::corrupt when the handle's own state names a file or socket
  // other than the one this backend derives for the VM (from its work dir,
  // name and id): a record is data, and a path read back from it could lead
  // a stop or destroy anywhere. The store has checked the name, work dir and
  // id. The default accepts: a backend that keeps no paths has none to check.
  virtual void check_stored_paths(const VmHandle& handle);

  // Published ports (VmHandle::port_forwards). Adds `forward` to the VM: at
  // once when it runs or is suspended, and to the returned handle, which the
  // caller saves durably, so that every later start applies it; a VM that
  // does not run gets it at its next start. Raises port::invalid (as
  // validate_port_forwards, with the VM's other forwards), port::unsupported
  // (the VM's network or the backend cannot forward), port::in_use when the
  // host port is taken, naming what holds it where the host can tell. The
  // default raises port::unsupported.
  virtual VmHandle add_port_forward(const VmHandle& handle, const PortForward& forward);

  // Removes the VM's forward from host_port/protocol, at once too when it
  // runs. Raises port::not_found when it has none there. The default raises
  // port::unsupported.
  virtual VmHandle remove_port_forward(const VmHandle& handle, std::uint16_t host_port, PortProtocol protocol);

  // Snapshots (SnapshotInfo). The name follows the VM-name rules
  // (snapshot::invalid_name). Each default raises snapshot::unsupported.
  //
  // Saves the VM's disks (its root disk and data disks) under `snapshot`:
  // of a running VM with its RAM and device state too, unless `memory` is
  // exclude; of a stopped or prepared VM, the disks alone. Raises
  // snapshot::already_exists, snapshot::blocked when something of the VM
  // cannot be saved (a device that holds no snapshot, a shared folder for
  // a RAM snapshot), naming it, snapshot::backing_changed when the disk no
  // longer rests on the base image recorded at prepare,
  // snapshot::unsupported for what the backend cannot do (naming it), and
  // snapshot::failed. The VM is as it was when it fails.
  virtual VmHandle create_snapshot(const VmHandle& handle, const std::string& snapshot, SnapshotMemory memory);

  // The VM's snapshots, oldest first.
  virtual std::vector<SnapshotInfo> list_snapshots(const VmHandle& handle);

  // Puts the VM back to `snapshot`. One with RAM resumes the guest where it
  // was, so the VM runs afterwards (as libvirt's revert does); one without
  // RAM needs a stopped VM (snapshot::needs_stopped otherwise) and leaves it
  // stopped. The disk comes back at the size it had at the snapshot, and
  // the returned handle's disk_gb says so. Raises snapshot::not_found.
  virtual VmHandle restore_snapshot(const VmHandle& handle, const std::string& snapshot);

  // Deletes `snapshot`. Raises snapshot::not_found.
  virtual VmHandle delete_snapshot(const VmHandle& handle, const std::string& snapshot);

  // Resets a running VM at once, as the reset button does (no shutdown).
  // Raises vm::invalid_state when it does not run. The default raises
  // backend::unsupported.
  virtual VmHandle hard_reset(const VmHandle& handle);

  // Changes a stopped or prepared VM's vCPUs, memory and disk size in place
  // (unset fields stay). Raises resize::running when it runs or is
  // suspended, resize::shrink for a disk smaller than it is, spec::invalid
  // for values the backend cannot honour. The default raises
  // backend::unsupported.
  virtual VmHandle resize(const VmHandle& handle, const VmResize& change);

  // The live state, asked of the backend (process, QMP, zone), never cached.
  virtual VmState state(const VmHandle& handle) = 0;

  // An address at which the guest can be reached (for SSH). Raises
  // vm::invalid_state when the VM does not run.
  virtual std::string guest_ip(const VmHandle& handle) = 0;

  // Where the serial console can be attached; NoConsole when there is none.
  virtual ConsoleEndpoint console_endpoint(const VmHandle& handle) = 0;

  // The console output the backend itself keeps (propolis-server keeps the
  // last MiB; QEMU keeps none, its output goes to the VM's console log), with
  // the endpoint that continues it. Raises console::unavailable when the
  // backend keeps no history or the VM does not run.
  virtual ConsoleHistory console_history(const VmHandle& handle);

  // A connected stream socket carrying the VM's serial console in both
  // directions, for a backend whose console_endpoint is BackendConsole. The
  // caller owns the descriptor and closes it; the console ends when the
  // peer closes. Raises console::unavailable when the VM does not run. The
  // default raises console::unavailable.
  virtual int open_console(const VmHandle& handle);

  // Reaches `host` and reports its capacity and the vmctl VMs running on it.
  // An unreachable host is not an error: HostInfo::reachable says so. Raises
  // spec::invalid for settings the backend does not understand. The default
  // raises backend::unsupported.
  virtual HostInfo describe_host(const HostSpec& host);

  // What the backend adds to a description of the VM (status, list): a JSON
  // object of facts it alone knows, such as "pid" and "vnc" while QEMU runs.
  // Read from the handle, without asking the VM. The default adds nothing.
  virtual nlohmann::json describe(const VmHandle& handle);
};

}  // namespace vm_manager
