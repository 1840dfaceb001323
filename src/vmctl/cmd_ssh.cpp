#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <system_error>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "os/files.hpp"
#include "vm_manager/error.hpp"
#include "vmctl/commands.hpp"
#include "vmctl/guest_access.hpp"
#include "vmctl/vmfile_cli.hpp"

namespace vmctl {
using namespace vm_manager;
namespace fs = std::filesystem;
namespace {

struct SshArgs {
  std::string name;  // empty: the one VM of the VMFile
  std::string vmfile;
  std::string user;  // empty: the VM's recorded login user
  std::string key;   // empty: the recorded key, the agent, then ~/.ssh's
  unsigned timeout_s = 30;
  std::vector<std::string> command;
};

// The keys OpenSSH users keep, in the order the first vmctl tried them.
constexpr const char* kDefaultKeys[] = {"id_ed25519", "id_ecdsa", "id_rsa"};

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

// No NAME: the VM of ./VMFile.kdl (or --file), when it defines just one.
std::string vm_of_vmfile(Context& ctx, const SshArgs& args) {
  VmfileFlags flags;
  flags.file = args.vmfile;
  VmFile file;
  try {
    file = load_vmfile(ctx, flags);
  } catch (const Error& e) {
    if (e.code() != errc::vmfile_not_found || !args.vmfile.empty()) throw;
    throw Error(e.code(), fmt::format("no VM named and no VMFile.kdl in {}", fs::current_path().string()),
                "name the VM: vmctl ssh NAME ('vmctl list' shows them), or pass --file PATH");
  }
  if (file.vms.size() == 1) return file.vms.front().spec.name;
  std::vector<std::string> names;
  for (const auto& vm : file.vms) names.push_back(vm.spec.name);
  throw Error(errc::ssh_which_vm,
              fmt::format("{} defines {} VMs: {}", file.path.string(), names.size(), fmt::join(names, ", ")),
              fmt::format("name the one to log into, e.g. 'vmctl ssh {}'", names.front()));
}

std::string existing_key(const std::string& key) {
  std::error_code ec;
  fs::path path = fs::absolute(key, ec);
  if (ec || !fs::is_regular_file(path, ec)) {
    throw Error(errc::spec_invalid, fmt::format("--key {} does not exist or is not a file", key),
                "pass the path of a private key file");
  }
  return path.string();
}

// Without a usable recorded key: OpenSSH tries the agent's keys first, then
// these files, in this order (none of them: the agent alone).
std::vector<std::string> fallback_identities(Context& ctx) {
  std::vector<std::string> settings;
  std::optional<std::string> home = ctx.environment().get("HOME");
  if (!home) return settings;
  for (const char* key : kDefaultKeys) {
    std::error_code ec;
    fs::path path = fs::path(*home) / ".ssh" / key;
    if (fs::is_regular_file(path, ec)) settings.push_back(identity_file_setting(path.string()));
  }
  return settings;
}

// --user, --key, else the VM's recorded login, then the agent and ~/.ssh.
std::vector<std::string> login_settings(Context& ctx, const SshArgs& args, const std::string& name) {
  SshAccess access = ctx.manager().ssh_access(name);
  if (!args.user.empty()) access.user = args.user;
  if (!args.key.empty()) access.identity_file = existing_key(args.key);
  std::vector<std::string> settings = openssh_settings(access);
  if (access.identity_file.empty()) {
    if (!access.missing_identity_file.empty()) {
      ctx.note(fmt::format("VM '{}''s key {} is gone; trying the SSH agent and ~/.ssh's keys", name,
                           access.missing_identity_file));
    }
    for (std::string& line : fallback_identities(ctx)) settings.push_back(std::move(line));
  }
  return settings;
}

// OpenSSH runs a ProxyJump as `ssh -F <this file> …` through the shell,
// without quoting the file's name.
bool safe_for_a_shell(const std::string& path) {
  return path.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789/._+-") ==
         std::string::npos;
}

// -J cannot carry the jump host's own options (its key, its known_hosts), so
// a VM behind a jump host gets the whole config as a file in its work dir,
// the same text `vmctl ssh-config` prints; ssh reads it alone (-F).
std::vector<std::string> config_file_arguments(const std::string& name, const VmHandle& handle,
                                               const std::vector<std::string>& settings) {
  const fs::path file = fs::path(handle.work_dir) / "ssh_config";
  if (!safe_for_a_shell(file.string())) {
    throw Error(errc::spec_invalid,
                fmt::format("VM '{}' runs behind a jump host, and its ssh config file {} has characters OpenSSH's "
                            "ProxyJump would hand to a shell unquoted",
                            name, file.string()),
                "use 'vmctl ssh-config' and a config file of your own, or a data dir whose path has only letters, "
                "digits and / . _ + -");
  }
  os::write_file_atomic(file, openssh_config(name, settings, handle.ssh_jump), 0600);
  return {"-F", file.string()};
}

void run_ssh(Context& ctx, const SshArgs& args) {
  const std::string name = args.name.empty() ? vm_of_vmfile(ctx, args) : args.name;
  std::vector<std::string> settings = login_settings(ctx, args, name);
  const VmHandle handle = ctx.manager().get(name).handle;
  if (args.timeout_s > 0) ctx.manager().wait_for_ssh_server(name, std::chrono::seconds(args.timeout_s));
  std::vector<std::string> argv = {ssh_program(ctx)};
  if (handle.ssh_jump) {
    for (std::string& arg : config_file_arguments(name, handle, settings)) argv.push_back(std::move(arg));
  } else {
    for (std::string& arg : openssh_arguments(settings)) argv.push_back(std::move(arg));
  }
  argv.push_back("--");
  argv.push_back(name);  // HostName above says where; the name shows in ssh's messages
  argv.insert(argv.end(), args.command.begin(), args.command.end());
  exec_ssh(argv);
}

}  // namespace

void add_ssh_command(CLI::App& app, Context& ctx) {
  auto args = std::make_shared<SshArgs>();
  auto* cmd = app.add_subcommand("ssh", "Log into a VM, or run one command in it (vmctl ssh NAME -- CMD…)");
  cmd->add_option("name", args->name,
                  "VM name (default: the VM of ./VMFile.kdl, when it defines one; a command needs the name)");
  cmd->add_option("command", args->command, "Command to run instead of a login shell; its exit status is vmctl's");
  cmd->add_option("--user", args->user, "Log in as this user (default: the VM's login user)");
  cmd->add_option("--key", args->key,
                  "Log in with this private key (default: the VM's key, else the SSH agent, then ~/.ssh/id_ed25519, "
                  "id_ecdsa and id_rsa)");
  cmd->add_option("--timeout", args->timeout_s, "Seconds to wait for the guest's SSH server to answer (0: don't wait)")
      ->capture_default_str()
      ->check(CLI::Range(0u, 86400u));
  cmd->add_option("--file", args->vmfile, "The VMFile to take the VM from when no NAME is given");
  cmd->callback([&ctx, args] { run_ssh(ctx, *args); });
}

void add_ssh_config_command(CLI::App& app, Context& ctx) {
  auto name = std::make_shared<std::string>();
  auto* cmd = app.add_subcommand("ssh-config", "Print an OpenSSH config block for a VM (for ssh, scp, rsync, IDEs)");
  add_name_argument(*cmd, *name);
  cmd->callback([&ctx, name] {
    const std::vector<std::string> settings = openssh_settings(ctx.manager().ssh_access(*name));
    std::fputs(openssh_config(*name, settings, ctx.manager().get(*name).handle.ssh_jump).c_str(), stdout);
  });
}

}  // namespace vmctl
