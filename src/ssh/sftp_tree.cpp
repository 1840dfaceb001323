// Session::upload_folder and download_folder: folder trees over SFTP, modes
// kept, symlinks copied as symlinks and never followed. The local side is
// walked through folder fds (openat with O_NOFOLLOW), so a symlink in the
// tree, or one put in the destination, never redirects a read or a write.
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <utility>

#include <fmt/format.h>

#include "os/unique_fd.hpp"
#include "ssh/sftp.hpp"
#include "vm_manager/error.hpp"

namespace vm_manager::ssh {
namespace fs = std::filesystem;
using detail::local_failed;
using detail::remote_join;
using detail::Sftp;

namespace {

// The last component of a path as the user wrote it, as `cp -r` names the copy.
std::string base_name(std::string path) {
  while (path.size() > 1 && path.back() == '/') path.pop_back();
  const auto slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

// "." (and "..", "/") name no folder of their own: their content fills the destination.
bool names_a_copy(const std::string& name) { return !name.empty() && name != "." && name != ".." && name != "/"; }

std::string child(const std::string& relative, const std::string& name) {
  return relative.empty() ? name : relative + "/" + name;
}

[[noreturn]] void in_the_way(std::string_view where, std::string_view what) {
  throw Error(errc::cp_in_the_way, fmt::format("cannot copy to {}: {} is in the way", where, what),
              "remove it, or copy to another destination");
}

[[noreturn]] void not_a_folder(std::string_view where) {
  throw Error(errc::cp_not_a_folder, fmt::format("{} is not a folder", where),
              "name a folder to copy a tree; a single file is copied on its own");
}

// The names in the local folder `dir`, sorted (without "." and "..").
std::vector<std::string> local_names(int dir, const fs::path& path) {
  const int copy = ::fcntl(dir, F_DUPFD_CLOEXEC, 0);
  if (copy < 0) local_failed("listing", path, errno);
  DIR* stream = ::fdopendir(copy);
  if (stream == nullptr) {
    const int error = errno;
    ::close(copy);
    local_failed("listing", path, error);
  }
  std::vector<std::string> names;
  errno = 0;
  while (const dirent* entry = ::readdir(stream)) {
    const std::string name = entry->d_name;
    if (name != "." && name != "..") names.push_back(name);
  }
  const int error = errno;
  ::closedir(stream);
  if (error != 0) local_failed("listing", path, error);
  std::sort(names.begin(), names.end());
  return names;
}

std::string read_local_link(int dir, const std::string& name, const fs::path& path) {
  std::string target(256, '\0');
  while (true) {
    const ssize_t size = ::readlinkat(dir, name.c_str(), target.data(), target.size());
    if (size < 0) local_failed("reading the symlink", path, errno);
    if (static_cast<std::size_t>(size) < target.size()) {
      target.resize(static_cast<std::size_t>(size));
      return target;
    }
    target.resize(target.size() * 2);
  }
}

class Uploader {
 public:
  Uploader(Sftp& sftp, FolderCopy& result) : sftp_(sftp), result_(result) {}

  // Makes the remote folder (0700 while it fills; its mode comes last).
  // Returns true when it was made now, so nothing in it can be in the way.
  bool prepare_folder(const std::string& remote) {
    ++result_.folders;
    if (sftp_.make_dir(remote, 0700)) return true;
    detail::SftpAttributesPtr existing = sftp_.lstat(remote);
    if (existing && existing->type == SSH_FILEXFER_TYPE_DIRECTORY) return false;
    in_the_way(remote, "a file or symlink");
  }

  // Copies what the local folder `dir` holds into `remote`, a folder that
  // exists (`fresh`: made by this copy, so empty).
  void copy_folder(int dir, const fs::path& local, const std::string& relative, const std::string& remote,
                   bool fresh) {
    for (const std::string& name : local_names(dir, local)) {
      const fs::path path = local / name;
      const std::string target = remote_join(remote, name);
      struct stat st {};
      if (::fstatat(dir, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
        local_failed("reading the attributes of", path, errno);
      }
      const mode_t mode = st.st_mode & 07777;
      if (S_ISDIR(st.st_mode)) {
        os::UniqueFd sub(::openat(dir, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
        if (sub.get() < 0) local_failed("opening", path, errno);
        const bool made = prepare_folder(target);
        copy_folder(sub.get(), path, child(relative, name), target, made);
        sftp_.chmod(target, mode);
      } else if (S_ISREG(st.st_mode)) {
        if (!fresh) clear_way(target);
        os::UniqueFd in(::openat(dir, name.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
        if (in.get() < 0) local_failed("opening", path, errno);
        detail::send_file(sftp_, in.get(), path, target, mode);
        ++result_.files;
      } else if (S_ISLNK(st.st_mode)) {
        const std::string link_target = read_local_link(dir, name, path);
        if (!fresh) clear_way(target);
        sftp_.make_symlink(link_target, target);
        ++result_.symlinks;
      } else {
        result_.skipped.push_back(child(relative, name));
      }
    }
  }

 private:
  // An existing file or symlink where a file or symlink goes is removed
  // first: open() would write through a symlink. A folder stays, as an error.
  void clear_way(const std::string& remote) {
    detail::SftpAttributesPtr existing = sftp_.lstat(remote);
    if (!existing) return;
    if (existing->type == SSH_FILEXFER_TYPE_DIRECTORY) in_the_way(remote, "a folder");
    sftp_.unlink(remote);
  }

  Sftp& sftp_;
  FolderCopy& result_;
};

class Downloader {
 public:
  Downloader(Sftp& sftp, FolderCopy& result) : sftp_(sftp), result_(result) {}

  // Makes (or opens) the local folder `name` in `parent`, never through a
  // symlink. Returns its fd, and true when it was made now.
  std::pair<os::UniqueFd, bool> prepare_folder(int parent, const std::string& name, const fs::path& path) {
    ++result_.folders;
    const bool made = ::mkdirat(parent, name.c_str(), 0700) == 0;
    if (!made && errno != EEXIST) local_failed("creating folder", path, errno);
    os::UniqueFd fd(::openat(parent, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (fd.get() < 0) {
      if (errno == ENOTDIR || errno == ELOOP) in_the_way(path.string(), "a file or symlink");
      local_failed("opening", path, errno);
    }
    return {std::move(fd), made};
  }

  void copy_folder(const std::string& remote, int dir, const fs::path& local, const std::string& relative) {
    for (const detail::RemoteEntry& entry : sftp_.list(remote)) {
      check_name(entry.name, remote);
      const std::string source = remote_join(remote, entry.name);
      const fs::path path = local / entry.name;
      switch (entry.type) {
        case SSH_FILEXFER_TYPE_DIRECTORY: {
          auto [sub, made] = prepare_folder(dir, entry.name, path);
          (void)made;
          copy_folder(source, sub.get(), path, child(relative, entry.name));
          if (::fchmod(sub.get(), entry.mode) != 0) local_failed("setting the mode of", path, errno);
          break;
        }
        case SSH_FILEXFER_TYPE_REGULAR: copy_file(source, dir, entry, path); break;
        case SSH_FILEXFER_TYPE_SYMLINK: {
          const std::string target = sftp_.read_link(source);
          clear_way(dir, entry.name, path);
          if (::symlinkat(target.c_str(), dir, entry.name.c_str()) != 0) local_failed("creating the symlink", path, errno);
          ++result_.symlinks;
          break;
        }
        default: result_.skipped.push_back(child(relative, entry.name));
      }
    }
  }

 private:
  // A name from the guest becomes a path on the host: it must be one
  // component, or a hostile guest could write outside the destination.
  void check_name(const std::string& name, const std::string& remote) const {
    if (!name.empty() && name != "." && name != ".." && name.find('/') == std::string::npos &&
        name.find('\0') == std::string::npos) {
      return;
    }
    throw Error(errc::cp_unsafe_name, fmt::format("the guest lists an entry named '{}' in {}", name, remote),
                "a folder entry's name must be a single path component; the copy stopped before writing it");
  }

  void copy_file(const std::string& source, int dir, const detail::RemoteEntry& entry, const fs::path& path) {
    detail::SftpFilePtr file = sftp_.open(source, O_RDONLY, 0);
    clear_way(dir, entry.name, path);
    // O_NOFOLLOW: a symlink put there since is refused, not written through.
    os::UniqueFd out(::openat(dir, entry.name.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600));
    if (out.get() < 0) local_failed("creating", path, errno);
    detail::receive_file(sftp_, file.get(), source, out.get(), path);
    if (::fchmod(out.get(), entry.mode) != 0) local_failed("setting the mode of", path, errno);
    if (::close(out.release()) != 0) local_failed("writing", path, errno);
    ++result_.files;
  }

  // Whatever is at `name` other than a regular file (a symlink, a FIFO) is
  // removed so that it is replaced, not followed; a folder is in the way.
  void clear_way(int dir, const std::string& name, const fs::path& path) {
    struct stat st {};
    if (::fstatat(dir, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
      if (errno == ENOENT) return;
      local_failed("reading the attributes of", path, errno);
    }
    if (S_ISDIR(st.st_mode)) in_the_way(path.string(), "a folder");
    if (::unlinkat(dir, name.c_str(), 0) != 0) local_failed("removing", path, errno);
  }

  Sftp& sftp_;
  FolderCopy& result_;
};

std::string without_trailing_slashes(std::string path) {
  while (path.size() > 1 && path.back() == '/') path.pop_back();
  return path;
}

}  // namespace

FolderCopy Session::upload_folder(const fs::path& local, const std::string& remote) {
  // The folder the user names is followed if it is a symlink; nothing below it is.
  os::UniqueFd root(::open(local.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (root.get() < 0) {
    if (errno == ENOTDIR) not_a_folder(local.string());
    local_failed("opening", local, errno);
  }
  struct stat st {};
  if (::fstat(root.get(), &st) != 0) local_failed("reading the attributes of", local, errno);

  Sftp sftp(*impl_);
  FolderCopy result;
  Uploader uploader(sftp, result);
  const std::string name = base_name(local.string());
  std::string destination = without_trailing_slashes(remote);
  bool fresh = false;
  detail::SftpAttributesPtr existing = sftp.stat(destination);  // a symlink to a folder counts as the folder
  if (existing && existing->type != SSH_FILEXFER_TYPE_DIRECTORY) in_the_way(destination, "a file");
  if (existing && !names_a_copy(name)) {
    ++result.folders;
  } else {
    if (existing) destination = remote_join(destination, name);
    else sftp.make_parents(destination);
    fresh = uploader.prepare_folder(destination);
  }
  uploader.copy_folder(root.get(), local, "", destination, fresh);
  sftp.chmod(destination, st.st_mode & 07777);
  result.destination = destination;
  return result;
}

FolderCopy Session::download_folder(const std::string& remote, const fs::path& local) {
  Sftp sftp(*impl_);
  detail::SftpAttributesPtr root = sftp.stat(remote);
  if (!root) sftp.fail("reading the attributes of", remote);
  if (root->type != SSH_FILEXFER_TYPE_DIRECTORY) not_a_folder(remote);
  const auto root_mode = static_cast<mode_t>(root->permissions & 07777);

  FolderCopy result;
  Downloader downloader(sftp, result);
  const std::string name = base_name(remote);
  fs::path destination = without_trailing_slashes(local.string());
  struct stat st {};
  const bool exists = ::stat(destination.c_str(), &st) == 0;
  if (!exists && errno != ENOENT) local_failed("reading the attributes of", destination, errno);
  if (exists && !S_ISDIR(st.st_mode)) in_the_way(destination.string(), "a file");

  os::UniqueFd folder;
  if (exists && !names_a_copy(name)) {
    ++result.folders;
    folder = os::UniqueFd(::open(destination.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (folder.get() < 0) local_failed("opening", destination, errno);
  } else {
    if (exists) destination /= name;
    fs::path parent = destination.parent_path();
    if (parent.empty()) parent = ".";
    std::error_code ec;
    fs::create_directories(parent, ec);
    if (ec) local_failed("creating folder", parent, ec.value());
    os::UniqueFd parent_fd(::open(parent.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (parent_fd.get() < 0) local_failed("opening", parent, errno);
    folder = downloader.prepare_folder(parent_fd.get(), destination.filename().string(), destination).first;
  }
  downloader.copy_folder(remote, folder.get(), destination, "");
  if (::fchmod(folder.get(), root_mode) != 0) local_failed("setting the mode of", destination, errno);
  result.destination = destination.string();
  return result;
}

}  // namespace vm_manager::ssh
