#include "vmctl/commands.hpp"
#include "vmctl/publish.hpp"
#include "vmctl/vmfile_cli.hpp"

namespace vmctl {
using namespace vm_manager;
namespace {

// The one-line warning `create --publish` gives, for the VMs `up` handles.
void warn_about_reachable_ports(const VmFile& file, const std::string& only) {
  for (const VmDefinition& vm : file.vms) {
    if (!only.empty() && vm.spec.name != only) continue;
    for (const PortForward& forward : vm.spec.port_forwards) warn_if_reachable_from_outside(forward);
  }
}

}  // namespace

void add_up_command(CLI::App& app, Context& ctx) {
  auto flags = std::make_shared<BringUpFlags>();
  auto* cmd = app.add_subcommand("up", "Create, start and provision the VMs of a VMFile; resume or start existing ones");
  add_bring_up_options(*cmd, *flags);
  cmd->callback([&ctx, flags] {
    VmFile file = load_vmfile(ctx, flags->vmfile);
    warn_about_reachable_ports(file, flags->vmfile.name);
    report(ctx, apply_up(ctx.manager(), file, apply_options(ctx, file, *flags)));
  });
}

}  // namespace vmctl
