#include "console/attach.hpp"
#include "os/unique_fd.hpp"
#include "os/files.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <termios.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <optional>
#include <string>
#include <system_error>
#include <utility>

#include <fmt/format.h>

#include "vm_manager/error.hpp"

namespace vm_manager::console {
namespace fs = std::filesystem;
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

// On detach, how long typed bytes may take to reach the console.
constexpr milliseconds kDetachFlushTimeout{500};
constexpr std::size_t kChunk = 4096;

std::string errno_text(int err) { return std::error_code(err, std::generic_category()).message(); }

Error relay_error(std::string_view what, int err) {
  return Error(errc::console_unavailable, fmt::format("console relay failed: {}: {}", what, errno_text(err)),
               "attach again; if it keeps failing, check the VM's state");
}

// ---- connecting ----------------------------------------------------------

Error connect_error(const fs::path& socket, int err) {
  std::string help = (err == ENOENT || err == ECONNREFUSED)
                         ? "the VM's console is not listening; check that the VM runs"
                         : "check that you may access the VM's work dir";
  return Error(errc::console_unavailable,
               fmt::format("cannot connect to the console socket {}: {}", socket.string(), errno_text(err)),
               std::move(help));
}

// sun_path holds only ~108 bytes, and a data dir under a long $HOME can
// exceed that. A deeper socket is reached through an O_PATH fd of its folder
// ("/proc/self/fd/N/name"), which the kernel resolves like the real path.
std::string reachable_path(const fs::path& socket, os::UniqueFd& folder) {
  constexpr std::size_t kMax = sizeof(sockaddr_un::sun_path) - 1;
  std::string path = socket.string();
  if (path.size() <= kMax) return path;
  fs::path parent = socket.has_parent_path() ? socket.parent_path() : fs::path(".");
  folder = os::UniqueFd(::open(parent.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (folder.get() < 0) throw connect_error(socket, errno);
  path = fmt::format("/proc/self/fd/{}/{}", folder.get(), socket.filename().string());
  if (path.size() > kMax) throw connect_error(socket, ENAMETOOLONG);
  return path;
}

os::UniqueFd connect_unix(const fs::path& socket) {
  os::UniqueFd folder;
  std::string path = reachable_path(socket, folder);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, path.data(), path.size());
  os::UniqueFd sock(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (sock.get() < 0) throw connect_error(socket, errno);
  int rc;
  do {
    rc = ::connect(sock.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof(addr));
  } while (rc != 0 && errno == EINTR);
  // An interrupted connect may complete in the background; a retry then says so.
  if (rc != 0 && errno != EISCONN) throw connect_error(socket, errno);
  return sock;
}

// ---- raw terminal ----------------------------------------------------------

// What the signal handlers put back. Plain globals, because a handler may use
// nothing else; g_raw_fd is set last, once g_saved holds the settings. Hence
// one terminal attach per process at a time (vmctl makes one).
termios g_saved{};
volatile sig_atomic_t g_raw_fd = -1;

// Signals that end the process while the terminal is raw. With ISIG off the
// keyboard sends none of them (Ctrl-C is a byte for the guest); they come
// from kill, a hang-up, or a reader of our output that went away.
constexpr int kFatalSignals[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGPIPE};
constexpr std::size_t kSignalCount = std::size(kFatalSignals);

extern "C" void restore_terminal_and_reraise(int sig) {
  int fd = g_raw_fd;
  if (fd >= 0) ::tcsetattr(fd, TCSANOW, &g_saved);
  // SA_RESETHAND already put the default action back; the signal is blocked
  // while we run, so it is delivered (and ends us) as soon as we return.
  ::raise(sig);
}

void set_attributes(int fd, const termios& settings) {
  while (::tcsetattr(fd, TCSANOW, &settings) != 0 && errno == EINTR) {
  }
}

// Puts a terminal in raw mode and restores it on destruction: on return,
// on an exception, and from the fatal signals above.
class RawTerminal {
 public:
  explicit RawTerminal(int fd) {
    if (!::isatty(fd) || ::tcgetattr(fd, &saved_) != 0) return;  // nothing to restore later
    fd_ = fd;
    g_saved = saved_;
    std::atomic_signal_fence(std::memory_order_seq_cst);  // g_saved complete before a handler can see g_raw_fd
    g_raw_fd = fd;
    install_handlers();
    termios raw = saved_;
    ::cfmakeraw(&raw);
    // Keep the user's output processing, so a guest's (or firmware's) bare
    // "\n" still returns to column 0 instead of drawing a staircase.
    raw.c_oflag = saved_.c_oflag;
    if (::tcsetattr(fd, TCSANOW, &raw) != 0) {
      int err = errno;
      restore();
      throw Error(errc::console_unavailable, fmt::format("cannot put the terminal in raw mode: {}", errno_text(err)),
                  "attach from an interactive terminal, or pipe the input");
    }
  }
  RawTerminal(const RawTerminal&) = delete;
  RawTerminal& operator=(const RawTerminal&) = delete;
  ~RawTerminal() { restore(); }

  bool active() const { return fd_ >= 0; }

 private:
  void install_handlers() {
    struct sigaction action {};
    action.sa_handler = restore_terminal_and_reraise;
    action.sa_flags = SA_RESETHAND;
    sigemptyset(&action.sa_mask);
    for (std::size_t i = 0; i < kSignalCount; ++i) {
      ::sigaction(kFatalSignals[i], nullptr, &previous_[i]);
      // An ignored signal (nohup, a parent ignoring SIGPIPE) stays ignored.
      if (previous_[i].sa_handler == SIG_IGN) continue;
      installed_[i] = ::sigaction(kFatalSignals[i], &action, nullptr) == 0;
    }
  }

  // Terminal first, handlers second: a signal in between finds a handler
  // that restores again, which is harmless; the other order could leave the
  // terminal raw.
  void restore() {
    if (fd_ < 0) return;
    set_attributes(fd_, saved_);
    g_raw_fd = -1;
    for (std::size_t i = 0; i < kSignalCount; ++i) {
      if (installed_[i]) ::sigaction(kFatalSignals[i], &previous_[i], nullptr);
      installed_[i] = false;
    }
    fd_ = -1;
  }

  int fd_ = -1;
  termios saved_{};
  struct sigaction previous_[kSignalCount] {};
  bool installed_[kSignalCount] = {};
};

// ---- relaying ------------------------------------------------------------

// Output to the user may block (a paused terminal); that back-pressure is right.
void write_all(int fd, const char* data, std::size_t size) {
  if (int err = os::write_fully(fd, std::string_view(data, size)); err != 0) {
    throw relay_error("writing the console output", err);
  }
}

int poll_timeout(Clock::time_point deadline) {
  auto left = std::chrono::duration_cast<milliseconds>(deadline - Clock::now()).count();
  return int(std::clamp<long long>(left + 1, 0, 60'000));
}

class Relay {
 public:
  Relay(ConsoleStream& stream, int in_fd, int out_fd, bool interactive, const AttachOptions& options)
      : stream_(stream), in_fd_(in_fd), out_fd_(out_fd), interactive_(interactive), options_(options) {}

  AttachEnd run() {
    while (true) {
      if (input_done_ && Clock::now() >= grace_deadline()) return AttachEnd::input_closed;
      // Output already in memory does not make the fd readable: take it first.
      if (stream_.ready() && !pump_console_output()) return AttachEnd::console_closed;
      pollfd fds[2] = {{wants_input() ? in_fd_ : -1, POLLIN, 0},
                       {stream_.poll_fd(), short(POLLIN | (to_console_.empty() ? 0 : POLLOUT)), 0}};
      int timeout = stream_.ready() ? 0 : input_done_ ? poll_timeout(grace_deadline()) : -1;
      int rc = ::poll(fds, 2, timeout);
      if (rc < 0 && errno == EINTR) continue;
      if (rc < 0) throw relay_error("poll", errno);
      if ((fds[1].revents & (POLLIN | POLLHUP | POLLERR)) && !pump_console_output()) {
        return AttachEnd::console_closed;
      }
      if ((fds[1].revents & POLLOUT) && !send_some()) return AttachEnd::console_closed;
      if (fds[0].revents & (POLLIN | POLLHUP | POLLERR | POLLNVAL)) {
        if (auto end = read_input()) return *end;
      }
    }
  }

 private:
  // Typed bytes wait in a small buffer until the socket takes them; while it
  // is full we stop reading the keyboard.
  bool wants_input() const { return !input_done_ && to_console_.size() < kChunk; }

  // After EOF: once everything typed is sent and the console has been quiet
  // for a moment, or at the latest eof_max_wait after EOF.
  Clock::time_point grace_deadline() const {
    Clock::time_point latest = input_end_ + options_.eof_max_wait;
    return to_console_.empty() ? std::min(last_activity_ + options_.eof_quiet_period, latest) : latest;
  }

  // Copies what the console sent to out_fd; false once the console is gone.
  bool pump_console_output() {
    std::string output;
    bool alive = stream_.read_some(output);
    if (!output.empty()) {
      write_all(out_fd_, output.data(), output.size());
      last_activity_ = Clock::now();
      return true;
    }
    return alive;
  }

  // Hands buffered input to the console without blocking; false once the
  // console is gone.
  bool send_some() {
    std::optional<std::size_t> n = stream_.write_some(to_console_);
    if (!n) return false;
    if (*n > 0) {
      to_console_.erase(0, *n);
      last_activity_ = Clock::now();
    }
    return true;
  }

  // Reads the keyboard (or pipe). Returns how the attach ends, if it does.
  std::optional<AttachEnd> read_input() {
    char buffer[kChunk];
    ssize_t n = ::read(in_fd_, buffer, sizeof(buffer));
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) return std::nullopt;
    // EIO: the terminal hung up; EBADF: started with stdin closed.
    if (n < 0 && errno != EIO && errno != EBADF) throw relay_error("reading the input", errno);
    if (n <= 0) return end_of_input();
    const char* begin = buffer;
    const char* end = buffer + n;
    const char* key = std::find(begin, end, char(kDetachKey));
    to_console_.append(begin, key);
    if (key == end) return std::nullopt;
    flush_before_leaving();
    return AttachEnd::detached;
  }

  std::optional<AttachEnd> end_of_input() {
    // A terminal that hangs up has nobody left to read a reply.
    if (interactive_) {
      flush_before_leaving();
      return AttachEnd::input_closed;
    }
    input_done_ = true;
    input_end_ = last_activity_ = Clock::now();
    return std::nullopt;
  }

  // Best effort: what was typed before Ctrl-] should still arrive.
  void flush_before_leaving() {
    Clock::time_point deadline = Clock::now() + kDetachFlushTimeout;
    while (!to_console_.empty() && Clock::now() < deadline) {
      pollfd p{stream_.poll_fd(), POLLOUT, 0};
      if (p.fd < 0) {  // a closed stream: send_some says so
        if (!send_some()) return;
        continue;
      }
      int rc = ::poll(&p, 1, poll_timeout(deadline));
      if (rc < 0 && errno != EINTR) return;
      if (rc > 0 && !send_some()) return;
    }
  }

  ConsoleStream& stream_;
  int in_fd_;
  int out_fd_;
  bool interactive_;
  const AttachOptions& options_;
  std::string to_console_;
  bool input_done_ = false;
  Clock::time_point input_end_{};
  Clock::time_point last_activity_{};  // the console's last output, or our last send
};

// ---- transports ----------------------------------------------------------

class UnixSocketStream final : public ConsoleStream {
 public:
  explicit UnixSocketStream(os::UniqueFd sock) : sock_(std::move(sock)) {}
  int poll_fd() const override { return sock_.get(); }

  bool read_some(std::string& out) override {
    char buffer[16 * 1024];
    ssize_t n = ::recv(sock_.get(), buffer, sizeof(buffer), MSG_DONTWAIT);
    if (n == 0) return false;
    if (n < 0) {
      if (errno == EAGAIN || errno == EINTR) return true;
      if (errno == ECONNRESET) return false;
      throw relay_error("reading the console", errno);
    }
    out.append(buffer, std::size_t(n));
    return true;
  }

  std::optional<std::size_t> write_some(std::string_view bytes) override {
    ssize_t n = ::send(sock_.get(), bytes.data(), bytes.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
    if (n >= 0) return std::size_t(n);
    if (errno == EAGAIN || errno == EINTR) return 0;
    if (errno == EPIPE || errno == ECONNRESET) return std::nullopt;
    throw relay_error("writing to the console", errno);
  }

 private:
  os::UniqueFd sock_;
};

class WebSocketStream final : public ConsoleStream {
 public:
  explicit WebSocketStream(WebSocketClient ws) : ws_(std::move(ws)) {}
  ~WebSocketStream() override {
    try {
      ws_.close();
    } catch (...) {  // best effort: the server may be gone
    }
  }
  int poll_fd() const override { return ws_.closed() ? -1 : ws_.native_handle(); }
  bool ready() override { return ws_.has_buffered(); }

  bool read_some(std::string& out) override {
    while (std::optional<std::string> data = ws_.read(milliseconds(0))) out += *data;
    return !out.empty() || !ws_.closed();
  }

  std::optional<std::size_t> write_some(std::string_view bytes) override {
    if (!ws_.write(bytes)) return std::nullopt;
    return bytes.size();
  }

  std::string close_reason() const override {
    std::optional<WebSocketClose> why = ws_.close_reason();
    return why ? why->reason : std::string();
  }

 private:
  WebSocketClient ws_;
};

}  // namespace

AttachEnd attach_stream(ConsoleStream& stream, int in_fd, int out_fd, const AttachOptions& options) {
  if (options.on_connected) options.on_connected();
  AttachEnd end;
  {
    RawTerminal terminal(in_fd);
    end = Relay(stream, in_fd, out_fd, terminal.active(), options).run();
  }
  if (end == AttachEnd::console_closed && options.on_console_closed) options.on_console_closed(stream.close_reason());
  return end;
}

AttachEnd attach_unix_console(const fs::path& socket, int in_fd, int out_fd, const AttachOptions& options) {
  UnixSocketStream stream(connect_unix(socket));
  return attach_stream(stream, in_fd, out_fd, options);
}

AttachEnd attach_connected_console(int socket_fd, int in_fd, int out_fd, const AttachOptions& options) {
  UnixSocketStream stream{os::UniqueFd(socket_fd)};
  return attach_stream(stream, in_fd, out_fd, options);
}

AttachEnd attach_websocket_console(const std::string& url, const HttpHeaders& headers, int in_fd, int out_fd,
                                   const AttachOptions& options) {
  WebSocketStream stream(WebSocketClient::connect(url, headers, options.connect_timeout));
  return attach_stream(stream, in_fd, out_fd, options);
}

}  // namespace vm_manager::console
