#include <poll.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <filesystem>
#include <string_view>
#include <system_error>
#include <variant>

#include <fmt/format.h>

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
  bool provision = false;
  std::optional<std::size_t> lines;
};

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

// 0, or the errno of the write that failed.
int write_out(std::string_view bytes) {
  while (!bytes.empty()) {
    ssize_t n = ::write(STDOUT_FILENO, bytes.data(), bytes.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) {  // a non-blocking stdout that is full
      pollfd out{STDOUT_FILENO, POLLOUT, 0};
      ::poll(&out, 1, -1);
      continue;
    }
    if (n < 0) return errno;
    if (n == 0) return EIO;
    bytes.remove_prefix(std::size_t(n));
  }
  return 0;
}

// A console's history goes out as far as anybody reads it.
void write_history(std::string_view bytes) { write_out(bytes); }

// A log file's lines must all arrive: a failed write ends the command.
void write_log(std::string_view bytes) {
  if (int err = write_out(bytes); err != 0) {
    throw Error(errc::console_no_log,
                fmt::format("cannot write the console log out: {}", std::error_code(err, std::generic_category()).message()),
                "check where vmctl's output goes (a full disk, a closed pipe)");
  }
}

// The library's refusals, with the vmctl commands that help. True when the
// output comes from the history the VM's backend keeps, not from a log file.
bool check_readable(Context& ctx, const VmHandle& handle, const LogArgs& args) {
  // A VM without a log file may still have a live console to read.
  if (args.console || handle.console_log.empty()) {
    if (std::holds_alternative<WebSocketConsole>(ctx.manager().console_endpoint(args.name))) {
      if (ctx.manager().state(handle) != VmState::running) {
        throw Error(errc::console_unavailable,
                    fmt::format("VM '{}' is not running: its console output lives in its {} server, which runs "
                                "only with the VM", args.name, handle.backend),
                    fmt::format("start it with 'vmctl start {}', then 'vmctl log -f {}'", args.name, args.name));
      }
      return true;
    }
    if (handle.console_log.empty() && std::holds_alternative<BackendConsole>(ctx.manager().console_endpoint(args.name))) {
      return true;  // the backend hands its log out itself (a remote libvirt host)
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
  return false;
}

void run_provision_log(Context& ctx, const LogArgs& args) {
  if (args.console) {
    throw Error(errc::spec_invalid, "--provision and --console show different logs",
                "pass one of them: --provision shows the provisioning steps' output, --console the serial console");
  }
  ConsoleLogOptions options;
  options.last_lines = args.lines;
  options.follow = args.follow;
  ctx.manager().provision_log(args.name, options, write_log);
}

void run_log(Context& ctx, const LogArgs& args) {
  if (args.provision) return run_provision_log(ctx, args);
  bool history = check_readable(ctx, ctx.manager().get(args.name).handle, args);
  ConsoleLogOptions options;
  options.last_lines = args.lines;
  options.follow = args.follow;
  options.live = args.console;
  ctx.manager().console_log(args.name, options, history ? write_history : write_log);
}

}  // namespace

void add_log_command(CLI::App& app, Context& ctx) {
  auto args = std::make_shared<LogArgs>();
  auto* cmd = app.add_subcommand("log", "Show a VM's console output, as recorded in its console log");
  add_name_argument(*cmd, args->name);
  cmd->add_flag("-f,--follow", args->follow,
                "Keep showing new output as it arrives, until the VM is destroyed or Ctrl-C");
  cmd->add_option("-n,--lines,--tail", args->lines, "Show only the last N lines (default: all)")
      ->type_name("N")
      ->check(line_count_validator());
  cmd->add_flag("--console", args->console,
                "Read the live serial console rather than the log file (propolis VMs, which keep no log "
                "file, always do); for qemu VMs the same as without");
  cmd->add_flag("--provision", args->provision,
                "Show the output of the VM's provisioning steps (its provision.log) instead of its console");
  cmd->callback([&ctx, args] { run_log(ctx, *args); });
}

}  // namespace vmctl
