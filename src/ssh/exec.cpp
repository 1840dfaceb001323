// Session::exec: one channel, stdout and stderr drained together and stdin
// written only as far as the remote window allows, so that no direction can
// block another (a full stderr window must not stall stdout, a command
// echoing its stdin must not deadlock against our writes).
#include <poll.h>

#include <algorithm>
#include <csignal>
#include <cstring>
#include <memory>
#include <optional>

#include <fmt/format.h>

#include "ssh/session_impl.hpp"
#include "vm_manager/error.hpp"

namespace vm_manager::ssh {
namespace {

constexpr std::size_t kChunk = 32 * 1024;

// A channel with our callbacks. libssh keeps a channel freed before the
// server closed it (an exec that timed out) until the close arrives, and
// would then call callbacks that lived on our stack: detach them first.
class Channel {
 public:
  explicit Channel(ssh_session session) : channel_(libssh().ssh_channel_new(session)) {}
  Channel(const Channel&) = delete;
  Channel& operator=(const Channel&) = delete;
  ~Channel() {
    if (channel_ == nullptr) return;
    if (callbacks_ != nullptr) libssh().ssh_remove_channel_callbacks(channel_, callbacks_);
    libssh().ssh_channel_free(channel_);
  }
  ssh_channel get() const { return channel_; }
  void set_callbacks(ssh_channel_callbacks callbacks) {
    if (libssh().ssh_set_channel_callbacks(channel_, callbacks) == SSH_OK) callbacks_ = callbacks;
  }

 private:
  ssh_channel channel_;
  ssh_channel_callbacks callbacks_ = nullptr;
};

// OpenSSH reports signals by name ("KILL"); the guest is Linux like us, so
// our numbering applies.
int signal_number(const char* name) {
  if (name == nullptr) return 0;
  for (int n = 1; n < NSIG; ++n) {
    const char* abbrev = ::sigabbrev_np(n);
    if (abbrev != nullptr && std::strcmp(abbrev, name) == 0) return n;
  }
  return 0;
}

struct ExitSignal {
  std::optional<int> number;
};

void on_exit_signal(ssh_session, ssh_channel, const char* signal, int, const char*, const char*, void* userdata) {
  static_cast<ExitSignal*>(userdata)->number = signal_number(signal);
}

class ExecLoop {
 public:
  ExecLoop(detail::SessionState& impl, ssh_channel channel, const OutputSink& out, const OutputSink& err,
           const std::optional<std::string>& stdin_data, std::optional<Clock::time_point> deadline)
      : impl_(impl), channel_(channel), sinks_{&out, &err}, stdin_(stdin_data), deadline_(deadline) {}

  void run(const std::string& command) {
    if (!stdin_ || stdin_->empty()) send_eof();
    impl_.listen_for_liveness();
    while (!done_[0] || !done_[1]) {
      bool progress = drain(0);
      progress = drain(1) || progress;
      progress = feed_stdin() || progress;
      check_deadline(command);
      impl_.keep_alive();
      if (!progress && (!done_[0] || !done_[1])) wait_for_input();
    }
    send_eof();
  }

 private:
  bool drain(int is_stderr) {
    bool progress = false;
    char buffer[kChunk];
    while (!done_[is_stderr]) {
      const int n = libssh().ssh_channel_read_nonblocking(channel_, buffer, sizeof buffer, is_stderr);
      if (n == 0) break;
      if (n == SSH_EOF) {
        done_[is_stderr] = true;
      } else if (n < 0) {
        fail(fmt::format("reading the command's output failed: {}", detail::last_error(impl_.session)));
      } else {
        const auto& sink = *sinks_[is_stderr];
        if (sink) sink(std::string_view(buffer, static_cast<std::size_t>(n)));
      }
      progress = true;
    }
    return progress;
  }

