// wait_for_banner: readiness means "an SSH banner arrived", not "TCP connect
// worked". Probes overlap: a new connection every interval, while earlier
// ones stay open, because a slow guest's sshd (re-exec per connection, TCG)
// may take longer than one interval to greet, and QEMU's user networking
// holds connections silently while the guest's network is not up yet.
//
// Probes are not churned faster than the guest can answer: an open probe is
// only replaced once it has waited min_probe_age(), which grows with the
// time already spent waiting. Replacing every probe after a fixed second
// livelocks an overloaded guest: each new connection costs its sshd a fork
// (and re-exec), and none lives long enough to be greeted.
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <deque>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "os/unique_fd.hpp"
#include "ssh/session.hpp"
#include "vm_manager/error.hpp"

namespace vm_manager::ssh {
namespace {

// Below dropbear's limit of 5 unauthenticated connections per client address
// (OpenSSH starts dropping at 10), leaving room for the real login.
constexpr std::size_t kMaxOpenProbes = 4;
constexpr std::size_t kMaxBannerBytes = 1024;

struct Probe {
  os::UniqueFd fd;
  bool connected = false;
  std::string seen;
  Clock::time_point opened;
};

// How long an open probe may wait before a new one replaces it: a quarter of
// the time spent so far, at least one probe interval (a guest that answers
// at once is noticed at once), at most a minute (what a guest so slow that
// sshd needs that long to greet still gets).
std::chrono::milliseconds min_probe_age(Clock::duration waited, std::chrono::milliseconds interval) {
  auto quarter = std::chrono::duration_cast<std::chrono::milliseconds>(waited / 4);
  return std::clamp(quarter, interval, std::max(interval, std::chrono::milliseconds(60'000)));
}

struct Address {
  sockaddr_storage storage{};
  socklen_t length = 0;
  int family = AF_INET;
};

Address resolve(const std::string& host, std::uint16_t port) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  const std::string service = std::to_string(port);
  const int rc = ::getaddrinfo(host.c_str(), service.c_str(), &hints, &found);
  if (rc != 0 || found == nullptr) {
    throw Error(errc::ssh_connect_failed, fmt::format("cannot resolve SSH host {}: {}", host, ::gai_strerror(rc)),
                "check the VM's SSH address");
  }
  Address address;
  std::memcpy(&address.storage, found->ai_addr, found->ai_addrlen);
  address.length = found->ai_addrlen;
  address.family = found->ai_family;
  ::freeaddrinfo(found);
  return address;
}

// A banner is a line starting with "SSH-"; RFC 4253 allows other lines first.
bool has_banner(const std::string& seen) {
  return seen.rfind("SSH-", 0) == 0 || seen.find("\nSSH-") != std::string::npos;
}

std::string printable_prefix(const std::string& text) {
  std::string out;
  for (char c : text.substr(0, 40)) out += (c >= 0x20 && c < 0x7f) ? c : '?';
  return out;
}

class Prober {
 public:
  Prober(Address address, std::chrono::milliseconds interval)
      : address_(address), interval_(interval), started_(Clock::now()) {}

  void open_probe() {
    const auto now = Clock::now();
    if (probes_.size() >= kMaxOpenProbes) {
      if (now - probes_.front().opened < min_probe_age(now - started_, interval_)) return;  // let it be answered
      probes_.pop_front();
    }
    os::UniqueFd fd(::socket(address_.family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    if (fd.get() < 0) {
      last_ = fmt::format("socket(): {}", std::strerror(errno));
      return;
    }
    const int rc = ::connect(fd.get(), reinterpret_cast<const sockaddr*>(&address_.storage), address_.length);
    if (rc != 0 && errno != EINPROGRESS) {
      last_ = std::strerror(errno);
      return;
    }
    probes_.push_back(Probe{std::move(fd), rc == 0, {}, now});
  }

  // Polls the open probes until `until`; true once one shows a banner.
  bool poll_until(Clock::time_point until) {
    std::vector<pollfd> fds;
    for (const auto& probe : probes_) {
      fds.push_back({probe.fd.get(), static_cast<short>(probe.connected ? POLLIN : POLLOUT), 0});
    }
    const auto wait = std::chrono::ceil<std::chrono::milliseconds>(until - Clock::now());
    const int n = ::poll(fds.data(), fds.size(), static_cast<int>(std::max<long>(wait.count(), 0)));
    if (n <= 0) return false;
    bool ready = false;
    for (std::size_t i = 0; i < fds.size(); ++i) {
      if (fds[i].revents != 0) ready = service(probes_[i]) || ready;
    }
    std::erase_if(probes_, [](const Probe& p) { return p.fd.get() < 0; });
    return ready;
  }

  const std::string& last() const { return last_; }

 private:
  // Advances one probe; closes it when it failed. True on a banner.
  bool service(Probe& probe) {
    if (!probe.connected) {
      int error = 0;
      socklen_t length = sizeof error;
      ::getsockopt(probe.fd.get(), SOL_SOCKET, SO_ERROR, &error, &length);
      if (error != 0) return fail(probe, std::strerror(error));
      probe.connected = true;
      last_ = "connected, but no SSH banner yet";
      return false;
    }
    char buffer[256];
    const ssize_t got = ::recv(probe.fd.get(), buffer, sizeof buffer, 0);
    if (got == 0) return fail(probe, "connection closed before an SSH banner");
    if (got < 0) return errno == EAGAIN || errno == EINTR ? false : fail(probe, std::strerror(errno));
    probe.seen.append(buffer, static_cast<std::size_t>(got));
    if (has_banner(probe.seen)) return true;
    if (probe.seen.size() > kMaxBannerBytes) {
      return fail(probe, fmt::format("the server sent \"{}\", not an SSH banner", printable_prefix(probe.seen)));
    }
    return false;
  }

  bool fail(Probe& probe, std::string why) {
    last_ = std::move(why);
    probe.fd = os::UniqueFd();
    return false;
  }

  Address address_;
  std::chrono::milliseconds interval_;
  Clock::time_point started_;
  std::deque<Probe> probes_;
  std::string last_ = "no probe finished";
};

}  // namespace

void wait_for_banner(const std::string& host, std::uint16_t port, Clock::time_point deadline,
                     std::chrono::milliseconds interval) {
  const auto step = std::max(interval, std::chrono::milliseconds(1));
  Prober prober(resolve(host, port), step);
  auto next_probe = Clock::now();
  while (true) {
    const auto now = Clock::now();
    if (now >= deadline) {
      throw Error(errc::ssh_timeout,
                  fmt::format("no SSH server answered on {}:{} in time (last probe: {})", host, port, prober.last()),
                  "the guest may still be booting or its sshd may not run; check the VM's console log "
                  "and raise the timeout if it is slow");
    }
    if (now >= next_probe) {
      prober.open_probe();
      next_probe = now + step;
    }
    if (prober.poll_until(std::min(next_probe, deadline))) return;
  }
}

}  // namespace vm_manager::ssh
