// vmctl restart NAME [--hard]: stop (ACPI, bounded by --timeout) then start,
// or with --hard the reset button (the guest reboots without shutting down).
#include <fmt/format.h>

#include "vmctl/commands.hpp"
#include "vmctl/vm_view.hpp"

namespace vmctl {
using namespace vm_manager;
namespace {

struct RestartOptions {
  std::string name;
  unsigned timeout_s = 30;
  bool hard = false;
};

}  // namespace

void add_restart_command(CLI::App& app, Context& ctx) {
  auto o = std::make_shared<RestartOptions>();
  auto* cmd = app.add_subcommand("restart", "Stop a VM gracefully and start it again, or reset it with --hard");
  add_name_argument(*cmd, o->name);
  auto* timeout = cmd->add_option("--timeout", o->timeout_s, "Seconds to wait for a graceful shutdown")
                      ->capture_default_str()
                      ->check(CLI::Range(0u, 3600u));
  cmd->add_flag("--hard", o->hard, "Reset the running VM at once, as the reset button does (no shutdown)")
      ->excludes(timeout);
  cmd->callback([&ctx, o] {
    if (o->hard) {
      ctx.manager().hard_reset(o->name);
      ctx.say(fmt::format("Reset VM '{}'", o->name));
      return;
    }
    VmRecord record = ctx.manager().restart(o->name, std::chrono::milliseconds(o->timeout_s * 1000ull));
    ctx.say(fmt::format("Restarted VM '{}'", o->name));
    show_vnc_password(record.handle);
  });
}

}  // namespace vmctl
