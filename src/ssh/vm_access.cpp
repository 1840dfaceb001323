#include "ssh/vm_access.hpp"

#include <fmt/format.h>

#include <filesystem>
#include <sstream>
#include <system_error>
#include <string>
#include <utility>

#include "os/files.hpp"
#include "util/printable.hpp"
#include "vm_manager/error.hpp"

namespace vm_manager::ssh {

namespace {

[[noreturn]] void not_configured(const VmHandle& handle, std::string_view what) {
  throw Error(errc::ssh_not_configured, fmt::format("VM '{}' has no {}", handle.name, what),
              "SSH is set up when a VM is created with an SSH user; destroy the VM and create it again with one");
}

std::string rest_after_host_field(const std::string& line, const std::string& alias) {
  std::istringstream fields(line);
  std::string hosts;
  fields >> hosts;
  std::istringstream names(hosts);
  for (std::string name; std::getline(names, name, ',');) {
    if (name == alias) {
      std::string rest;
      std::getline(fields, rest);
      return rest;
    }
  }
  return {};
}

// The last non-empty line, safe to print: the verdict of `cloud-init status`.
std::string last_line(std::string_view text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r' || text.back() == ' ')) text.remove_suffix(1);
  auto newline = text.rfind('\n');
  return util::printable(newline == std::string_view::npos ? text : text.substr(newline + 1));
}

}  // namespace

void require_ssh_access(const VmHandle& handle) {
  if (handle.ssh_user.empty() || handle.ssh_known_hosts.empty()) not_configured(handle, "SSH access");
}

std::string usable_identity_file(const VmHandle& handle) {
  if (handle.ssh_identity_file.empty()) return {};
  std::error_code ec;
  return std::filesystem::is_regular_file(handle.ssh_identity_file, ec) ? handle.ssh_identity_file : std::string();
}

Endpoint endpoint_for(Hypervisor& hypervisor, const VmHandle& handle) {
  if (handle.ssh_port && !handle.ssh_host.empty()) return {handle.ssh_host, *handle.ssh_port};
  return {hypervisor.guest_ip(handle), 22};
}

PublicKey expected_host_key(const VmHandle& handle) {
  require_ssh_access(handle);
  std::optional<std::string> text = os::read_file(handle.ssh_known_hosts);
  if (!text) not_configured(handle, "known_hosts file at " + handle.ssh_known_hosts);
  std::istringstream lines(*text);
  for (std::string line; std::getline(lines, line);) {
    std::string key = rest_after_host_field(line, handle.ssh_host_key_alias);
    if (!key.empty()) return parse_public_key(key);
  }
  not_configured(handle, fmt::format("host key for '{}' in {}", handle.ssh_host_key_alias, handle.ssh_known_hosts));
}

Target target_for(Hypervisor& hypervisor, const VmHandle& handle) {
  require_ssh_access(handle);
  if (handle.ssh_identity_file.empty()) not_configured(handle, "private key vmctl can log in with");
  Target target;
  Endpoint endpoint = endpoint_for(hypervisor, handle);
  target.host = endpoint.host;
  target.port = endpoint.port;
  target.user = handle.ssh_user;
  target.identity_file = handle.ssh_identity_file;
  target.host_key = expected_host_key(handle);
  target.jump = handle.ssh_jump;  // a VM on another host is reached through that host
  return target;
}

namespace {

// Reports a step of the wait as it begins and, finished, as it ends, whether
// it succeeds or raises.
class Step {
 public:
  Step(const ProgressCallback& progress, std::string what) : progress_(progress), what_(std::move(what)) {
    report(false);
  }
  ~Step() { report(true); }
  Step(const Step&) = delete;
  Step& operator=(const Step&) = delete;

 private:
  void report(bool finished) const noexcept {
    if (!progress_) return;
    try {
      progress_(Progress{what_, 0, std::nullopt, finished});
    } catch (...) {  // a callback must not throw; if it does, the wait's own outcome still counts
    }
  }

  const ProgressCallback& progress_;
  std::string what_;
};

void wait_for_cloud_init(Session& session, const VmHandle& handle, Clock::time_point deadline,
                         std::chrono::milliseconds timeout) {
  // Rounded up: the command's own deadline must not fall before ours, or
  // running out of time would look like a broken connection below.
  auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now());
  ExecResult result;
  try {
    result = session.exec_capture("cloud-init status --wait",  // not-vmctl-syntax: runs in the guest
                                  std::max(left, std::chrono::milliseconds(1000)));
  } catch (const Error&) {
    if (Clock::now() < deadline) throw;  // the connection broke: say so, not "too slow"
    throw Error(errc::ssh_timeout,
                fmt::format("cloud-init in VM '{}' did not finish within {} s", handle.name,
                            std::chrono::duration_cast<std::chrono::seconds>(timeout).count()),
                "wait longer, or see what it waits for in /var/log/cloud-init.log inside the VM");
  }
  // 127: no cloud-init in this image, nothing to wait for. 2: finished with
  // recoverable errors (newer cloud-init): the VM is usable.
  if (result.exit_status == 0 || result.exit_status == 127 || result.exit_status == 2) return;
  throw Error(errc::vm_start_failed,
              fmt::format("cloud-init in VM '{}' failed (status {}): {}", handle.name, result.exit_status,
                          last_line(result.out.empty() ? result.err : result.out)),
              "look at /var/log/cloud-init.log inside the VM");
}

}  // namespace

void wait_until_ready(Hypervisor& hypervisor, const VmHandle& handle, const WaitOptions& options) {
  ConnectOptions connect;
  connect.timeout = options.timeout;
  auto deadline = Clock::now() + options.timeout;
  Session session = [&] {
    Step step(options.progress, "ssh");
    return Session::connect(target_for(hypervisor, handle), connect);
  }();
  if (!options.wait_for_cloud_init || handle.seed_iso_path.empty()) return;
  Step step(options.progress, "cloud-init");
  wait_for_cloud_init(session, handle, deadline, options.timeout);
}

}  // namespace vm_manager::ssh
