// Where vmctl keeps its VMs. One place knows the layout:
//   <root>/vms/<name>/        a VM's work dir (0700), with vm.json
//   <root>/locks/<name>.lock  the VM's lock
//
// The data dir is private, like ~/.ssh: the root, vms/ and locks/ must be
// owned by the caller (the effective uid) and writable by nobody else, and
// vms/ and locks/ must be real folders, not symlinks. What is made here is
// made 0700 whatever the umask. A program running as root on a data dir that
// belongs to another user must say so (ForeignOwner::allow): that user can
// then change anything below the root while root works in it.
#pragma once

#include "vm_manager/export.hpp"

#include <filesystem>
#include <optional>
#include <string_view>

#include "vm_manager/environment.hpp"

namespace vm_manager {

// Whether a data dir owned by another user than the caller is used.
enum class ForeignOwner {
  refuse,  // the root, vms/ and locks/ must be the caller's
  // The root may be anyone's; vms/ and locks/ the caller's or the root's
  // owner's. Nothing may still be writable by group or others.
  allow,
};

class VM_MANAGER_API DataDir {
 public:
  explicit DataDir(std::filesystem::path root, ForeignOwner foreign_owner = ForeignOwner::refuse);

  // `flag` (vmctl's --data-dir), else VMCTL_DATA_DIR, else
  // XDG_DATA_HOME/vmctl, else HOME/.local/share/vmctl, from `environment`. The
  // result is absolute. Raises data_dir::invalid when none can be determined.
  static DataDir resolve(const std::optional<std::filesystem::path>& flag, const Environment& environment,
                         ForeignOwner foreign_owner = ForeignOwner::refuse);

  const std::filesystem::path& root() const { return root_; }
  std::filesystem::path vms_dir() const { return root_ / "vms"; }
  std::filesystem::path locks_dir() const { return root_ / "locks"; }
  // The name must be valid (see names.hpp); raises vm::invalid_name otherwise.
  std::filesystem::path vm_dir(std::string_view name) const;
  std::filesystem::path vm_file(std::string_view name) const;
  std::filesystem::path lock_file(std::string_view name) const;

  ForeignOwner foreign_owner() const { return foreign_owner_; }

  // Checks that those of the root, vms/ and locks/ that exist are private
  // (see above); a symlink as the root is followed only when it is the
  // caller's own. Raises data_dir::not_private, or data_dir::invalid for
  // something that is no folder.
  void check_private() const;

  // Creates root, vms/ and locks/ with mode 0700 where missing, then
  // check_private().
  void ensure_exists() const;
  // ensure_exists(), then creates the VM's folder (0700) and returns it. The
  // store clears abandoned folders before a backend's prepare, so a folder
  // already there belongs to a live VM: raises vm::already_exists.
  std::filesystem::path create_vm_dir(std::string_view name) const;

  // True when `path` lies inside vms/ (after resolving "..", not symlinks of
  // the last component); the guard before anything is removed.
  bool owns(const std::filesystem::path& path) const;

  // Removes `path` and everything below it, if owns(path); a symlink is
  // removed, never followed. Raises store::io for a path outside vms/ (nothing
  // outside the data dir is ever deleted) or when removal fails.
  void remove_inside(const std::filesystem::path& path) const;

 private:
  std::filesystem::path root_;
  ForeignOwner foreign_owner_ = ForeignOwner::refuse;
};

}  // namespace vm_manager
