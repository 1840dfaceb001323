// validate_shared_folders (spec_check.hpp): what a shared folder must be
// before a backend starts anything for it.
#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <set>

#include <fmt/format.h>

#include "util/printable.hpp"
#include "vm_manager/error.hpp"
#include "vm_manager/spec_check.hpp"

namespace vm_manager {
namespace {

[[noreturn]] void invalid_path(std::string message, std::string help) {
  throw Error(errc::mount_invalid_path, std::move(message), std::move(help));
}

void check_host_path(const std::string& path) {
  if (path.empty() || path.front() != '/') {
    invalid_path(fmt::format("shared folder {} is not an absolute path", util::printable(path)),
                 "give the host folder as an absolute path");
  }
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    int error = errno;
    throw Error(errc::mount_host_dir_missing,
                fmt::format("shared folder {} cannot be used: {}", util::printable(path), std::strerror(error)),
                "create the folder on the host first, or correct its path");
  }
  if (!S_ISDIR(st.st_mode)) {
    throw Error(errc::mount_not_a_directory, fmt::format("shared folder {} is not a folder", util::printable(path)),
                "share the folder that holds the file, not the file itself");
  }
}

// The guest path becomes a field of the guest's /etc/fstab (cloud-init's
// mounts), where whitespace separates fields.
void check_guest_path(const std::string& path) {
  bool plain = true;
  for (unsigned char c : path) {
    if (c <= ' ' || c == 0x7f) plain = false;
  }
  if (path.empty() || path.front() != '/' || !plain) {
    invalid_path(fmt::format("guest path {} is not an absolute path without spaces", util::printable(path)),
                 "give the folder in the guest as an absolute path, e.g. /srv/data");
  }
  if (std::filesystem::path(path).lexically_normal() == "/") {
    invalid_path("a shared folder cannot be mounted on the guest's root", "mount it on a folder, e.g. /srv/data");
  }
}

}  // namespace

void validate_shared_folders(const std::vector<SharedFolder>& folders) {
  std::set<std::string> guest_paths;
  for (const SharedFolder& folder : folders) {
    check_host_path(folder.host_path);
    check_guest_path(folder.guest_path);
    std::string normal = std::filesystem::path(folder.guest_path).lexically_normal().string();
    while (normal.size() > 1 && normal.back() == '/') normal.pop_back();
    if (!guest_paths.insert(normal).second) {
      invalid_path(fmt::format("two shared folders are mounted on {} in the guest", util::printable(normal)),
                   "give each shared folder its own guest path");
    }
  }
}

}  // namespace vm_manager
