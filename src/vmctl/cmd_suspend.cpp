#include <fmt/format.h>

#include "vmctl/commands.hpp"

namespace vmctl {
using namespace vm_manager;

void add_suspend_command(CLI::App& app, Context& ctx) {
  auto name = std::make_shared<std::string>();
  auto* cmd = app.add_subcommand("suspend", "Pause a running VM");
  add_name_argument(*cmd, *name);
  cmd->callback([&ctx, name] {
    ctx.manager().suspend(*name);
    ctx.say(fmt::format("Suspended VM '{}'", *name));
  });
}

}  // namespace vmctl
