// Session::upload and Session::download over SFTP.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>

#include <fmt/format.h>

#include "os/files.hpp"
#include "os/unique_fd.hpp"
#include "ssh/session_impl.hpp"
#include "vm_manager/error.hpp"

namespace vm_manager::ssh {
namespace fs = std::filesystem;
namespace {

// OpenSSH's sftp-server takes bigger packets, but 32 KiB is what every
// server must accept (draft-ietf-secsh-filexfer).
constexpr std::size_t kChunk = 32 * 1024;

struct SftpFree {
  void operator()(sftp_session sftp) const { libssh().sftp_free(sftp); }
};
using SftpPtr = std::unique_ptr<std::remove_pointer_t<sftp_session>, SftpFree>;
struct FileClose {
  void operator()(sftp_file file) const { libssh().sftp_close(file); }
};
using FilePtr = std::unique_ptr<std::remove_pointer_t<sftp_file>, FileClose>;
struct AttributesFree {
  void operator()(sftp_attributes attributes) const { libssh().sftp_attributes_free(attributes); }
};
using AttributesPtr = std::unique_ptr<std::remove_pointer_t<sftp_attributes>, AttributesFree>;

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

class Sftp {
 public:
  // One SFTP channel serves every transfer of the session, opened on first
  // use and closed with the session. Closing it after each transfer raced
  // the next command: libssh sends EOF and CLOSE at once, and Dropbear,
  // still tearing the channel down, dropped the whole connection when the
  // next channel was opened ("Socket error: disconnected").
  explicit Sftp(detail::SessionState& impl) : impl_(impl) {
    if (impl.sftp == nullptr) {
      SftpPtr fresh(libssh().sftp_new(impl.session));
      sftp_ = fresh.get();
      if (!fresh || libssh().sftp_init(sftp_) != SSH_OK) fail("starting SFTP", "");
      impl.sftp = fresh.release();
    }
    sftp_ = impl.sftp;
  }

  [[noreturn]] void fail(std::string_view what, std::string_view path) const {
    const int code = sftp_ != nullptr ? libssh().sftp_get_error(sftp_) : SSH_FX_OK;
    const char* reason = sftp_reason(code);
    const std::string why = reason != nullptr ? std::string(reason) : detail::last_error(impl_.session);
    throw Error(errc::ssh_sftp_failed,
                path.empty() ? fmt::format("{} on {} failed: {}", what, impl_.where(), why)
                             : fmt::format("{} {} on {} failed: {}", what, path, impl_.where(), why),
                "check the remote path and its permissions, and that the guest runs an SFTP server "
                "(OpenSSH: Subsystem sftp)");
  }

  // mkdir -p for the folder holding `path`.
  void make_parents(const std::string& path) {
    const auto slash = path.rfind('/');
    if (slash == std::string::npos || slash == 0) return;
    const std::string parent = path.substr(0, slash);
    for (std::size_t end = parent.find('/', 1);; end = parent.find('/', end + 1)) {
      const std::string prefix = parent.substr(0, end);
      make_dir(prefix);
      if (end == std::string::npos) break;
    }
  }

  FilePtr open(const std::string& path, int flags, mode_t mode) {
    FilePtr file(libssh().sftp_open(sftp_, path.c_str(), flags, mode));
    if (!file) fail("opening", path);
    return file;
  }

  void chmod(const std::string& path, mode_t mode) {
    if (libssh().sftp_chmod(sftp_, path.c_str(), mode) != 0) fail("setting the mode of", path);
  }

  mode_t mode_of(sftp_file file, const std::string& path) {
    AttributesPtr attributes(libssh().sftp_fstat(file));
    if (!attributes) fail("reading the attributes of", path);
    return static_cast<mode_t>(attributes->permissions & 07777);
  }

