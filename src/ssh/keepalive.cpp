// SSH-level keepalives for a session waiting on a command. The server's
// liveness is read off libssh's packet counter: any packet in (output, a
// window adjust, the answer to a keepalive) counts, so a busy channel sends
// no probes at all.
#include <fmt/format.h>

#include "ssh/session_impl.hpp"
#include "vm_manager/error.hpp"

namespace vm_manager::ssh::detail {
namespace {

// keepalive@openssh.com with want-reply: OpenSSH and Dropbear answer it (with
// a refusal, which is enough). Sent without blocking: the answer is read by
// the caller's next channel read, and counted there. libssh sends a request
// only when none is outstanding, and the first call after an answer merely
// settles that answer: the second call sends.
void send_probe(ssh_session session) {
  libssh().ssh_set_blocking(session, 0);
  libssh().ssh_send_keepalive(session);
  libssh().ssh_send_keepalive(session);
  libssh().ssh_set_blocking(session, 1);
}

}  // namespace

void SessionState::listen_for_liveness() {
  packets_seen_ = received.in_packets;
  last_heard_ = Clock::now();
  unanswered_probes_ = 0;
}

void SessionState::keep_alive() {
  const auto interval = options.keepalive_interval;
  if (interval.count() <= 0 || session == nullptr) return;
  const auto now = Clock::now();
  if (received.in_packets != packets_seen_) {
    listen_for_liveness();
    return;
  }
  if (now - last_heard_ < interval * (unanswered_probes_ + 1)) return;
  if (unanswered_probes_ >= options.keepalive_count_max) {
    const auto silent = std::chrono::duration_cast<std::chrono::milliseconds>(now - last_heard_);
    throw Error(errc::ssh_exec_failed,
                fmt::format("{} stopped answering: {} keepalives went unanswered in {:.1f} s", where(),
                            unanswered_probes_, static_cast<double>(silent.count()) / 1000.0),
                "the guest hangs or its network is down; check the VM's state and its console log");
  }
  send_probe(session);
  ++unanswered_probes_;
}

}  // namespace vm_manager::ssh::detail
