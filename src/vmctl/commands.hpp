// One function per vmctl command; each lives in its own cmd_<name>.cpp.
#pragma once

#include <CLI/CLI.hpp>

#include "vmctl/context.hpp"

namespace vmctl {

void add_create_command(CLI::App& app, Context& ctx);
void add_start_command(CLI::App& app, Context& ctx);
void add_stop_command(CLI::App& app, Context& ctx);
void add_restart_command(CLI::App& app, Context& ctx);
void add_suspend_command(CLI::App& app, Context& ctx);
void add_resume_command(CLI::App& app, Context& ctx);
void add_destroy_command(CLI::App& app, Context& ctx);
void add_list_command(CLI::App& app, Context& ctx);
void add_status_command(CLI::App& app, Context& ctx);
void add_console_command(CLI::App& app, Context& ctx);
void add_log_command(CLI::App& app, Context& ctx);
void add_image_command(CLI::App& app, Context& ctx);
void add_ssh_command(CLI::App& app, Context& ctx);
void add_ssh_config_command(CLI::App& app, Context& ctx);
void add_cp_command(CLI::App& app, Context& ctx);
void add_validate_command(CLI::App& app, Context& ctx);
void add_up_command(CLI::App& app, Context& ctx);
void add_down_command(CLI::App& app, Context& ctx);
void add_reload_command(CLI::App& app, Context& ctx);
void add_provision_command(CLI::App& app, Context& ctx);
void add_vnc_command(CLI::App& app, Context& ctx);
void add_port_command(CLI::App& app, Context& ctx);
void add_set_command(CLI::App& app, Context& ctx);
void add_snapshot_command(CLI::App& app, Context& ctx);
void add_hosts_command(CLI::App& app, Context& ctx);
void add_completion_command(CLI::App& app, Context& ctx);
// The hidden `__complete vms|images` the completion scripts call.
void add_complete_names_command(CLI::App& app, Context& ctx);

// The positional VM name every per-VM command takes. The completion scripts
// offer VM names for every positional called "name" (cmd_completion.cpp).
CLI::Option* add_name_argument(CLI::App& command, std::string& name);

}  // namespace vmctl
