#include "vmctl/commands.hpp"
#include "vmctl/vmfile_cli.hpp"

namespace vmctl {
using namespace vm_manager;

namespace {
struct ReloadOptions {
  VmfileFlags vmfile;
  bool no_provision = false;
  unsigned timeout_s = 300;
};
}  // namespace

void add_reload_command(CLI::App& app, Context& ctx) {
  auto o = std::make_shared<ReloadOptions>();
  auto* cmd = app.add_subcommand("reload", "Destroy and recreate the VMs of a VMFile, applying any changes");
  add_vmfile_options(*cmd, o->vmfile);
  cmd->add_flag("--no-provision", o->no_provision, "Do not run the provisioners");
  cmd->add_option("--timeout", o->timeout_s, "Seconds each VM may take to accept SSH and finish cloud-init")
      ->capture_default_str()
      ->check(CLI::Range(1u, 86400u));
  cmd->callback([&ctx, o] {
    vmfile::VmFile file = load_vmfile(o->vmfile);
    run_for_each_vm(ctx, file, o->vmfile, [&](vmfile::ApplyContext apply, const vmfile::VmDefinition& vm) {
      apply.provision = !o->no_provision;
      apply.ready_timeout = std::chrono::seconds(o->timeout_s);
      return vmfile::reload(apply, vm);
    });
  });
}

}  // namespace vmctl
