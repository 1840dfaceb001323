// vm_manager::Error: every failure a user can meet, with a stable code.
#pragma once

#include "vm_manager/export.hpp"

#include <stdexcept>
#include <string>
#include <string_view>

namespace vm_manager {

// Stable error codes. Scripts may match on them, so a code never changes
// meaning once released; new failures get new codes.
namespace errc {
inline constexpr std::string_view vm_not_found = "vm_manager::vm::not_found";
inline constexpr std::string_view vm_already_exists = "vm_manager::vm::already_exists";
inline constexpr std::string_view vm_invalid_name = "vm_manager::vm::invalid_name";
inline constexpr std::string_view vm_invalid_state = "vm_manager::vm::invalid_state";
inline constexpr std::string_view vm_locked = "vm_manager::vm::locked";
inline constexpr std::string_view vm_start_failed = "vm_manager::vm::start_failed";
inline constexpr std::string_view vm_stop_failed = "vm_manager::vm::stop_failed";
// A VM's log (console.log, qemu.log) is a symlink, not a regular file, or
// not the caller's: nothing is written through it.
inline constexpr std::string_view vm_unsafe_log = "vm_manager::vm::unsafe_log";
inline constexpr std::string_view spec_invalid = "vm_manager::spec::invalid";
inline constexpr std::string_view backend_not_available = "vm_manager::backend::not_available";
inline constexpr std::string_view backend_mismatch = "vm_manager::backend::mismatch";
inline constexpr std::string_view backend_unsupported = "vm_manager::backend::unsupported";
// A backend's host (a libvirt URI) did not answer within its deadline, or
// refused the connection; the message names it.
inline constexpr std::string_view backend_unreachable = "vm_manager::backend::unreachable";
// libvirt refused or failed a call; the message carries libvirt's own words.
inline constexpr std::string_view libvirt_failed = "vm_manager::libvirt::failed";
// A libvirt call or a wait on a domain passed its deadline.
inline constexpr std::string_view libvirt_timeout = "vm_manager::libvirt::timeout";
// The jump host SSH goes through (SshJumpHost) refused, could not be
// reached, or showed a host key that is not the pinned one.
inline constexpr std::string_view ssh_jump_failed = "vm_manager::ssh::jump_failed";
inline constexpr std::string_view store_io = "vm_manager::store::io";
inline constexpr std::string_view store_corrupt = "vm_manager::store::corrupt";
inline constexpr std::string_view store_unsupported_format = "vm_manager::store::unsupported_format";
inline constexpr std::string_view data_dir_invalid = "vm_manager::data_dir::invalid";
// The data dir (its root, vms/ or locks/) is not the caller's, is writable by
// others, or is a symlink where a folder must be.
inline constexpr std::string_view data_dir_not_private = "vm_manager::data_dir::not_private";
// A VM's lock file is a symlink, not a regular file, not the caller's, or
// hard-linked elsewhere; nothing was written to it.
inline constexpr std::string_view store_unsafe_lock = "vm_manager::store::unsafe_lock";
inline constexpr std::string_view process_spawn_failed = "vm_manager::process::spawn_failed";
inline constexpr std::string_view qmp_connect_failed = "vm_manager::qmp::connect_failed";
inline constexpr std::string_view qmp_timeout = "vm_manager::qmp::timeout";
inline constexpr std::string_view qmp_closed = "vm_manager::qmp::closed";
inline constexpr std::string_view qmp_protocol = "vm_manager::qmp::protocol";
inline constexpr std::string_view qmp_command_failed = "vm_manager::qmp::command_failed";
inline constexpr std::string_view seed_failed = "vm_manager::cloudinit::seed_failed";
inline constexpr std::string_view cloudinit_invalid_user = "vm_manager::cloudinit::invalid_user";
inline constexpr std::string_view cloudinit_invalid_user_data = "vm_manager::cloudinit::invalid_user_data";
inline constexpr std::string_view image_bad_source = "vm_manager::image::bad_source";
inline constexpr std::string_view image_bad_checksum = "vm_manager::image::bad_checksum";
inline constexpr std::string_view image_not_found = "vm_manager::image::not_found";
inline constexpr std::string_view image_download_failed = "vm_manager::image::download_failed";
inline constexpr std::string_view image_checksum_mismatch = "vm_manager::image::checksum_mismatch";
inline constexpr std::string_view image_decompress_failed = "vm_manager::image::decompress_failed";
inline constexpr std::string_view image_bad_image = "vm_manager::image::bad_image";
inline constexpr std::string_view image_locked = "vm_manager::image::locked";
inline constexpr std::string_view image_ambiguous = "vm_manager::image::ambiguous";
inline constexpr std::string_view image_in_use = "vm_manager::image::in_use";
inline constexpr std::string_view ssh_bad_key = "vm_manager::ssh::bad_key";
inline constexpr std::string_view ssh_keygen_failed = "vm_manager::ssh::keygen_failed";
inline constexpr std::string_view image_registry_failed = "vm_manager::image::registry_failed";
inline constexpr std::string_view image_registry_auth = "vm_manager::image::registry_auth";
inline constexpr std::string_view ssh_connect_failed = "vm_manager::ssh::connect_failed";
inline constexpr std::string_view ssh_timeout = "vm_manager::ssh::timeout";
inline constexpr std::string_view ssh_auth_failed = "vm_manager::ssh::auth_failed";
inline constexpr std::string_view ssh_host_key_mismatch = "vm_manager::ssh::host_key_mismatch";
inline constexpr std::string_view ssh_exec_failed = "vm_manager::ssh::exec_failed";
inline constexpr std::string_view ssh_sftp_failed = "vm_manager::ssh::sftp_failed";
inline constexpr std::string_view ssh_not_configured = "vm_manager::ssh::not_configured";
// `vmctl ssh` without a VM name, and the VMFile it looked in defines several.
inline constexpr std::string_view ssh_which_vm = "vm_manager::ssh::which_vm";
// Copying a folder tree (vmctl cp -r): the source is no folder; an entry
// the guest lists has a name that is no single path component ("..", "a/b");
// the destination holds something of another kind where an entry goes (a
// file where a folder goes, a folder where a file or symlink goes).
inline constexpr std::string_view cp_not_a_folder = "vm_manager::cp::not_a_folder";
inline constexpr std::string_view cp_unsafe_name = "vm_manager::cp::unsafe_name";
inline constexpr std::string_view cp_in_the_way = "vm_manager::cp::in_the_way";
inline constexpr std::string_view provision_failed = "vm_manager::provision::failed";
// A VM that was never provisioned has no provision.log to show.
inline constexpr std::string_view provision_no_log = "vm_manager::provision::no_log";
inline constexpr std::string_view vmfile_syntax = "vm_manager::vmfile::syntax";
inline constexpr std::string_view vmfile_invalid = "vm_manager::vmfile::invalid";
inline constexpr std::string_view vmfile_not_found = "vm_manager::vmfile::not_found";
inline constexpr std::string_view vmfile_apply_failed = "vm_manager::vmfile::apply_failed";
inline constexpr std::string_view console_websocket_failed = "vm_manager::console::websocket_failed";
inline constexpr std::string_view console_unavailable = "vm_manager::console::unavailable";
inline constexpr std::string_view console_no_log = "vm_manager::console::no_log";
inline constexpr std::string_view propolis_tool_failed = "vm_manager::propolis::tool_failed";
inline constexpr std::string_view propolis_request_failed = "vm_manager::propolis::request_failed";
inline constexpr std::string_view propolis_unreachable = "vm_manager::propolis::unreachable";
inline constexpr std::string_view propolis_conflict = "vm_manager::propolis::conflict";
inline constexpr std::string_view propolis_no_instance = "vm_manager::propolis::no_instance";
inline constexpr std::string_view propolis_too_large = "vm_manager::propolis::too_large";
inline constexpr std::string_view propolis_timeout = "vm_manager::propolis::timeout";
// propolis-server refused the API version vmctl speaks (newer than the
// server's) or did not see it; the message names both what vmctl sent and
// what the server said.
inline constexpr std::string_view propolis_version_mismatch = "vm_manager::propolis::version_mismatch";
inline constexpr std::string_view net_unavailable = "vm_manager::net::unavailable";
// A file the user names (user-data, a key, a VMFile) that cannot be taken in:
// missing, not a regular file (a FIFO, a device, a folder), larger than its
// limit, or unreadable.
inline constexpr std::string_view input_not_found = "vm_manager::input::not_found";
inline constexpr std::string_view input_not_regular = "vm_manager::input::not_regular";
inline constexpr std::string_view input_too_large = "vm_manager::input::too_large";
inline constexpr std::string_view input_unreadable = "vm_manager::input::unreadable";
// A raw disk image with nothing recognisable in it (no partition table,
// filesystem or boot sector), or smaller than one sector.
inline constexpr std::string_view image_unrecognised_raw = "vm_manager::image::unrecognised_raw";
// A library that is loaded when first used cannot be loaded (not installed).
inline constexpr std::string_view ssh_unavailable = "vm_manager::ssh::unavailable";
inline constexpr std::string_view seed_unavailable = "vm_manager::cloudinit::unavailable";
inline constexpr std::string_view image_unavailable = "vm_manager::image::unavailable";
// Published ports (VmSpec::port_forwards): a forward that is malformed or
// clashes with another of the VM's; a host port something else holds; a VM
// or backend that cannot forward ports (only user networking can); a forward
// to remove that the VM does not have.
inline constexpr std::string_view port_invalid = "vm_manager::port::invalid";
inline constexpr std::string_view port_in_use = "vm_manager::port::in_use";
inline constexpr std::string_view port_unsupported = "vm_manager::port::unsupported";
inline constexpr std::string_view port_not_found = "vm_manager::port::not_found";
// Shared folders (VmSpec::shared_folders). A host path that is missing, not
// a folder or not absolute; a guest path that is not absolute, is "/", holds
// whitespace or control characters, or is given twice.
inline constexpr std::string_view mount_host_dir_missing = "vm_manager::mount::host_dir_missing";
inline constexpr std::string_view mount_not_a_directory = "vm_manager::mount::not_a_directory";
inline constexpr std::string_view mount_invalid_path = "vm_manager::mount::invalid_path";
// virtiofsd (which serves a folder to the guest) is not installed, cannot run
// as this user, or failed to start.
inline constexpr std::string_view mount_virtiofsd_unavailable = "vm_manager::mount::virtiofsd_unavailable";
inline constexpr std::string_view mount_needs_root = "vm_manager::mount::needs_root";
inline constexpr std::string_view mount_virtiofsd_failed = "vm_manager::mount::virtiofsd_failed";
// Snapshots (Hypervisor::create_snapshot…): the backend cannot snapshot (or
// not this way); a name that breaks the VM-name rules; no snapshot of that
// name, or one already; something of the VM that cannot be saved (a device
// that holds no internal snapshot, a shared folder for a RAM snapshot); a
// snapshot without RAM restored into a running VM; a disk that no longer
// rests on the base image recorded at create; the backend failed at it.
inline constexpr std::string_view snapshot_unsupported = "vm_manager::snapshot::unsupported";
inline constexpr std::string_view snapshot_invalid_name = "vm_manager::snapshot::invalid_name";
inline constexpr std::string_view snapshot_not_found = "vm_manager::snapshot::not_found";
inline constexpr std::string_view snapshot_already_exists = "vm_manager::snapshot::already_exists";
inline constexpr std::string_view snapshot_blocked = "vm_manager::snapshot::blocked";
inline constexpr std::string_view snapshot_needs_stopped = "vm_manager::snapshot::needs_stopped";
inline constexpr std::string_view snapshot_backing_changed = "vm_manager::snapshot::backing_changed";
inline constexpr std::string_view snapshot_failed = "vm_manager::snapshot::failed";
// Resizing a VM in place (VmManager::resize): it runs, or its disk would
// shrink; the backend's tool failed to grow the disk.
inline constexpr std::string_view resize_running = "vm_manager::resize::running";
inline constexpr std::string_view resize_shrink = "vm_manager::resize::shrink";
inline constexpr std::string_view resize_failed = "vm_manager::resize::failed";
}  // namespace errc

// A failure with a stable code, a one-line message and a hint that tells the
// user what to do next. what() returns the message.
class VM_MANAGER_API Error : public std::runtime_error {
 public:
  Error(std::string_view code, std::string message, std::string help = {});

  const std::string& code() const noexcept { return code_; }
  const std::string& message() const noexcept { return message_; }
  const std::string& help() const noexcept { return help_; }
  // More lines for a person reading a terminal, printed after the help: the
  // offending line of a file with a caret, further problems. Empty for most
  // errors; never part of message(), which stays one line. Ends in '\n'.
  virtual std::string details() const { return {}; }

 private:
  std::string code_;
  std::string message_;
  std::string help_;
};

}  // namespace vm_manager
