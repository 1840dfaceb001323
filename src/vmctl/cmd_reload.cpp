#include "vmctl/commands.hpp"
#include "vmctl/vmfile_cli.hpp"

namespace vmctl {
using namespace vm_manager;

void add_reload_command(CLI::App& app, Context& ctx) {
  auto flags = std::make_shared<BringUpFlags>();
  auto* cmd = app.add_subcommand("reload", "Destroy and recreate the VMs of a VMFile, applying any changes");
  add_bring_up_options(*cmd, *flags);
  cmd->callback([&ctx, flags] {
    VmFile file = load_vmfile(ctx, flags->vmfile);
    report(ctx, apply_reload(ctx.manager(), file, apply_options(ctx, file, *flags)));
  });
}

}  // namespace vmctl