 private:
  void make_dir(const std::string& path) {
    if (path.empty()) return;
    AttributesPtr existing(libssh().sftp_stat(sftp_, path.c_str()));
    if (existing) {
      if (existing->type != SSH_FILEXFER_TYPE_DIRECTORY) {
        throw Error(errc::ssh_sftp_failed, fmt::format("cannot create folder {} on {}: a file is in the way", path,
                                                       impl_.where()),
                    "choose a destination whose parent folders are folders");
      }
      return;
    }
    // Another writer may have created it meanwhile; only a failed re-check counts.
    if (libssh().sftp_mkdir(sftp_, path.c_str(), 0755) != 0) {
      AttributesPtr again(libssh().sftp_stat(sftp_, path.c_str()));
      if (!again || again->type != SSH_FILEXFER_TYPE_DIRECTORY) fail("creating folder", path);
    }
  }

  detail::SessionState& impl_;
  sftp_session sftp_ = nullptr;  // owned by impl_ once started
};

[[noreturn]] void local_failed(std::string_view what, const fs::path& path, int error) {
  throw Error(errc::ssh_sftp_failed, fmt::format("{} {} failed: {}", what, path.string(), std::strerror(error)),
              "check the local path and its permissions");
}

}  // namespace

void Session::upload(const fs::path& local, const std::string& remote, const TransferOptions& options) {
  os::UniqueFd in(::open(local.c_str(), O_RDONLY | O_CLOEXEC));
  if (in.get() < 0) local_failed("opening", local, errno);
  struct stat st {};
  if (::fstat(in.get(), &st) != 0) local_failed("reading the attributes of", local, errno);
  const mode_t mode = options.mode.value_or(st.st_mode) & 07777;

  Sftp sftp(*impl_);
  if (options.create_parents) sftp.make_parents(remote);
  {
    FilePtr file = sftp.open(remote, O_WRONLY | O_CREAT | O_TRUNC, mode);
    char buffer[kChunk];
    while (true) {
      const ssize_t got = ::read(in.get(), buffer, sizeof buffer);
      if (got < 0 && errno == EINTR) continue;
      if (got < 0) local_failed("reading", local, errno);
      if (got == 0) break;
      // sftp_write may accept less than asked; the rest goes in the next call.
      for (std::size_t done = 0; done < static_cast<std::size_t>(got);) {
        const ssize_t wrote = libssh().sftp_write(file.get(), buffer + done, static_cast<std::size_t>(got) - done);
        if (wrote <= 0) sftp.fail("writing", remote);
        done += static_cast<std::size_t>(wrote);
      }
    }
    sftp_file raw = file.release();
    if (libssh().sftp_close(raw) != SSH_NO_ERROR) sftp.fail("closing", remote);
  }
  // Open's mode is filtered by the server's umask and ignored for an existing file.
  sftp.chmod(remote, mode);
}

void Session::download(const std::string& remote, const fs::path& local, const TransferOptions& options) {
  Sftp sftp(*impl_);
  FilePtr file = sftp.open(remote, O_RDONLY, 0);
  const mode_t mode = options.mode.value_or(sftp.mode_of(file.get(), remote)) & 07777;

  if (options.create_parents && local.has_parent_path()) {
    std::error_code ec;
    fs::create_directories(local.parent_path(), ec);
    if (ec) local_failed("creating folder", local.parent_path(), ec.value());
  }
  os::UniqueFd out(::open(local.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode));
  if (out.get() < 0) local_failed("creating", local, errno);
  char buffer[kChunk];
  while (true) {
    const ssize_t got = libssh().sftp_read(file.get(), buffer, sizeof buffer);
    if (got < 0) sftp.fail("reading", remote);
    if (got == 0) break;
    const int error = os::write_fully(out.get(), std::string_view(buffer, static_cast<std::size_t>(got)));
    if (error != 0) local_failed("writing", local, error);
  }
  if (::fchmod(out.get(), mode) != 0) local_failed("setting the mode of", local, errno);
  if (::close(out.release()) != 0) local_failed("writing", local, errno);
}

}  // namespace vm_manager::ssh
