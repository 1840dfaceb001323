#include <fmt/format.h>

#include "vm_manager/error.hpp"
#include "vmctl/commands.hpp"

namespace vmctl {
using namespace vm_manager;
namespace {

void run_destroy(Context& ctx, const std::string& name) {
  switch (ctx.manager().destroy(name)) {
    case Destroyed::vm:
      ctx.say(fmt::format("Destroyed VM '{}'", name));
      break;
    case Destroyed::unreadable_record:
      ctx.say(fmt::format("Destroyed VM '{}' (its record was unreadable)", name));
      break;
    case Destroyed::remains:
      ctx.say(fmt::format("Removed the remains of VM '{}'", name));
      break;
  }
}

}  // namespace

void add_destroy_command(CLI::App& app, Context& ctx) {
  auto name = std::make_shared<std::string>();
  auto* cmd = app.add_subcommand("destroy", "Stop a VM if needed and delete it with its disks");
  add_name_argument(*cmd, *name);
  cmd->callback([&ctx, name] { run_destroy(ctx, *name); });
}

}  // namespace vmctl
