#include "vmctl/commands.hpp"
#include "vmctl/vmfile_cli.hpp"

namespace vmctl {
using namespace vm_manager;

void add_reload_command(CLI::App& app, Context& ctx) {
  auto flags = std::make_shared<BringUpFlags>();
  auto* cmd = app.add_subcommand("reload", "Destroy and recreate the VMs of a VMFile, applying any changes");
  add_bring_up_options(*cmd, *flags);
  cmd->callback([&ctx, flags] {
    vmfile::VmFile file = load_vmfile(ctx, flags->vmfile);
    run_for_each_vm(ctx, file, flags->vmfile, [&](const vmfile::ApplyContext& apply, const vmfile::VmDefinition& vm) {
      return vmfile::reload(with_bring_up_flags(apply, *flags), vm);
    });
  });
}

}  // namespace vmctl
