#include <unistd.h>

#include <charconv>
#include <filesystem>

#include <fmt/format.h>

#include "console/log_view.hpp"
#include "vm_manager/error.hpp"
#include "vmctl/commands.hpp"

namespace vmctl {
using namespace vm_manager;
namespace fs = std::filesystem;
namespace {

struct LogArgs {
  std::string name;
  bool follow = false;
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

// Following ends when the VM is destroyed: its work dir (and log) are gone.
std::function<bool()> while_vm_exists(const VmHandle& handle) {
  if (handle.work_dir.empty()) return {};
  return [work_dir = fs::path(handle.work_dir)] {
    std::error_code ec;
    return fs::exists(work_dir, ec);
  };
}

void run_log(Context& ctx, const LogArgs& args) {
  VmHandle handle = ctx.store().load(args.name).handle;
  if (handle.console_log.empty()) {
    throw Error(errc::console_no_log,
                fmt::format("VM '{}' keeps no console log (backend {})", args.name, to_string(handle.backend)),
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
  cmd->callback([&ctx, args] { run_log(ctx, *args); });
}

}  // namespace vmctl
