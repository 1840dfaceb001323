#include <fmt/format.h>

#include "vmctl/commands.hpp"
#include "vmctl/vm_view.hpp"
#include "vmctl/wait_ready.hpp"

namespace vmctl {
using namespace vm_manager;

void add_start_command(CLI::App& app, Context& ctx) {
  auto name = std::make_shared<std::string>();
  auto wait = std::make_shared<WaitFlags>();
  auto* cmd = app.add_subcommand("start", "Start a VM");
  add_name_argument(*cmd, *name);
  add_wait_options(*cmd, *wait);
  cmd->callback([&ctx, name, wait] {
    bool was_running = false;
    VmRecord record = ctx.manager().start(*name, &was_running);
    ctx.say(was_running ? fmt::format("VM '{}' is already running", *name)
                        : fmt::format("Started VM '{}'", *name));
    show_vnc_password(record.handle);
    // Outside the VM's lock: others may use the VM while it boots.
    if (wait->wait) wait_until_ready(ctx, record.handle, *wait);
  });
}

}  // namespace vmctl
