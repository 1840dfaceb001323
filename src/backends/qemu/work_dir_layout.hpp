// The files of a qemu VM, in one place. Its work dir holds the disks, logs
// and pidfile; its sockets go to socket_dir_for() (runtime_paths.hpp), which
// is the work dir unless that path is too long for a unix socket.
#pragma once

#include <filesystem>
#include <string>

namespace vm_manager::qemu::layout {

inline constexpr const char* kOverlay = "disk.qcow2";
inline constexpr const char* kConsoleLog = "console.log";
inline constexpr const char* kQemuLog = "qemu.log";
inline constexpr const char* kPidFile = "qemu.pid";
// The root disk's size at each snapshot (snapshot_sizes.hpp).
inline constexpr const char* kSnapshotDisks = "snapshot-disks.json";
// UEFI variables: raw in VMs made before snapshots (kUefiVars), qcow2 since
// (kUefiVarsQcow2), because every writable device must hold internal
// snapshots. The name says the format.
inline constexpr const char* kUefiVars = "OVMF_VARS.fd";
inline constexpr const char* kUefiVarsQcow2 = "OVMF_VARS.qcow2";
// Block node names on the command line, for QMP's snapshot commands. A node
// name may not equal a drive id (QEMU refuses "conflicts with an existing
// node name"), so the disk's node is not its drive id "disk0".
inline constexpr const char* kRootDiskNode = "root-disk";
inline constexpr const char* kUefiVarsNode = "uefi-vars";
inline constexpr const char* kConsoleSocket = "console.sock";
inline constexpr const char* kQmpSocket = "qmp.sock";
inline constexpr const char* kVncSocket = "vnc.sock";

inline std::filesystem::path pidfile(const std::filesystem::path& work_dir) { return work_dir / kPidFile; }
inline std::filesystem::path snapshot_disks(const std::filesystem::path& work_dir) {
  return work_dir / kSnapshotDisks;
}
inline std::filesystem::path qemu_log(const std::filesystem::path& work_dir) { return work_dir / kQemuLog; }
inline std::filesystem::path console_log(const std::filesystem::path& work_dir) { return work_dir / kConsoleLog; }
// VNC's socket sits beside the QMP socket, wherever socket_dir_for() put
// that, so records written before VNC moved off TCP find it too.
inline std::filesystem::path vnc_socket(const std::filesystem::path& qmp_socket) {
  return qmp_socket.parent_path() / kVncSocket;
}
// A data disk (VmHandle::data_disks): data-NAME.qcow2. Its block node name
// on the QEMU command line is "data-NAME" (what QMP's snapshot commands
// name), its drive id "drive-data-NAME": QEMU keeps drive ids and node
// names in one namespace and refuses a -drive whose id is its node-name.
inline std::filesystem::path data_disk(const std::filesystem::path& work_dir, const std::string& name) {
  return work_dir / ("data-" + name + ".qcow2");
}
inline std::string data_disk_node(const std::string& name) { return "data-" + name; }
inline std::string data_disk_drive(const std::string& name) { return "drive-data-" + name; }
inline std::filesystem::path uefi_vars(const std::filesystem::path& work_dir) { return work_dir / kUefiVars; }
inline std::filesystem::path uefi_vars_qcow2(const std::filesystem::path& work_dir) { return work_dir / kUefiVarsQcow2; }
// The VM's UEFI variables as it has them: qcow2, or raw in an older VM.
inline std::filesystem::path existing_uefi_vars(const std::filesystem::path& work_dir) {
  std::error_code ec;
  return std::filesystem::exists(uefi_vars_qcow2(work_dir), ec) ? uefi_vars_qcow2(work_dir) : uefi_vars(work_dir);
}

}  // namespace vm_manager::qemu::layout
