// What Session's implementation files share: the libssh handle behind a
// Session and the error helpers. Internal to src/ssh/.
#pragma once

#include <libssh/libssh.h>
#include <libssh/sftp.h>

#include <string>
#include <string_view>

#include "ssh/session.hpp"

namespace vm_manager::ssh {

namespace detail {

// Session::Impl's content, under a name the implementation files' helpers
// may use (Session::Impl itself is private).
struct SessionState {
  Target target;
  ConnectOptions options;
  ssh_session session = nullptr;
  sftp_session sftp = nullptr;  // started by the first transfer, kept for the next

  SessionState() = default;
  SessionState(const SessionState&) = delete;
  SessionState& operator=(const SessionState&) = delete;
  ~SessionState();

  // "user@host:port", for messages.
  std::string where() const;
};

// ssh_init() once per process: libssh's crypto setup is not thread-safe.
void ensure_libssh_initialised();

// libssh's last error text for the session (or "unknown error").
std::string last_error(ssh_session session);

}  // namespace detail

struct Session::Impl : detail::SessionState {};

}  // namespace vm_manager::ssh
