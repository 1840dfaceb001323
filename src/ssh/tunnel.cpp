// Bridge: the thread that carries a guest session's bytes over a
// direct-tcpip channel of the jump host's session. Nothing in it blocks: the
// channel's session is non-blocking, the socket is used with MSG_DONTWAIT,
// and the thread sleeps only in poll(), which the destructor's eventfd ends.
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <system_error>

#include "ssh/jump.hpp"

namespace vm_manager::ssh::detail {
namespace {

constexpr std::size_t kChunk = 32 * 1024;
// What the bridge holds for a guest session that does not read (beyond it,
// the channel's window makes the jump host wait).
constexpr std::size_t kMaxPending = 256 * 1024;

bool would_block(ssize_t n) { return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR); }

}  // namespace

Bridge::Bridge(ssh_session session, ssh_channel channel, os::UniqueFd local)
    : session_(session), channel_(channel), local_(std::move(local)), wake_(::eventfd(0, EFD_CLOEXEC)) {
  if (wake_.get() < 0) {
    libssh().ssh_channel_free(channel_);
    throw std::system_error(errno, std::generic_category(), "eventfd");
  }
  libssh().ssh_set_blocking(session_, 0);
  thread_ = std::thread([this] { run(); });
}

Bridge::~Bridge() {
  const std::uint64_t one = 1;
  (void)!::write(wake_.get(), &one, sizeof one);
  thread_.join();
  // Non-blocking still: closing the channel queues its message and returns.
  libssh().ssh_channel_free(channel_);
  libssh().ssh_set_blocking(session_, 1);
}

void Bridge::run() noexcept {
  while (pump() && wait()) {
  }
  // The guest's session sees the end of its connection.
  local_.reset();
}

bool Bridge::pump() {
  char buffer[kChunk];
  // Channel to socket: read while there is room, which also lets libssh
  // handle whatever else arrived (window adjusts, the channel's close).
  while (!remote_eof_ && to_local_.size() - to_local_sent_ < kMaxPending) {
    const int n = libssh().ssh_channel_read_nonblocking(channel_, buffer, sizeof buffer, 0);
    if (n == SSH_EOF) {
      remote_eof_ = true;
    } else if (n < 0) {
      return false;  // the jump host's session broke
    } else if (n == 0) {
      break;
    } else {
      to_local_.append(buffer, static_cast<std::size_t>(n));
    }
  }
  if (to_local_sent_ < to_local_.size()) {
    const ssize_t n = ::send(local_.get(), to_local_.data() + to_local_sent_, to_local_.size() - to_local_sent_,
                             MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n < 0 && !would_block(n)) return false;  // the guest's session is gone
    if (n > 0) to_local_sent_ += static_cast<std::size_t>(n);
    if (to_local_sent_ == to_local_.size()) {
      to_local_.clear();
      to_local_sent_ = 0;
    }
  }
  if (remote_eof_ && to_local_.empty()) return false;  // the far side ended, and all it sent is delivered
  // Socket to channel, never more than the channel's window takes.
  if (!local_eof_) {
    const std::size_t window = libssh().ssh_channel_window_size(channel_);
    if (window > 0) {
      const ssize_t n = ::recv(local_.get(), buffer, std::min(window, sizeof buffer), MSG_DONTWAIT);
      if (n == 0 || (n < 0 && !would_block(n))) {
        local_eof_ = true;
        libssh().ssh_channel_send_eof(channel_);
      } else if (n > 0 && libssh().ssh_channel_write(channel_, buffer, static_cast<uint32_t>(n)) != n) {
        return false;
      }
    }
  }
  if (libssh().ssh_channel_is_closed(channel_)) return false;
  // Sends what libssh still holds (it writes only what the socket takes).
  return libssh().ssh_blocking_flush(session_, 0) != SSH_ERROR;
}

bool Bridge::wait() {
  const bool write_pending = (libssh().ssh_get_poll_flags(session_) & SSH_WRITE_PENDING) != 0;
  const bool can_read_channel = !remote_eof_ && to_local_.size() - to_local_sent_ < kMaxPending;
  short local_events = 0;
  if (to_local_sent_ < to_local_.size()) local_events |= POLLOUT;
  if (!local_eof_ && libssh().ssh_channel_window_size(channel_) > 0) local_events |= POLLIN;
  pollfd fds[3] = {
      {libssh().ssh_get_fd(session_), static_cast<short>((can_read_channel ? POLLIN : 0) | (write_pending ? POLLOUT : 0)),
       0},
      {local_.get(), local_events, 0},
      {wake_.get(), POLLIN, 0},
  };
  // The jump host's sshd relays the guest's stream in pieces, each sent at
  // once (no TCP_NODELAY there): Nagle holds back the last piece of a reply
  // until we acknowledge the first, and a delayed ACK waits 40 ms. Linux
  // drops out of quick-ACK mode by itself, so it is asked for every time.
  const int yes = 1;
  (void)::setsockopt(fds[0].fd, IPPROTO_TCP, TCP_QUICKACK, &yes, sizeof yes);
  // A zero window is reopened by a packet that only a read of the channel
  // handles, and libssh may hold such a packet already: look again soon.
  ::poll(fds, 3, 100);
  return fds[2].revents == 0;  // else the destructor asks to stop, whatever is in flight
}

}  // namespace vm_manager::ssh::detail
