#include "vm_manager/data_dir.hpp"

#include <sys/stat.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include <fmt/format.h>

#include "os/files.hpp"
#include "vm_manager/error.hpp"
#include "vm_manager/names.hpp"

namespace vm_manager {
namespace fs = std::filesystem;
namespace {

void make_private_dir(const fs::path& dir) {
  if (::mkdir(dir.c_str(), 0700) == 0 || errno == EEXIST) {
    if (!fs::is_directory(dir)) {
      throw Error(errc::data_dir_invalid, fmt::format("{} exists but is not a directory", dir.string()),
                  "move it away or choose another data dir");
    }
    return;
  }
  throw Error(errc::data_dir_invalid,
              fmt::format("cannot create {}: {}", dir.string(), std::strerror(errno)),
              "check the permissions of its parent, or choose another data dir");
}

}  // namespace

DataDir::DataDir(fs::path root) : root_(fs::absolute(std::move(root)).lexically_normal()) {
  // lexically_normal keeps a trailing separator ("/a/b/"); drop it so that
  // path comparisons in owns() are exact.
  if (!root_.has_filename() && root_.has_parent_path() && root_ != root_.root_path()) {
    root_ = root_.parent_path();
  }
}

DataDir DataDir::resolve(const std::optional<fs::path>& flag, const Environment& environment) {
  if (flag && !flag->empty()) return DataDir(*flag);
  if (auto dir = environment.get("VMCTL_DATA_DIR")) return DataDir(*dir);
  if (auto xdg = environment.get("XDG_DATA_HOME")) return DataDir(fs::path(*xdg) / "vmctl");
  if (auto home = environment.get("HOME")) return DataDir(fs::path(*home) / ".local" / "share" / "vmctl");
  throw Error(errc::data_dir_invalid, "cannot tell where to keep VMs: HOME is not set",
              "name the data dir explicitly, or set HOME");
}

fs::path DataDir::vm_dir(std::string_view name) const {
  validate_vm_name(name);
  return vms_dir() / std::string(name);
}

fs::path DataDir::vm_file(std::string_view name) const { return vm_dir(name) / "vm.json"; }

fs::path DataDir::lock_file(std::string_view name) const {
  validate_vm_name(name);
  return locks_dir() / (std::string(name) + ".lock");
}

void DataDir::ensure_exists() const {
  // The root may be several levels deep (~/.local/share/vmctl); parents get
  // the usual permissions, our own folders stay private.
  std::error_code ec;
  fs::create_directories(root_.parent_path(), ec);
  make_private_dir(root_);
  make_private_dir(vms_dir());
  make_private_dir(locks_dir());
}

fs::path DataDir::create_vm_dir(std::string_view name) const {
  ensure_exists();
  fs::path dir = vm_dir(name);
  if (!os::make_dir(dir)) {
    throw Error(errc::vm_already_exists, fmt::format("a VM named '{}' already exists", name), "choose another name");
  }
  return dir;
}

bool DataDir::owns(const fs::path& path) const {
  if (path.empty()) return false;
  std::error_code ec;
  fs::path abs = fs::absolute(path, ec);
  if (ec) return false;
  // Resolve symlinks and ".." the way the kernel will, except for a symlink
  // in the last component, which remove_inside removes without following.
  fs::path name = abs.filename();
  fs::path resolved = (name.empty() || name == "." || name == "..")
                          ? fs::weakly_canonical(abs, ec)
                          : fs::weakly_canonical(abs.parent_path(), ec) / name;
  if (ec) return false;
  fs::path vms = fs::weakly_canonical(vms_dir(), ec);
  if (ec) return false;
  fs::path relative = resolved.lexically_relative(vms);
  if (relative.empty() || relative == ".") return false;
  return *relative.begin() != "..";
}

void DataDir::remove_inside(const fs::path& path) const {
  if (!owns(path)) {
    throw Error(errc::store_io,
                fmt::format("refusing to remove {}: it is outside {}", path.string(), vms_dir().string()),
                "the VM does not belong to this data dir; use the data dir it is in");
  }
  std::error_code ec;
  fs::remove_all(path, ec);
  if (ec) {
    throw Error(errc::store_io, fmt::format("cannot remove {}: {}", path.string(), ec.message()),
                "check its permissions and remove it by hand");
  }
}

}  // namespace vm_manager
