// VmManager and serial consoles: attaching to one, and reading what one
// printed. The backend says where the console is (Hypervisor::console_endpoint)
// and whether it keeps its history (console_history); nothing here names a
// backend.
#include <unistd.h>

#include <cerrno>
#include <functional>
#include <variant>

#include <fmt/format.h>

#include "console/attach.hpp"
#include "console/log_view.hpp"
#include "console/websocket_console.hpp"
#include "os/unique_fd.hpp"
#include "vm_manager/error.hpp"
#include "vm_manager/manager.hpp"

namespace vm_manager {
namespace fs = std::filesystem;
namespace {

constexpr std::chrono::seconds kConsoleConnectTimeout{10};

ConsoleEnd end_of(console::AttachEnd end) {
  switch (end) {
    case console::AttachEnd::detached:
      return ConsoleEnd::detached;
    case console::AttachEnd::input_closed:
      return ConsoleEnd::input_closed;
    case console::AttachEnd::console_closed:
      return ConsoleEnd::console_closed;
  }
  return ConsoleEnd::console_closed;
}

// The last `lines` lines of text (a final unterminated line counts as one).
std::string_view last_lines(std::string_view text, std::size_t lines) {
  if (lines == 0) return {};
  std::size_t end = text.size();
  if (end > 0 && text[end - 1] == '\n') --end;
  while (end > 0) {
    std::size_t newline = text.rfind('\n', end - 1);
    if (newline == std::string_view::npos) return text;
    if (--lines == 0) return text.substr(newline + 1);
    end = newline;
  }
  return text;
}

// What the backend kept, then (following) its websocket until the console
// closes: the history's `follow` continues it without a gap or a repeat.
// Follows a console the backend opened (BackendConsole) until it closes.
void follow_stream(int fd, const OutputSink& sink) {
  os::UniqueFd console(fd);
  char buffer[16 * 1024];
  while (true) {
    ssize_t n = ::read(console.get(), buffer, sizeof(buffer));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    sink(std::string_view(buffer, std::size_t(n)));
  }
}

void send_history(const ConsoleHistory& history, const ConsoleLogOptions& options, const OutputSink& sink,
                  const std::function<int()>& open_backend_console = {}) {
  sink(options.last_lines ? last_lines(history.data, *options.last_lines) : std::string_view(history.data));
  if (!options.follow) return;
  if (std::holds_alternative<BackendConsole>(history.follow) && open_backend_console) {
    return follow_stream(open_backend_console(), sink);
  }
  const auto* web = std::get_if<WebSocketConsole>(&history.follow);
  if (web == nullptr) return;  // nothing more will come
  auto ws = console::WebSocketClient::connect(web->url, web->headers, kConsoleConnectTimeout);
  while (true) {
    if (std::optional<std::string> data = ws.read(std::chrono::seconds(1))) {
      sink(*data);
    } else if (ws.closed()) {
      return;
    }
  }
}

// Following a log file ends when the VM is destroyed: its work dir goes.
std::function<bool()> while_exists(const std::string& work_dir) {
  if (work_dir.empty()) return {};
  return [dir = fs::path(work_dir)] {
    std::error_code ec;
    return fs::exists(dir, ec);
  };
}

}  // namespace

ConsoleEndpoint VmManager::console_endpoint(std::string_view name) {
  return hypervisor_.console_endpoint(get(name).handle);
}

ConsoleEnd VmManager::attach_console(std::string_view name, int in_fd, int out_fd,
                                     const ConsoleAttachOptions& options) {
  VmHandle handle = get(name).handle;
  ConsoleEndpoint endpoint = hypervisor_.console_endpoint(handle);
  console::AttachOptions attach;
  attach.on_connected = options.on_connected;
  attach.on_console_closed = options.on_console_closed;
  attach.connect_timeout = kConsoleConnectTimeout;
  if (const auto* web = std::get_if<WebSocketConsole>(&endpoint)) {
    return end_of(console::attach_websocket_console(web->url, web->headers, in_fd, out_fd, attach));
  }
  if (const auto* unix_socket = std::get_if<UnixSocketConsole>(&endpoint)) {
    return end_of(console::attach_unix_console(unix_socket->path, in_fd, out_fd, attach));
  }
  if (std::holds_alternative<BackendConsole>(endpoint)) {
    return end_of(console::attach_connected_console(hypervisor_.open_console(handle), in_fd, out_fd, attach));
  }
  throw Error(errc::console_unavailable,
              fmt::format("VM '{}' has no serial console (backend {})", handle.name, handle.backend),
              "only VMs of a backend with a serial console (such as qemu or propolis) can be attached");
}

void VmManager::console_log(std::string_view name, const ConsoleLogOptions& options, const OutputSink& sink) {
  VmHandle handle = get(name).handle;
  // A VM without a log file may still have a console whose backend keeps
  // what it printed.
  if (options.live || handle.console_log.empty()) {
    if (std::holds_alternative<WebSocketConsole>(hypervisor_.console_endpoint(handle))) {
      if (hypervisor_.state(handle) != VmState::running) {
        throw Error(errc::console_unavailable,
                    fmt::format("VM '{}' is not running: its console output lives in its {} server, which runs "
                                "only with the VM", handle.name, handle.backend),
                    "start the VM, then read its console");
      }
      return send_history(hypervisor_.console_history(handle), options, sink);
    }
    // A backend whose log lives where only it can read (a remote libvirt
    // host) hands it out itself, running or not.
    if (handle.console_log.empty() && std::holds_alternative<BackendConsole>(hypervisor_.console_endpoint(handle))) {
      return send_history(hypervisor_.console_history(handle), options, sink,
                          [&] { return hypervisor_.open_console(handle); });
    }
  }
  if (handle.console_log.empty()) {
    throw Error(errc::console_no_log,
                fmt::format("VM '{}' keeps no console log (backend {})", handle.name, handle.backend),
                "only VMs of a backend that records console output (such as qemu) have a log");
  }
  console::LogViewOptions view;
  view.last_lines = options.last_lines;
  view.follow = options.follow;
  view.keep_following = while_exists(handle.work_dir);
  console::show_log(handle.console_log, sink, view);
}

void VmManager::provision_log(std::string_view name, const ConsoleLogOptions& options, const OutputSink& sink) {
  VmHandle handle = get(name).handle;
  const fs::path log = fs::path(handle.work_dir) / "provision.log";
  std::error_code ec;
  if (!options.follow && (handle.work_dir.empty() || !fs::exists(log, ec))) {
    throw Error(errc::provision_no_log, fmt::format("VM '{}' has no provision log: it was never provisioned", name),
                "provision the VM first; its steps' output is kept in provision.log");
  }
  console::LogViewOptions view;
  view.last_lines = options.last_lines;
  view.follow = options.follow;
  view.keep_following = while_exists(handle.work_dir);
  console::show_log(log, sink, view);
}

}  // namespace vm_manager
