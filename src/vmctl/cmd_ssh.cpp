#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include <fmt/format.h>

#include "vm_manager/error.hpp"
#include "vmctl/commands.hpp"
#include "vmctl/guest_access.hpp"

namespace vmctl {
using namespace vm_manager;
namespace {

std::string ssh_program(Context& ctx) { return ctx.environment().get("VMCTL_SSH").value_or("ssh"); }

// Becomes the system's OpenSSH client, so the terminal, signals and the
// remote command's exit status are exactly ssh's.
[[noreturn]] void exec_ssh(const std::vector<std::string>& argv) {
  std::vector<char*> raw;
  for (const std::string& arg : argv) raw.push_back(const_cast<char*>(arg.c_str()));
  raw.push_back(nullptr);
  std::fflush(nullptr);
  ::execvp(raw[0], raw.data());
  int error = errno;
  throw Error(errc::process_spawn_failed, fmt::format("cannot run {}: {}", argv[0], std::strerror(error)),
              "install the OpenSSH client (apt-get install openssh-client), or set VMCTL_SSH");
}

void run_ssh(Context& ctx, const std::string& name, const std::vector<std::string>& command) {
  std::vector<std::string> argv = {ssh_program(ctx)};
  for (std::string& arg : openssh_arguments(ctx.manager().ssh_access(name))) argv.push_back(std::move(arg));
  argv.push_back("--");
  argv.push_back(name);  // HostName above says where; the name shows in ssh's messages
  argv.insert(argv.end(), command.begin(), command.end());
  exec_ssh(argv);
}

}  // namespace

void add_ssh_command(CLI::App& app, Context& ctx) {
  auto name = std::make_shared<std::string>();
  auto command = std::make_shared<std::vector<std::string>>();
  auto* cmd = app.add_subcommand("ssh", "Log into a VM, or run one command in it (vmctl ssh NAME -- CMD…)");
  add_name_argument(*cmd, *name);
  cmd->add_option("command", *command, "Command to run instead of a login shell; its exit status is vmctl's");
  cmd->callback([&ctx, name, command] { run_ssh(ctx, *name, *command); });
}

void add_ssh_config_command(CLI::App& app, Context& ctx) {
  auto name = std::make_shared<std::string>();
  auto* cmd = app.add_subcommand("ssh-config", "Print an OpenSSH config block for a VM (for ssh, scp, rsync, IDEs)");
  add_name_argument(*cmd, *name);
  cmd->callback([&ctx, name] {
    std::string out = "Host " + *name + "\n";
    for (const std::string& line : openssh_settings(ctx.manager().ssh_access(*name))) {
      out += "  " + line + "\n";
    }
    std::fputs(out.c_str(), stdout);
  });
}

}  // namespace vmctl
