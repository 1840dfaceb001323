// Where vmctl keeps its VMs. One place knows the layout:
//   <root>/vms/<name>/        a VM's work dir (0700), with vm.json
//   <root>/locks/<name>.lock  the VM's lock
#pragma once

#include "vm_manager/export.hpp"

#include <filesystem>
#include <optional>
#include <string_view>

#include "vm_manager/environment.hpp"

namespace vm_manager {

class VM_MANAGER_API DataDir {
 public:
  explicit DataDir(std::filesystem::path root);

  // `flag` (vmctl's --data-dir), else VMCTL_DATA_DIR, else
  // XDG_DATA_HOME/vmctl, else HOME/.local/share/vmctl, from `environment`. The
  // result is absolute. Raises data_dir::invalid when none can be determined.
  static DataDir resolve(const std::optional<std::filesystem::path>& flag, const Environment& environment);

  const std::filesystem::path& root() const { return root_; }
  std::filesystem::path vms_dir() const { return root_ / "vms"; }
  std::filesystem::path locks_dir() const { return root_ / "locks"; }
  // The name must be valid (see names.hpp); raises vm::invalid_name otherwise.
  std::filesystem::path vm_dir(std::string_view name) const;
  std::filesystem::path vm_file(std::string_view name) const;
  std::filesystem::path lock_file(std::string_view name) const;

  // Creates root, vms/ and locks/ with mode 0700 where missing.
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
};

}  // namespace vm_manager
