#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <filesystem>
#include <string_view>
#include <variant>

#include <fmt/format.h>

#include "console/log_view.hpp"
#include "console/websocket_console.hpp"
#include "vm_manager/error.hpp"
#include "vmctl/commands.hpp"

namespace vmctl {
using namespace vm_manager;
namespace fs = std::filesystem;
namespace {

struct LogArgs {
  std::string name;
  bool follow = false;
  bool console = false;
  std::optional<std::size_t> lines;
};

constexpr std::chrono::seconds kConsoleTimeout{10};

// CLI11 reads "-1" into a size_t as a huge number; accept digits only.
CLI::Validator line_count_validator() {
  return CLI::Validator(
      [](std::string& text) -> std::string {
        std::size_t value = 0;
        auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
        if (text.empty() || ec != std::errc() || end != text.data() + text.size()) {
          return fmt::format("'{}' is not a number of lines (0 or more)", text);
        }
        return {};
      },
      "");
}

// Following ends when the VM is destroyed: its work dir (and log) are gone.
std::function<bool()> while_vm_exists(const VmHandle& handle) {
  if (handle.work_dir.empty()) return {};
  return [work_dir = fs::path(handle.work_dir)] {
    std::error_code ec;
    return fs::exists(work_dir, ec);
  };
}

void write_out(std::string_view bytes) {
  while (!bytes.empty()) {
    ssize_t n = ::write(STDOUT_FILENO, bytes.data(), bytes.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;  // nobody reads our output any more
    bytes.remove_prefix(std::size_t(n));
  }
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

// A console whose backend keeps its history (propolis): that history, then
// with -f the websocket that continues it, until the console closes (the VM
// stopped) or Ctrl-C.
void show_console_history(Context& ctx, const VmHandle& handle, const LogArgs& args) {
  ConsoleHistory history = ctx.hypervisor().console_history(handle);
  write_out(args.lines ? last_lines(history.data, *args.lines) : std::string_view(history.data));
  if (!args.follow) return;
  const auto* web = std::get_if<WebSocketConsole>(&history.follow);
  if (web == nullptr) return;  // nothing more will come
  auto ws = console::WebSocketClient::connect(web->url, web->headers, kConsoleTimeout);
  while (true) {
    if (std::optional<std::string> data = ws.read(std::chrono::seconds(1))) {
      write_out(*data);
    } else if (ws.closed()) {
      return;
    }
  }
}

void run_log(Context& ctx, const LogArgs& args) {
  VmHandle handle = ctx.store().load(args.name).handle;
  // A VM without a log file may still have a live console to read.
  if (args.console || handle.console_log.empty()) {
    ConsoleEndpoint endpoint = ctx.hypervisor().console_endpoint(handle);
    if (std::holds_alternative<WebSocketConsole>(endpoint)) {
      if (ctx.hypervisor().state(handle) != VmState::running) {
        throw Error(errc::console_unavailable,
                    fmt::format("VM '{}' is not running: its console output lives in its {} server, which runs "
                                "only with the VM", args.name, handle.backend),
                    fmt::format("start it with 'vmctl start {}', then 'vmctl log -f {}'", args.name, args.name));
      }
      return show_console_history(ctx, handle, args);
    }
  }
  if (handle.console_log.empty()) {
    throw Error(errc::console_no_log,
                fmt::format("VM '{}' keeps no console log (backend {})", args.name, handle.backend),
                "only VMs of a backend that records console output (such as qemu) have a log");
  }
  if (!args.follow && !fs::exists(handle.console_log)) {
    throw Error(errc::console_no_log, fmt::format("VM '{}' has no console output yet", args.name),
                fmt::format("start it first with 'vmctl start {}', or wait for output with 'vmctl log -f {}'",
                            args.name, args.name));
  }
  console::LogViewOptions options;
  options.last_lines = args.lines;
  options.follow = args.follow;
  options.keep_following = while_vm_exists(handle);
  console::show_log(handle.console_log, STDOUT_FILENO, options);
}

}  // namespace

void add_log_command(CLI::App& app, Context& ctx) {
  auto args = std::make_shared<LogArgs>();
  auto* cmd = app.add_subcommand("log", "Show a VM's console output, as recorded in its console log");
  add_name_argument(*cmd, args->name);
  cmd->add_flag("-f,--follow", args->follow,
                "Keep showing new output as it arrives, until the VM is destroyed or Ctrl-C");
  cmd->add_option("-n,--lines", args->lines, "Show only the last N lines (default: all)")
      ->type_name("N")
      ->check(line_count_validator());
  cmd->add_flag("--console", args->console,
                "Read the live serial console rather than the log file (propolis VMs, which keep no log "
                "file, always do); for qemu VMs the same as without");
  cmd->callback([&ctx, args] { run_log(ctx, *args); });
}

}  // namespace vmctl
