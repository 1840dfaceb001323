#include "vm_manager/data_dir.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include <fmt/format.h>

#include "os/unique_fd.hpp"
#include "vm_manager/error.hpp"
#include "vm_manager/names.hpp"

namespace vm_manager {
namespace fs = std::filesystem;
namespace {

// Makes a folder 0700 whatever the umask; false when something is already
// there (check_private() judges what).
bool make_private_dir(const fs::path& dir) {
  if (::mkdir(dir.c_str(), 0700) != 0) {
    if (errno == EEXIST) return false;
    throw Error(errc::data_dir_invalid, fmt::format("cannot create {}: {}", dir.string(), std::strerror(errno)),
                "check the permissions of its parent, or choose another data dir");
  }
  os::UniqueFd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (fd.get() < 0 || ::fchmod(fd.get(), 0700) != 0) {
    throw Error(errc::data_dir_invalid, fmt::format("cannot make {} private: {}", dir.string(), std::strerror(errno)),
                "check the permissions of its parent, or choose another data dir");
  }
  return true;
}

[[noreturn]] void not_private(const fs::path& dir, std::string_view why, std::string help) {
  throw Error(errc::data_dir_not_private, fmt::format("data dir folder {} {}", dir.string(), why), std::move(help));
}

enum class FollowOwnLink { yes, no };

// lstat()s a folder of the data dir; false when it is missing. A symlink is
// followed only as the root and only when it is the caller's: the path named
// is trusted, a link planted by someone else is not.
bool inspect(const fs::path& dir, struct stat& st, FollowOwnLink follow) {
  if (::lstat(dir.c_str(), &st) != 0) {
    if (errno == ENOENT) return false;
    throw Error(errc::data_dir_invalid, fmt::format("cannot inspect {}: {}", dir.string(), std::strerror(errno)),
                "check the permissions of its parent, or choose another data dir");
  }
  if (S_ISLNK(st.st_mode)) {
    if (follow == FollowOwnLink::no || st.st_uid != ::geteuid()) {
      not_private(dir, "is a symbolic link",
                  "replace the link with a real folder (move what it points to into its place)");
    }
    if (::stat(dir.c_str(), &st) != 0) return false;  // dangling: creating it fails with a clear error
  }
  if (!S_ISDIR(st.st_mode)) {
    throw Error(errc::data_dir_invalid, fmt::format("{} exists but is not a directory", dir.string()),
                "move it away or choose another data dir");
  }
  return true;
}

// Like OpenSSH's StrictModes: ours (or the trusted owner's), and writable by
// nobody else.
void require_private(const fs::path& dir, const struct stat& st, uid_t trusted_owner) {
  const uid_t me = ::geteuid();
  if (st.st_uid != me && st.st_uid != trusted_owner) {
    std::string help = me == 0 ? fmt::format("run as its owner (uid {}), or allow a foreign owner if you trust uid {} "
                                             "with what root does in it",
                                             st.st_uid, st.st_uid)
                               : fmt::format("run as its owner (uid {}), or choose a data dir of your own", st.st_uid);
    not_private(dir, fmt::format("is owned by uid {}, not by uid {}", st.st_uid, me), std::move(help));
  }
  const bool by_group = (st.st_mode & S_IWGRP) != 0;
  const bool by_others = (st.st_mode & S_IWOTH) != 0;
  if (by_group || by_others) {
    not_private(dir,
                fmt::format("is writable by {}", by_group && by_others ? "its group and others"
                                                 : by_group            ? "its group"
                                                                       : "others"),
                fmt::format("take away their write access: chmod go-w {}", dir.string()));
  }
}

}  // namespace

DataDir::DataDir(fs::path root, ForeignOwner foreign_owner)
    : root_(fs::absolute(std::move(root)).lexically_normal()), foreign_owner_(foreign_owner) {
  // lexically_normal keeps a trailing separator ("/a/b/"); drop it so that
  // path comparisons in owns() are exact.
  if (!root_.has_filename() && root_.has_parent_path() && root_ != root_.root_path()) {
    root_ = root_.parent_path();
  }
}

DataDir DataDir::resolve(const std::optional<fs::path>& flag, const Environment& environment,
                         ForeignOwner foreign_owner) {
  if (flag && !flag->empty()) return DataDir(*flag, foreign_owner);
  if (auto dir = environment.get("VMCTL_DATA_DIR")) return DataDir(*dir, foreign_owner);
  if (auto xdg = environment.get("XDG_DATA_HOME")) return DataDir(fs::path(*xdg) / "vmctl", foreign_owner);
  if (auto home = environment.get("HOME")) {
    return DataDir(fs::path(*home) / ".local" / "share" / "vmctl", foreign_owner);
  }
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

void DataDir::check_private() const {
  struct stat st {};
  if (!inspect(root_, st, FollowOwnLink::yes)) return;
  const uid_t trusted = foreign_owner_ == ForeignOwner::allow ? st.st_uid : ::geteuid();
  require_private(root_, st, trusted);
  for (const fs::path& dir : {vms_dir(), locks_dir()}) {
    if (inspect(dir, st, FollowOwnLink::no)) require_private(dir, st, trusted);
  }
}

void DataDir::ensure_exists() const {
  // The root may be several levels deep (~/.local/share/vmctl); parents get
  // the usual permissions, our own folders stay private.
  std::error_code ec;
  fs::create_directories(root_.parent_path(), ec);
  make_private_dir(root_);
  check_private();  // before anything is made inside it
  make_private_dir(vms_dir());
  make_private_dir(locks_dir());
  check_private();
}

fs::path DataDir::create_vm_dir(std::string_view name) const {
  ensure_exists();
  fs::path dir = vm_dir(name);
  if (!make_private_dir(dir)) {
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
