#include "vmctl/command_list.hpp"

#include "vm_manager/version.hpp"
#include "vmctl/commands.hpp"

namespace vmctl {
namespace {

// A plain list: add a command with one line.
constexpr Command kCommands[] = {
    {"create", add_create_command},       {"start", add_start_command},
    {"stop", add_stop_command},           {"restart", add_restart_command},
    {"suspend", add_suspend_command},
    {"resume", add_resume_command},       {"destroy", add_destroy_command},
    {"list", add_list_command},           {"status", add_status_command},
    {"console", add_console_command},     {"log", add_log_command},
    {"image", add_image_command},         {"ssh", add_ssh_command},
    {"ssh-config", add_ssh_config_command}, {"cp", add_cp_command},
    {"validate", add_validate_command},   {"up", add_up_command},
    {"down", add_down_command},           {"reload", add_reload_command},
    {"provision", add_provision_command}, {"vnc", add_vnc_command},
    {"port", add_port_command},
    {"set", add_set_command},
    {"snapshot", add_snapshot_command},
    {"hosts", add_hosts_command},
    {"completion", add_completion_command},
    {"__complete", add_complete_names_command},
};

}  // namespace

std::span<const Command> all_commands() { return kCommands; }

std::unique_ptr<CLI::App> make_root_app(Context& ctx) {
  auto app = std::make_unique<CLI::App>("vmctl: create, run and control virtual machines", "vmctl");
  app->set_version_flag("--version", std::string("vmctl ") + VM_MANAGER_VERSION);
  app->add_option("--data-dir", ctx.options.data_dir, "Where VMs are kept (default: $VMCTL_DATA_DIR, "
                                                      "$XDG_DATA_HOME/vmctl or ~/.local/share/vmctl)");
  app->add_flag("--allow-foreign-owner", ctx.options.allow_foreign_owner,
                "Use a data dir owned by another user (as root: that user can then steer what root does there)");
  app->add_flag("-v,--verbose", ctx.options.verbosity, "More detail; repeat for more");
  app->add_flag("-q,--quiet", ctx.options.quiet, "Only errors");
  app->require_subcommand(1);
  app->fallthrough();  // global options may also follow the command
  return app;
}

}  // namespace vmctl
