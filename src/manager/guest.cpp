// VmManager's way into guests: waiting until one lets us in, running
// commands, copying files and provisioning, all over SSH pinned to the VM's
// own host key (src/ssh/). None of it takes the VM's lock: others may use
// the VM meanwhile.
#include <fmt/format.h>

#include "provision/provisioner.hpp"
#include "ssh/keys.hpp"
#include "ssh/session.hpp"
#include "ssh/vm_access.hpp"
#include "vm_manager/error.hpp"
#include "vm_manager/manager.hpp"

namespace vm_manager {
namespace fs = std::filesystem;

VmRecord VmManager::require_running(std::string_view name) {
  VmRecord record = get(name);
  VmState state = hypervisor_.state(record.handle);
  if (state != VmState::running) {
    throw Error(errc::vm_invalid_state, fmt::format("VM '{}' is {}, not running", name, to_string(state)),
                "start the VM first");
  }
  return record;
}

std::string read_ssh_public_key(const fs::path& path) { return ssh::read_public_key_file(path).line(); }

void VmManager::wait_ready(std::string_view name, const ReadyOptions& options) {
  ssh::WaitOptions wait;
  wait.timeout = options.timeout;
  wait.wait_for_cloud_init = options.wait_for_cloud_init;
  wait.progress = options.progress;
  ssh::wait_until_ready(hypervisor_, get(name).handle, wait);
}

ExecResult VmManager::exec(std::string_view name, const std::string& command, std::chrono::milliseconds timeout) {
  ExecOptions options;
  options.timeout = timeout;
  return exec(name, command, options);
}

ExecResult VmManager::exec(std::string_view name, const std::string& command, const ExecOptions& options) {
  ssh::Session session = ssh::Session::connect(ssh::target_for(hypervisor_, require_running(name).handle));
  ExecResult result;
  auto collect = [](std::string& into, const OutputSink& sink) {
    return [&into, &sink](std::string_view chunk) {
      into.append(chunk);
      if (sink) sink(chunk);
    };
  };
  result.exit_status = session.exec(command, collect(result.out, options.on_stdout),
                                    collect(result.err, options.on_stderr), options.stdin_data, options.timeout);
  return result;
}

void VmManager::upload(std::string_view name, const fs::path& local, const std::string& remote) {
  ssh::Session::connect(ssh::target_for(hypervisor_, require_running(name).handle)).upload(local, remote);
}

void VmManager::download(std::string_view name, const std::string& remote, const fs::path& local) {
  ssh::Session::connect(ssh::target_for(hypervisor_, require_running(name).handle)).download(remote, local);
}

FolderCopy VmManager::upload_folder(std::string_view name, const fs::path& local, const std::string& remote) {
  return ssh::Session::connect(ssh::target_for(hypervisor_, require_running(name).handle)).upload_folder(local, remote);
}

FolderCopy VmManager::download_folder(std::string_view name, const std::string& remote, const fs::path& local) {
  return ssh::Session::connect(ssh::target_for(hypervisor_, require_running(name).handle))
      .download_folder(remote, local);
}

SshAccess VmManager::ssh_access(std::string_view name) {
  VmHandle handle = require_running(name).handle;
  ssh::Endpoint endpoint = ssh::endpoint_for(hypervisor_, handle);
  ssh::require_ssh_access(handle);
  SshAccess access;
  access.host = endpoint.host;
  access.port = endpoint.port;
  access.user = handle.ssh_user;
  access.identity_file = ssh::usable_identity_file(handle);
  if (access.identity_file.empty()) access.missing_identity_file = handle.ssh_identity_file;
  access.known_hosts = handle.ssh_known_hosts;
  access.host_key_alias = handle.ssh_host_key_alias;
  return access;
}

void VmManager::wait_for_ssh_server(std::string_view name, std::chrono::milliseconds timeout) {
  const VmHandle handle = require_running(name).handle;
  ssh::Endpoint endpoint = ssh::endpoint_for(hypervisor_, handle);
  const auto deadline = ssh::Clock::now() + timeout;
  if (handle.ssh_jump) {
    ssh::wait_for_banner(*handle.ssh_jump, endpoint.host, endpoint.port, deadline);
  } else {
    ssh::wait_for_banner(endpoint.host, endpoint.port, deadline);
  }
}

void VmManager::provision(std::string_view name, const std::vector<ProvisionStep>& steps,
                          const ProvisionOptions& options) {
  VmHandle handle = require_running(name).handle;
  ssh::ConnectOptions connect;
  connect.timeout = options.connect_timeout;
  ssh::Session session = ssh::Session::connect(ssh::target_for(hypervisor_, handle), connect);
  provision::RunOptions run;
  run.log_path = fs::path(handle.work_dir) / "provision.log";
  run.print = options.print;
  provision::run(session, steps, run);
}

}  // namespace vm_manager
