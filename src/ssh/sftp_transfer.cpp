// Session::upload and Session::download over SFTP: one file each.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include "os/files.hpp"
#include "os/unique_fd.hpp"
#include "ssh/sftp.hpp"

namespace vm_manager::ssh {
namespace fs = std::filesystem;
using detail::local_failed;
using detail::Sftp;

namespace detail {
namespace {

// OpenSSH's sftp-server takes bigger packets, but 32 KiB is what every
// server must accept (draft-ietf-secsh-filexfer).
constexpr std::size_t kChunk = 32 * 1024;

}  // namespace

void send_file(Sftp& sftp, int fd, const fs::path& local, const std::string& remote, mode_t mode) {
  SftpFilePtr file = sftp.open(remote, O_WRONLY | O_CREAT | O_TRUNC, mode);
  char buffer[kChunk];
  while (true) {
    const ssize_t got = ::read(fd, buffer, sizeof buffer);
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) local_failed("reading", local, errno);
    if (got == 0) break;
    sftp.write(file.get(), std::string_view(buffer, static_cast<std::size_t>(got)), remote);
  }
  sftp.close(std::move(file), remote);
  sftp.chmod(remote, mode);
}

void receive_file(Sftp& sftp, sftp_file remote_file, const std::string& remote, int fd, const fs::path& local) {
  char buffer[kChunk];
  while (true) {
    const ssize_t got = libssh().sftp_read(remote_file, buffer, sizeof buffer);
    if (got < 0) sftp.fail("reading", remote);
    if (got == 0) break;
    const int error = os::write_fully(fd, std::string_view(buffer, static_cast<std::size_t>(got)));
    if (error != 0) local_failed("writing", local, error);
  }
}

}  // namespace detail

void Session::upload(const fs::path& local, const std::string& remote, const TransferOptions& options) {
  os::UniqueFd in(::open(local.c_str(), O_RDONLY | O_CLOEXEC));
  if (in.get() < 0) local_failed("opening", local, errno);
  struct stat st {};
  if (::fstat(in.get(), &st) != 0) local_failed("reading the attributes of", local, errno);
  const mode_t mode = options.mode.value_or(st.st_mode) & 07777;

  Sftp sftp(*impl_);
  if (options.create_parents) sftp.make_parents(remote);
  detail::send_file(sftp, in.get(), local, remote, mode);
}

void Session::download(const std::string& remote, const fs::path& local, const TransferOptions& options) {
  Sftp sftp(*impl_);
  detail::SftpFilePtr file = sftp.open(remote, O_RDONLY, 0);
  const mode_t mode = options.mode.value_or(sftp.mode_of(file.get(), remote)) & 07777;

  if (options.create_parents && local.has_parent_path()) {
    std::error_code ec;
    fs::create_directories(local.parent_path(), ec);
    if (ec) local_failed("creating folder", local.parent_path(), ec.value());
  }
  os::UniqueFd out(::open(local.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode));
  if (out.get() < 0) local_failed("creating", local, errno);
  detail::receive_file(sftp, file.get(), remote, out.get(), local);
  if (::fchmod(out.get(), mode) != 0) local_failed("setting the mode of", local, errno);
  if (::close(out.release()) != 0) local_failed("writing", local, errno);
}

}  // namespace vm_manager::ssh
