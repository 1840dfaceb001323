#include <fmt/format.h>

#include "vmctl/commands.hpp"

namespace vmctl {
using namespace vm_manager;
namespace {

struct StopOptions {
  std::string name;
  unsigned timeout_s = 30;
  bool force = false;
};

}  // namespace

void add_stop_command(CLI::App& app, Context& ctx) {
  auto o = std::make_shared<StopOptions>();
  auto* cmd = app.add_subcommand("stop", "Shut a VM down: gracefully, then forcefully after --timeout");
  add_name_argument(*cmd, o->name);
  cmd->add_option("--timeout", o->timeout_s, "Seconds to wait for a graceful shutdown")
      ->capture_default_str()
      ->check(CLI::Range(0u, 3600u));
  cmd->add_flag("--force", o->force, "Skip the graceful shutdown");
  cmd->callback([&ctx, o] {
    // A zero graceful period is how --force skips the ACPI request.
    auto timeout = o->force ? std::chrono::milliseconds(0) : std::chrono::milliseconds(o->timeout_s * 1000ull);
    ctx.manager().stop(o->name, timeout);
    ctx.say(fmt::format("Stopped VM '{}'", o->name));
  });
}

}  // namespace vmctl
