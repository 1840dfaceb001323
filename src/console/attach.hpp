// Attaching the user's terminal to a VM's serial console.
#pragma once

#include <chrono>
#include <cstddef>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "console/websocket_console.hpp"

namespace vm_manager::console {

inline constexpr unsigned char kDetachKey = 0x1d;  // Ctrl-]

// Why an attach ended, so the caller can tell the user.
enum class AttachEnd {
  detached,        // the user typed Ctrl-]
  input_closed,    // in_fd reached EOF (piped input), after a short grace period
  console_closed,  // the VM closed the socket (it shut down)
};

struct AttachOptions {
  // Called once connected, before the terminal goes raw: the moment to tell
  // the user how to detach (not earlier, in case the connect fails).
  std::function<void()> on_connected;
  // Called when the console ends the attach and says why (a websocket close
  // reason; unix sockets give none).
  std::function<void(const std::string& reason)> on_console_closed;
  // Connecting to a websocket console gives up after this long.
  std::chrono::milliseconds connect_timeout{10'000};
  // After piped input ends, the console's reply to the last line may still
  // be on its way: the attach ends once the console has been quiet for
  // eof_quiet_period, and at the latest eof_max_wait after the end of input
  // (a chatty VM must not keep it forever).
  std::chrono::milliseconds eof_quiet_period{200};
  std::chrono::milliseconds eof_max_wait{2000};
};

// A connected console as the relay sees it: bytes both ways and an fd to
// poll. One implementation per transport (unix socket, websocket).
class ConsoleStream {
 public:
  virtual ~ConsoleStream() = default;
  // Polls readable when read_some may have new output; -1 once closed.
  virtual int poll_fd() const = 0;
  // True when read_some has something without poll_fd being readable:
  // output already received into memory, or the end of the connection.
  // May do work that needs no waiting to find out.
  virtual bool ready() { return false; }
  // Appends the console's output that has arrived, without waiting for
  // more; false once the console is gone.
  virtual bool read_some(std::string& out) = 0;
  // Sends a prefix of bytes without blocking for long: how many were taken
  // (0 when the console is busy), nullopt once the console is gone.
  virtual std::optional<std::size_t> write_some(std::string_view bytes) = 0;
  // Why the console went away, if it said so.
  virtual std::string close_reason() const { return {}; }
};

// Relays between an already connected console and in_fd/out_fd, with the
// terminal handling of attach_unix_console (raw mode, Ctrl-], restoring).
AttachEnd attach_stream(ConsoleStream& stream, int in_fd, int out_fd, const AttachOptions& options = {});

// Connects to the console's unix socket and relays bytes both ways between
// it and in_fd/out_fd until the user types Ctrl-] (detach), in_fd reaches
// EOF, or the VM closes the socket. When in_fd is a terminal it is put in raw
// mode for the duration and always restored (also on errors and on
// SIGINT/SIGTERM/SIGHUP/SIGQUIT/SIGPIPE). Returns normally on detach, EOF or
// close and says which; prints nothing itself. Raises console::unavailable
// when the socket cannot be reached or the relay fails.
AttachEnd attach_unix_console(const std::filesystem::path& socket, int in_fd, int out_fd,
                              const AttachOptions& options = {});

// The same for a console already connected as a stream socket (what
// Hypervisor::open_console returns); takes ownership of socket_fd.
AttachEnd attach_connected_console(int socket_fd, int in_fd, int out_fd, const AttachOptions& options = {});

// The same for a console served over a websocket (Propolis): connects to
// url sending headers (e.g. propolis::console_headers()), then relays. Raises
// console::websocket_failed when the websocket cannot be opened or fails.
AttachEnd attach_websocket_console(const std::string& url, const HttpHeaders& headers, int in_fd, int out_fd,
                                   const AttachOptions& options = {});

}  // namespace vm_manager::console
