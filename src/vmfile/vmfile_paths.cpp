#include "vmfile/vmfile_paths.hpp"

#include <fmt/format.h>

#include <cstdlib>
#include <system_error>

#include "util/printable.hpp"

namespace vm_manager::vmfile {

namespace fs = std::filesystem;

PathResolver::PathResolver(fs::path base_dir, std::optional<fs::path> home)
    : base_dir_(std::move(base_dir)), home_(std::move(home)) {}

std::optional<fs::path> PathResolver::resolve(std::string_view raw, kdl::Position at, Problems& problems) const {
  if (raw.empty()) {
    problems.add(at, "empty path", "give a file path");
    return std::nullopt;
  }
  if (raw.find('\0') != std::string_view::npos) {
    problems.add(at, "path contains a NUL character", "give a file path");
    return std::nullopt;
  }
  fs::path expanded{std::string(raw)};
  if (raw.front() == '~') {
    if (raw != "~" && !raw.starts_with("~/")) {
      // Other users' homes (`~alice/…`) would need a password-database
      // lookup and make the VMFile depend on who reads it.
      problems.add(at, fmt::format("cannot expand '{}': only ~/ is supported", util::printable(raw)),
                   "write the full path");
      return std::nullopt;
    }
    if (!home_) {
      problems.add(at, fmt::format("cannot expand '{}': $HOME is not set", util::printable(raw)),
                   "set HOME or write the full path");
      return std::nullopt;
    }
    expanded = raw == "~" ? *home_ : *home_ / std::string(raw.substr(2));
  }
  fs::path absolute = expanded.is_absolute() ? expanded : base_dir_ / expanded;
  return absolute.lexically_normal();
}

std::optional<fs::path> PathResolver::existing_file(std::string_view raw, kdl::Position at, std::string_view what,
                                                    Problems& problems) const {
  std::optional<fs::path> path = resolve(raw, at, problems);
  if (!path) return std::nullopt;
  std::error_code error;
  fs::file_status status = fs::status(*path, error);
  if (!fs::exists(status)) {
    problems.add(at, fmt::format("{} {} does not exist", what, util::printable(path->string())),
                 "check the path; relative paths start at the VMFile's folder");
    return std::nullopt;
  }
  if (fs::is_directory(status)) {
    problems.add(at, fmt::format("{} {} is a folder, not a file", what, util::printable(path->string())),
                 "name a file");
    return std::nullopt;
  }
  return path;
}

}  // namespace vm_manager::vmfile
