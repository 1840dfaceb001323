// How paths inside a VMFile become host paths: `~/` expands to the home
// folder, relative paths anchor at the VMFile's folder, and files the
// VMFile names must exist when it is read (so a typo is reported with its
// line and column, not later by whatever opens the file).
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

#include "vmfile/kdl.hpp"
#include "vmfile/vmfile_schema.hpp"

namespace vm_manager::vmfile {

class PathResolver {
 public:
  // base_dir: absolute folder of the VMFile. home: where `~` expands to
  // (nullopt: `~` paths are reported as problems).
  PathResolver(std::filesystem::path base_dir, std::optional<std::filesystem::path> home);

  // The absolute, lexically normalised path; problems (an empty path, `~`
  // without a home, `~user/…`) are reported at `at`.
  std::optional<std::filesystem::path> resolve(std::string_view raw, kdl::Position at, Problems& problems) const;

  // resolve(), and the result must exist and not be a folder. `what` names
  // the file in messages ("image", "ssh public key").
  std::optional<std::filesystem::path> existing_file(std::string_view raw, kdl::Position at, std::string_view what,
                                                     Problems& problems) const;

 private:
  std::filesystem::path base_dir_;
  std::optional<std::filesystem::path> home_;
};


}  // namespace vm_manager::vmfile
