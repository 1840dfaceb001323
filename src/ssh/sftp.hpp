// The SFTP channel behind Session's copies, with the operations the file and
// folder copies share. Internal to src/ssh/.
#pragma once

#include <sys/types.h>

#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "ssh/session_impl.hpp"

namespace vm_manager::ssh::detail {

struct SftpFileClose {
  void operator()(sftp_file file) const { libssh().sftp_close(file); }
};
using SftpFilePtr = std::unique_ptr<std::remove_pointer_t<sftp_file>, SftpFileClose>;
struct SftpAttributesFree {
  void operator()(sftp_attributes attributes) const { libssh().sftp_attributes_free(attributes); }
};
using SftpAttributesPtr = std::unique_ptr<std::remove_pointer_t<sftp_attributes>, SftpAttributesFree>;

// What a folder listing says of one entry (never "." or "..").
struct RemoteEntry {
  std::string name;
  std::uint8_t type = 0;  // SSH_FILEXFER_TYPE_*
  mode_t mode = 0;        // permission bits (07777)
};

class Sftp {
 public:
  // One SFTP channel serves every transfer of the session, opened on first
  // use and closed with the session. Closing it after each transfer raced
  // the next command: libssh sends EOF and CLOSE at once, and Dropbear,
  // still tearing the channel down, dropped the whole connection when the
  // next channel was opened ("Socket error: disconnected").
  explicit Sftp(SessionState& impl);

  // Raises ssh::sftp_failed for `what` on `path`, with SFTP's reason.
  [[noreturn]] void fail(std::string_view what, std::string_view path) const;

  // mkdir -p for the folder holding `path`.
  void make_parents(const std::string& path);

  SftpFilePtr open(const std::string& path, int flags, mode_t mode);
  void chmod(const std::string& path, mode_t mode);
  mode_t mode_of(sftp_file file, const std::string& path);
  // Writes all of `data` to `file` (sftp_write may take less than asked).
  void write(sftp_file file, std::string_view data, const std::string& path);
  // Closes the file, reporting a failed close (a write the server refused late).
  void close(SftpFilePtr file, const std::string& path);

  // The attributes of `path`, following a symlink (stat) or not (lstat);
  // null when nothing is there. Other failures raise.
  SftpAttributesPtr stat(const std::string& path);
  SftpAttributesPtr lstat(const std::string& path);

  // Creates one folder; false when something already is at `path`.
  bool make_dir(const std::string& path, mode_t mode);
  void unlink(const std::string& path);
  std::string read_link(const std::string& path);
  // Makes `link` a symlink whose content is `target`, exactly as given.
  void make_symlink(const std::string& target, const std::string& link);
  // The folder's entries, sorted by name.
  std::vector<RemoteEntry> list(const std::string& path);

 private:
  // Whether SSH_FXP_SYMLINK's two paths must go in OpenSSH's (reversed) order.
  bool symlink_arguments_reversed();
  void make_dir_p(const std::string& path);

  SessionState& impl_;
  sftp_session sftp_ = nullptr;  // owned by impl_ once started
};

// Writes the open local file `fd` (named `local` in messages) to `remote`,
// created or truncated, and gives it `mode` (open's mode is filtered by the
// server's umask and ignored for an existing file).
void send_file(Sftp& sftp, int fd, const std::filesystem::path& local, const std::string& remote, mode_t mode);
// Writes `remote`'s content, already open, to the open local file `fd`.
void receive_file(Sftp& sftp, sftp_file remote_file, const std::string& remote, int fd,
                  const std::filesystem::path& local);

// Raises ssh::sftp_failed for a local path, with errno's text.
[[noreturn]] void local_failed(std::string_view what, const std::filesystem::path& path, int error);

// "folder/name" for SFTP paths ("/" stays "/name").
std::string remote_join(const std::string& folder, const std::string& name);

}  // namespace vm_manager::ssh::detail
