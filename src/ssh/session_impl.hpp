// What Session's implementation files share: the libssh handle behind a
// Session and the error helpers. Internal to src/ssh/.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "os/unique_fd.hpp"
#include "ssh/jump.hpp"
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
  // With target.jump: the jump host's session, and the socket the guest's
  // session runs over (SSH_OPTIONS_FD). libssh 0.10 never closes such a
  // socket on a clean disconnect, but does on a socket error: once it was
  // handed over, libssh's own idea of its fd tells which happened.
  std::unique_ptr<JumpSession> jump;
  os::UniqueFd tunnel_end;
  bool tunnel_handed = false;
  // What libssh counts on this connection; packets in prove the server lives.
  ssh_counter_struct sent{};
  ssh_counter_struct received{};

  SessionState() = default;
  SessionState(const SessionState&) = delete;
  SessionState& operator=(const SessionState&) = delete;
  ~SessionState();

  // Ends the guest's session (and its tunnel, not the jump host's session).
  void drop_session();

  // "user@host:port" (plus the jump host, if any), for messages.
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

// What the connect code of sessions and jump sessions shares.
long long ms_left(Clock::time_point deadline);
// Raises ssh::connect_failed naming the option when libssh refuses it.
void set_option(ssh_session session, ssh_options_e option, const void* value, std::string_view name);
// Every blocking libssh step of the session is bounded by `ms` (at least 1).
void set_timeout(ssh_session session, long long ms);
// The SHA256 fingerprint of the key the server presented, or a placeholder.
std::string presented_fingerprint(ssh_session session);
// Transport errors worth retrying: the peer went away or was not ready.
bool is_transient_connect_error(const std::string& text);

}  // namespace detail

struct Session::Impl : detail::SessionState {};

}  // namespace vm_manager::ssh
