#include "vmctl/commands.hpp"
#include "vmctl/vmfile_cli.hpp"

namespace vmctl {
using namespace vm_manager;

void add_up_command(CLI::App& app, Context& ctx) {
  auto flags = std::make_shared<BringUpFlags>();
  auto* cmd = app.add_subcommand("up", "Create, start and provision the VMs of a VMFile; resume or start existing ones");
  add_bring_up_options(*cmd, *flags);
  cmd->callback([&ctx, flags] {
    VmFile file = load_vmfile(ctx, flags->vmfile);
    report(ctx, apply_up(ctx.manager(), file, apply_options(ctx, file, *flags)));
  });
}

}  // namespace vmctl
