#include "vmctl/commands.hpp"
#include "vmctl/vmfile_cli.hpp"

namespace vmctl {
using namespace vm_manager;

namespace {
struct DownOptions {
  VmfileFlags vmfile;
  bool destroy = false;
  unsigned timeout_s = 30;
};
}  // namespace

void add_down_command(CLI::App& app, Context& ctx) {
  auto o = std::make_shared<DownOptions>();
  auto* cmd = app.add_subcommand("down", "Stop the VMs of a VMFile (or destroy them with --destroy)");
  add_vmfile_options(*cmd, o->vmfile);
  cmd->add_flag("--destroy", o->destroy, "Destroy the VMs and their disks instead of stopping them");
  cmd->add_option("--timeout", o->timeout_s, "Seconds to wait for each graceful shutdown")
      ->capture_default_str()
      ->check(CLI::Range(0u, 3600u));
  cmd->callback([&ctx, o] {
    VmFile file = load_vmfile(ctx, o->vmfile);
    ApplyOptions options = apply_options(ctx, file, o->vmfile);
    options.stop_timeout = std::chrono::seconds(o->timeout_s);
    report(ctx, apply_down(ctx.manager(), file, o->destroy, options));
  });
}

}  // namespace vmctl
