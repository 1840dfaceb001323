// Attaching the user's terminal to a VM's serial console.
#pragma once

#include <filesystem>
#include <functional>

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
};

// Connects to the console's unix socket and relays bytes both ways between
// it and in_fd/out_fd until the user types Ctrl-] (detach), in_fd reaches
// EOF, or the VM closes the socket. When in_fd is a terminal it is put in raw
// mode for the duration and always restored (also on errors and on
// SIGINT/SIGTERM/SIGHUP/SIGQUIT/SIGPIPE). Returns normally on detach, EOF or
// close and says which; prints nothing itself. Raises console::unavailable
// when the socket cannot be reached or the relay fails.
AttachEnd attach_unix_console(const std::filesystem::path& socket, int in_fd, int out_fd,
                              const AttachOptions& options = {});

}  // namespace vm_manager::console
