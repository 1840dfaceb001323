#include <fmt/format.h>

#include "vmctl/commands.hpp"

namespace vmctl {
using namespace vm_manager;

void add_resume_command(CLI::App& app, Context& ctx) {
  auto name = std::make_shared<std::string>();
  auto* cmd = app.add_subcommand("resume", "Continue a suspended VM");
  add_name_argument(*cmd, *name);
  cmd->callback([&ctx, name] {
    ctx.manager().resume(*name);
    ctx.say(fmt::format("Resumed VM '{}'", *name));
  });
}

}  // namespace vmctl
