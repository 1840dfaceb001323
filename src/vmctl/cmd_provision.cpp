#include "vmctl/commands.hpp"
#include "vmctl/vmfile_cli.hpp"

namespace vmctl {
using namespace vm_manager;

void add_provision_command(CLI::App& app, Context& ctx) {
  auto flags = std::make_shared<VmfileFlags>();
  auto* cmd = app.add_subcommand("provision", "Run a VMFile's provisioners again on its running VMs");
  add_vmfile_options(*cmd, *flags);
  cmd->callback([&ctx, flags] {
    VmFile file = load_vmfile(ctx, *flags);
    report(ctx, apply_provision(ctx.manager(), file, apply_options(ctx, file, *flags)));
  });
}

}  // namespace vmctl
