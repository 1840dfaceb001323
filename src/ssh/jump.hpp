// SSH through a jump host. libssh 0.10 has no ProxyJump option, so a
// session to the jump host opens a direct-tcpip channel to the guest, and a
// bridge thread copies between that channel and one end of a socketpair;
// the guest's own session runs over the other end (SSH_OPTIONS_FD).
// Internal to src/ssh/.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <thread>

#include "os/unique_fd.hpp"
#include "ssh/libssh.hpp"
#include "ssh/session.hpp"

namespace vm_manager::ssh::detail {

// A failure worth another attempt (the server went away mid-handshake, as a
// booting guest's sshd does while it restarts).
struct Transient {
  std::string reason;
};

// Copies between an open channel and a socket until either side ends, in a
// thread of its own. While it runs, it alone uses the channel's session
// (switched to non-blocking, so that stopping never waits on the network).
// When the channel ends it shuts the socket's writing side down; when the
// socket's peer closes it sends EOF on the channel.
class Bridge {
 public:
  Bridge(ssh_session session, ssh_channel channel, os::UniqueFd local);
  // Stops the thread (at once, whatever is in flight), joins it, frees the
  // channel and puts the session back into blocking mode.
  ~Bridge();
  Bridge(const Bridge&) = delete;
  Bridge& operator=(const Bridge&) = delete;

 private:
  void run() noexcept;
  // One round of copying both ways; false once the bridge is done.
  bool pump();
  // Sleeps until either side can move; false when asked to stop.
  bool wait();

  ssh_session session_;
  ssh_channel channel_;
  os::UniqueFd local_;
  os::UniqueFd wake_;  // an eventfd: the destructor's "stop now"
  std::string to_local_;
  std::size_t to_local_sent_ = 0;
  bool remote_eof_ = false;
  bool local_eof_ = false;
  std::thread thread_;
};

// "user@host:port" (or "host:port" for the local user's name).
std::string jump_where(const SshJumpHost& jump);

// A logged-in session to a jump host, and at most one tunnel through it.
class JumpSession {
 public:
  // Banner probe, handshake, host key check against the jump's known_hosts
  // (default ~/.ssh/known_hosts), login with its identity file (else the
  // user's agent and default keys). Transient failures are retried until
  // `deadline`. Raises ssh::jump_failed.
  static std::unique_ptr<JumpSession> connect(const SshJumpHost& jump, const ConnectOptions& options,
                                              Clock::time_point deadline);
  ~JumpSession();
  JumpSession(const JumpSession&) = delete;
  JumpSession& operator=(const JumpSession&) = delete;

  // Whether the connection to the jump host still stands.
  bool connected() const;
  // Closes any earlier tunnel, opens a direct-tcpip channel to host:port and
  // bridges it; returns the socket end for the guest's session. Raises
  // Transient when the jump host cannot reach host:port (yet).
  os::UniqueFd open_tunnel(const std::string& host, std::uint16_t port, Clock::time_point deadline);
  void close_tunnel();
  // Opens a channel to host:port and reads until an SSH banner arrives;
  // the text seen. Raises Transient when the channel cannot be opened or
  // ends first, and nothing when `deadline` passes (the text so far).
  std::string read_banner(const std::string& host, std::uint16_t port, Clock::time_point deadline);

  std::string where() const { return jump_where(jump_); }

 private:
  JumpSession(const SshJumpHost& jump, ConnectOptions options) : jump_(jump), options_(options) {}
  void attempt(Clock::time_point deadline);
  ssh_channel open_channel(const std::string& host, std::uint16_t port, Clock::time_point deadline);
  void set_step_timeout(Clock::time_point deadline);

  SshJumpHost jump_;
  ConnectOptions options_;
  ssh_session session_ = nullptr;
  std::unique_ptr<Bridge> bridge_;
};

}  // namespace vm_manager::ssh::detail
