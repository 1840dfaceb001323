#include <fmt/format.h>

#include "vmctl/commands.hpp"

namespace vmctl {
using namespace vm_manager;

void add_start_command(CLI::App& app, Context& ctx) {
  auto name = std::make_shared<std::string>();
  auto* cmd = app.add_subcommand("start", "Start a VM");
  add_name_argument(*cmd, *name);
  cmd->callback([&ctx, name] {
    bool was_running = false;
    ctx.change_vm(*name, [&](const VmRecord& record) {
      if (ctx.hypervisor().state(record.handle) == VmState::running) {
        was_running = true;  // starting a running VM is what the user wanted already
        return record.handle;
      }
      return ctx.hypervisor().start(record.handle);
    });
    ctx.say(was_running ? fmt::format("VM '{}' is already running", *name)
                        : fmt::format("Started VM '{}'", *name));
  });
}

}  // namespace vmctl
