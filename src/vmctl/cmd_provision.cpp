#include "vmctl/commands.hpp"
#include "vmctl/vmfile_cli.hpp"

namespace vmctl {
using namespace vm_manager;

void add_provision_command(CLI::App& app, Context& ctx) {
  auto flags = std::make_shared<VmfileFlags>();
  auto* cmd = app.add_subcommand("provision", "Run a VMFile's provisioners again on its running VMs");
  add_vmfile_options(*cmd, *flags);
  cmd->callback([&ctx, flags] {
    vmfile::VmFile file = load_vmfile(ctx, *flags);
    run_for_each_vm(ctx, file, *flags, [](const vmfile::ApplyContext& apply, const vmfile::VmDefinition& vm) {
      return vmfile::provision(apply, vm);
    });
  });
}

}  // namespace vmctl
