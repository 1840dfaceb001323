#include "vmctl/commands.hpp"
#include "vmctl/vmfile_cli.hpp"

namespace vmctl {
using namespace vm_manager;

namespace {
struct UpOptions {
  VmfileFlags vmfile;
  bool no_provision = false;
  unsigned timeout_s = 300;
};
}  // namespace

void add_up_command(CLI::App& app, Context& ctx) {
  auto o = std::make_shared<UpOptions>();
  auto* cmd = app.add_subcommand("up", "Create, start and provision the VMs of a VMFile; resume or start existing ones");
  add_vmfile_options(*cmd, o->vmfile);
  cmd->add_flag("--no-provision", o->no_provision, "Do not run the provisioners of new VMs");
  cmd->add_option("--timeout", o->timeout_s, "Seconds each VM may take to accept SSH and finish cloud-init")
      ->capture_default_str()
      ->check(CLI::Range(1u, 86400u));
  cmd->callback([&ctx, o] {
    vmfile::VmFile file = load_vmfile(o->vmfile);
    run_for_each_vm(ctx, file, o->vmfile, [&](vmfile::ApplyContext apply, const vmfile::VmDefinition& vm) {
      apply.provision = !o->no_provision;
      apply.ready_timeout = std::chrono::seconds(o->timeout_s);
      return vmfile::up(apply, vm);
    });
  });
}

}  // namespace vmctl
