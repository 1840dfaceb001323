// What Session's implementation files share: the libssh handle behind a
// Session and the error helpers. Internal to src/ssh/.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "ssh/libssh.hpp"
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
  // What libssh counts on this connection; packets in prove the server lives.
  ssh_counter_struct sent{};
  ssh_counter_struct received{};

  SessionState() = default;
  SessionState(const SessionState&) = delete;
  SessionState& operator=(const SessionState&) = delete;
  ~SessionState();

  // "user@host:port", for messages.
  std::string where() const;

  // Starts counting the server's silence from now (a new command).
  void listen_for_liveness();
  // Called while waiting on the server: after options.keepalive_interval of
  // silence sends a keepalive, and raises ssh::exec_failed once
  // options.keepalive_count_max of them went unanswered.
  void keep_alive();

 private:
  std::uint64_t packets_seen_ = 0;
  Clock::time_point last_heard_{};
  int unanswered_probes_ = 0;
};

// libssh's last error text for the session (or "unknown error").
std::string last_error(ssh_session session);

}  // namespace detail

struct Session::Impl : detail::SessionState {};

}  // namespace vm_manager::ssh
