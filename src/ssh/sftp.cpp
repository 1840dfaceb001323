#include "ssh/sftp.hpp"

#include <algorithm>
#include <cstring>

#include <fmt/format.h>

#include "ssh/libssh_ptr.hpp"
#include "vm_manager/error.hpp"

namespace vm_manager::ssh::detail {
namespace {

struct SftpFree {
  void operator()(sftp_session sftp) const { libssh().sftp_free(sftp); }
};
using SftpPtr = std::unique_ptr<std::remove_pointer_t<sftp_session>, SftpFree>;
struct DirClose {
  void operator()(sftp_dir dir) const { libssh().sftp_closedir(dir); }
};
using DirPtr = std::unique_ptr<std::remove_pointer_t<sftp_dir>, DirClose>;

const char* sftp_reason(int code) {
  switch (code) {
    case SSH_FX_EOF: return "unexpected end of file";
    case SSH_FX_NO_SUCH_FILE: return "no such file or directory";
    case SSH_FX_PERMISSION_DENIED: return "permission denied";
    case SSH_FX_FAILURE: return "the server reported a failure";
    case SSH_FX_BAD_MESSAGE: return "bad message";
    case SSH_FX_NO_CONNECTION: return "no connection";
    case SSH_FX_CONNECTION_LOST: return "connection lost";
    case SSH_FX_OP_UNSUPPORTED: return "operation not supported";
    case SSH_FX_FILE_ALREADY_EXISTS: return "file already exists";
    case SSH_FX_WRITE_PROTECT: return "write-protected";
    case SSH_FX_NO_MEDIA: return "no media";
    default: return nullptr;
  }
}

}  // namespace

Sftp::Sftp(SessionState& impl) : impl_(impl) {
  if (impl.sftp == nullptr) {
    SftpPtr fresh(libssh().sftp_new(impl.session));
    sftp_ = fresh.get();
    if (!fresh || libssh().sftp_init(sftp_) != SSH_OK) fail("starting SFTP", "");
    impl.sftp = fresh.release();
  }
  sftp_ = impl.sftp;
}

void Sftp::fail(std::string_view what, std::string_view path) const {
  const int code = sftp_ != nullptr ? libssh().sftp_get_error(sftp_) : SSH_FX_OK;
  const char* reason = sftp_reason(code);
  const std::string why = reason != nullptr ? std::string(reason) : last_error(impl_.session);
  throw Error(errc::ssh_sftp_failed,
              path.empty() ? fmt::format("{} on {} failed: {}", what, impl_.where(), why)
                           : fmt::format("{} {} on {} failed: {}", what, path, impl_.where(), why),
              "check the remote path and its permissions, and that the guest runs an SFTP server "
              "(OpenSSH: Subsystem sftp)");
}

void Sftp::make_parents(const std::string& path) {
  const auto slash = path.rfind('/');
  if (slash == std::string::npos || slash == 0) return;
  const std::string parent = path.substr(0, slash);
  for (std::size_t end = parent.find('/', 1);; end = parent.find('/', end + 1)) {
    make_dir_p(parent.substr(0, end));
    if (end == std::string::npos) break;
  }
}

void Sftp::make_dir_p(const std::string& path) {
  if (path.empty()) return;
  SftpAttributesPtr existing(libssh().sftp_stat(sftp_, path.c_str()));
  if (existing) {
    if (existing->type != SSH_FILEXFER_TYPE_DIRECTORY) {
      throw Error(errc::ssh_sftp_failed,
                  fmt::format("cannot create folder {} on {}: a file is in the way", path, impl_.where()),
                  "choose a destination whose parent folders are folders");
    }
    return;
  }
  // Another writer may have created it meanwhile; only a failed re-check counts.
  if (libssh().sftp_mkdir(sftp_, path.c_str(), 0755) != 0) {
    SftpAttributesPtr again(libssh().sftp_stat(sftp_, path.c_str()));
    if (!again || again->type != SSH_FILEXFER_TYPE_DIRECTORY) fail("creating folder", path);
  }
}

SftpFilePtr Sftp::open(const std::string& path, int flags, mode_t mode) {
  SftpFilePtr file(libssh().sftp_open(sftp_, path.c_str(), flags, mode));
  if (!file) fail("opening", path);
  return file;
}

void Sftp::chmod(const std::string& path, mode_t mode) {
  if (libssh().sftp_chmod(sftp_, path.c_str(), mode) != 0) fail("setting the mode of", path);
}

mode_t Sftp::mode_of(sftp_file file, const std::string& path) {
  SftpAttributesPtr attributes(libssh().sftp_fstat(file));
  if (!attributes) fail("reading the attributes of", path);
  return static_cast<mode_t>(attributes->permissions & 07777);
}

void Sftp::write(sftp_file file, std::string_view data, const std::string& path) {
  for (std::size_t done = 0; done < data.size();) {
    const ssize_t wrote = libssh().sftp_write(file, data.data() + done, data.size() - done);
    if (wrote <= 0) fail("writing", path);
    done += static_cast<std::size_t>(wrote);
  }
}

void Sftp::close(SftpFilePtr file, const std::string& path) {
  if (libssh().sftp_close(file.release()) != SSH_NO_ERROR) fail("closing", path);
}

SftpAttributesPtr Sftp::stat(const std::string& path) {
  SftpAttributesPtr attributes(libssh().sftp_stat(sftp_, path.c_str()));
  if (!attributes && libssh().sftp_get_error(sftp_) != SSH_FX_NO_SUCH_FILE) fail("reading the attributes of", path);
  return attributes;
}

SftpAttributesPtr Sftp::lstat(const std::string& path) {
  SftpAttributesPtr attributes(libssh().sftp_lstat(sftp_, path.c_str()));
  if (!attributes && libssh().sftp_get_error(sftp_) != SSH_FX_NO_SUCH_FILE) fail("reading the attributes of", path);
  return attributes;
}

bool Sftp::make_dir(const std::string& path, mode_t mode) {
  if (libssh().sftp_mkdir(sftp_, path.c_str(), mode) == 0) return true;
  // SFTP version 3 reports an existing entry as a plain failure.
  if (lstat(path)) return false;
  fail("creating folder", path);
}

void Sftp::unlink(const std::string& path) {
  if (libssh().sftp_unlink(sftp_, path.c_str()) != 0) fail("removing", path);
}

std::string Sftp::read_link(const std::string& path) {
  CharPtr target(libssh().sftp_readlink(sftp_, path.c_str()));
  if (!target) fail("reading the symlink", path);
  return target.get();
}

// draft-ietf-secsh-filexfer-02 sends SSH_FXP_SYMLINK's link path first;
// OpenSSH's sftp-server has always read the target first (OpenSSH's
// PROTOCOL, "sftp: Reversal of arguments to SSH_FXP_SYMLINK"). libssh swaps
// them only when the SSH server's banner says OpenSSH, which misses
// OpenSSH's sftp-server behind another server: the tiny guest's Dropbear
// runs it, and the link would be made at the target's path. The server's
// own SFTP extensions tell which sftp-server answers.
bool Sftp::symlink_arguments_reversed() {
  const bool openssh_sftp_server = libssh().sftp_extension_supported(sftp_, "posix-rename@openssh.com", "1") != 0;
  const bool libssh_swaps = libssh().ssh_get_openssh_version(impl_.session) != 0;
  return openssh_sftp_server && !libssh_swaps;
}

void Sftp::make_symlink(const std::string& target, const std::string& link) {
  // libssh's sftp_symlink(sftp, target, dest) sends dest first unless it swaps.
  const int rc = symlink_arguments_reversed() ? libssh().sftp_symlink(sftp_, link.c_str(), target.c_str())
                                              : libssh().sftp_symlink(sftp_, target.c_str(), link.c_str());
  if (rc != 0) fail("creating the symlink", link);
}

std::vector<RemoteEntry> Sftp::list(const std::string& path) {
  DirPtr dir(libssh().sftp_opendir(sftp_, path.c_str()));
  if (!dir) fail("listing", path);
  std::vector<RemoteEntry> entries;
  while (true) {
    SftpAttributesPtr entry(libssh().sftp_readdir(sftp_, dir.get()));
    if (!entry) break;
    const std::string name = entry->name != nullptr ? entry->name : "";
    if (name == "." || name == "..") continue;
    entries.push_back({name, entry->type, static_cast<mode_t>(entry->permissions & 07777)});
  }
  if (libssh().sftp_dir_eof(dir.get()) == 0) fail("listing", path);
  std::sort(entries.begin(), entries.end(),
            [](const RemoteEntry& a, const RemoteEntry& b) { return a.name < b.name; });
  return entries;
}

void local_failed(std::string_view what, const std::filesystem::path& path, int error) {
  throw Error(errc::ssh_sftp_failed, fmt::format("{} {} failed: {}", what, path.string(), std::strerror(error)),
              "check the local path and its permissions");
}

std::string remote_join(const std::string& folder, const std::string& name) {
  if (folder.empty()) return name;
  return folder.back() == '/' ? folder + name : folder + "/" + name;
}

}  // namespace vm_manager::ssh::detail