  bool feed_stdin() {
    if (eof_sent_ || !stdin_) return false;
    const std::size_t window = libssh().ssh_channel_window_size(channel_);
    if (window == 0) return false;
    const std::size_t length = std::min({window, kChunk, stdin_->size() - sent_});
    const int n = libssh().ssh_channel_write(channel_, stdin_->data() + sent_, static_cast<uint32_t>(length));
    if (n < 0) {
      // A command that exits without reading all its input is not an error.
      if (libssh().ssh_channel_is_closed(channel_) || libssh().ssh_channel_is_eof(channel_)) {
        eof_sent_ = true;
        return true;
      }
      fail(fmt::format("sending the command's input failed: {}", detail::last_error(impl_.session)));
    }
    sent_ += static_cast<std::size_t>(n);
    if (sent_ == stdin_->size()) send_eof();
    return n > 0;
  }

  void send_eof() {
    if (eof_sent_) return;
    eof_sent_ = true;
    if (!libssh().ssh_channel_is_closed(channel_)) libssh().ssh_channel_send_eof(channel_);
  }

  void wait_for_input() {
    int wait_ms = 100;
    if (deadline_) {
      const auto left = std::chrono::ceil<std::chrono::milliseconds>(*deadline_ - Clock::now()).count();
      wait_ms = static_cast<int>(std::clamp<long long>(left, 0, wait_ms));
    }
    pollfd fd{libssh().ssh_get_fd(impl_.session), POLLIN, 0};
    ::poll(&fd, 1, wait_ms);
  }

  void check_deadline(const std::string& command) {
    if (deadline_ && Clock::now() >= *deadline_) {
      throw Error(errc::ssh_exec_failed, fmt::format("command \"{}\" on {} did not finish in time", command,
                                                     impl_.where()),
                  "the command may be waiting for input or hanging; run it by hand over ssh to see");
    }
  }

  [[noreturn]] void fail(std::string message) {
    throw Error(errc::ssh_exec_failed, fmt::format("{} ({})", message, impl_.where()),
                "the SSH connection broke; check that the VM is still running and reconnect");
  }

  detail::SessionState& impl_;
  ssh_channel channel_;
  const OutputSink* sinks_[2];
  const std::optional<std::string>& stdin_;
  std::optional<Clock::time_point> deadline_;
  bool done_[2] = {false, false};
  bool eof_sent_ = false;
  std::size_t sent_ = 0;
};

}  // namespace

int Session::exec(const std::string& command, const OutputSink& out, const OutputSink& err,
                  const std::optional<std::string>& stdin_data, std::chrono::milliseconds timeout) {
  std::optional<Clock::time_point> deadline;
  if (timeout.count() > 0) deadline = Clock::now() + timeout;
  auto broken = [&](std::string_view what) {
    return Error(errc::ssh_exec_failed,
                 fmt::format("cannot run \"{}\" on {}: {}: {}", command, impl_->where(), what,
                             detail::last_error(impl_->session)),
                 "the SSH connection broke or the server refused a session; check that the VM is still running");
  };
  ExitSignal exit_signal;
  ssh_channel_callbacks_struct callbacks{};
  callbacks.userdata = &exit_signal;
  callbacks.channel_exit_signal_function = on_exit_signal;
  ssh_callbacks_init(&callbacks);

  Channel channel(impl_->session);
  if (channel.get() == nullptr) throw broken("no channel");
  channel.set_callbacks(&callbacks);
  if (libssh().ssh_channel_open_session(channel.get()) != SSH_OK) throw broken("opening a session channel failed");
  if (libssh().ssh_channel_request_exec(channel.get(), command.c_str()) != SSH_OK) throw broken("the exec request failed");

  ExecLoop(*impl_, channel.get(), out, err, stdin_data, deadline).run(command);

  const int status = libssh().ssh_channel_get_exit_status(channel.get());
  if (exit_signal.number) return 128 + *exit_signal.number;
  if (status < 0) throw broken("the command ended without an exit status");
  return status;
}

ExecResult Session::exec_capture(const std::string& command, std::chrono::milliseconds timeout) {
  ExecResult result;
  result.exit_status = exec(
      command, [&](std::string_view chunk) { result.out.append(chunk); },
      [&](std::string_view chunk) { result.err.append(chunk); }, std::nullopt, timeout);
  return result;
}

}  // namespace vm_manager::ssh
