// A qemu VM as the backend works on it: the fields every backend shares
// (VmHandle) plus what only QEMU reads (QemuState), which the handle keeps
// in its backend_state.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "vm_manager/types.hpp"

namespace vm_manager::qemu {

// A running virtiofsd serving one shared folder (virtiofs.hpp), as a pid
// plus its start time, like QEMU's own.
struct VirtiofsDaemon {
  std::int64_t pid = 0;
  std::uint64_t start_time = 0;
  bool operator==(const VirtiofsDaemon&) const = default;
};

// The qemu backend's own part of vm.json. Version 1 names and types its
// fields as record format 1 had them flat in the handle, so a format-1
// record migrates by moving them (store.cpp).
struct QemuState {
  static constexpr int kVersion = 1;

  std::string image_path;    // the base image the overlay is on
  std::string overlay_path;  // the VM's disk
  // The running process: pid plus its start time (clock ticks since boot,
  // field 22 of /proc/<pid>/stat), so a reused pid is never mistaken for ours.
  std::optional<std::int64_t> pid;
  std::optional<std::uint64_t> pid_start_time;
  std::string qmp_socket;
  std::string console_socket;
  // Where VNC listens once started: "unix:/…/vnc.sock", or with
  // vnc_mode tcp "127.0.0.1:5901".
  std::string vnc;
  // As the spec asked; a state written before it existed reads as unix.
  VncMode vnc_mode = VncMode::unix_socket;
  std::string mac;
  bool uefi = false;
  Accel accel = Accel::automatic;  // as asked: "auto" is decided at each start
  std::optional<std::string> kernel;
  std::optional<std::string> initrd;
  std::optional<std::string> cmdline;
  // This boot's virtiofsd, in the order of the VM's shared folders.
  std::vector<VirtiofsDaemon> virtiofsd;
};

// Inherits VmHandle privately, naming its fields: a QemuVm cannot be passed
// where a VmHandle is expected by mistake (that would drop its state);
// handle() gives the VmHandle with the state written back.
class QemuVm : private VmHandle, public QemuState {
 public:
  QemuVm() = default;
  // Reads the handle's backend_state; raises store::corrupt when it is not a
  // qemu state this release reads.
  explicit QemuVm(const VmHandle& handle);

  VmHandle handle() const;
  // The shared fields, for what fills them (the cloud-init seed).
  VmHandle& shared() { return *this; }

  using VmHandle::backend;
  using VmHandle::console_log;
  using VmHandle::data_disks;
  using VmHandle::disk_gb;
  using VmHandle::id;
  using VmHandle::memory_mb;
  using VmHandle::name;
  using VmHandle::network;
  using VmHandle::port_forwards;
  using VmHandle::seed_iso_path;
  using VmHandle::shared_folders;
  using VmHandle::ssh_host;
  using VmHandle::ssh_port;
  using VmHandle::vcpus;
  using VmHandle::work_dir;
};

}  // namespace vm_manager::qemu
