// vmctl hosts: the machines a VMFile places VMs on (or the one --connect
// names), each asked at once whether it answers, its capacity and the
// vmctl VMs running there. Every host is shown before an unreachable one
// fails the command.
#include <cstdio>
#include <optional>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "core/host_uri.hpp"
#include "vm_manager/error.hpp"
#include "vmctl/commands.hpp"
#include "vmctl/host_view.hpp"
#include "vmctl/vmfile_cli.hpp"

namespace vmctl {
using namespace vm_manager;
namespace {

struct HostsFlags {
  VmfileFlags vmfile;
  std::optional<std::string> connect;
  bool json = false;
};

std::vector<HostSpec> hosts_to_describe(Context& ctx, const HostsFlags& flags) {
  if (flags.connect) {
    validate_host_uri(*flags.connect);
    return {HostSpec{*flags.connect, "libvirt", {{"connect", *flags.connect}}}};
  }
  VmFile file = load_vmfile(ctx, flags.vmfile);
  if (file.hosts.empty()) {
    ctx.note(fmt::format("{} places no VM on a host (host \"NAME\" connect=\"URI\", or connect \"URI\")",
                         file.path.string()));
  }
  return file.hosts;
}

// The names the backend left out are the ones asked for.
std::vector<HostInfo> describe(Context& ctx, const std::vector<HostSpec>& specs) {
  std::vector<HostInfo> hosts = ctx.manager().describe_hosts(specs);
  for (std::size_t i = 0; i < hosts.size() && i < specs.size(); ++i) {
    if (hosts[i].name.empty()) hosts[i].name = specs[i].name;
    if (hosts[i].backend.empty()) hosts[i].backend = specs[i].backend;
  }
  return hosts;
}

void fail_if_unreachable(Context& ctx, const std::vector<HostInfo>& hosts, bool json) {
  std::vector<std::string> unreachable;
  for (const HostInfo& host : hosts) {
    if (host.reachable) continue;
    unreachable.push_back(host.name);
    if (!json) ctx.note(fmt::format("{} ({}): {}", host.name, host.address, host.error));
  }
  if (unreachable.empty()) return;
  throw Error(errc::backend_unreachable,
              fmt::format("{} of {} host{} {} unreachable: {}", unreachable.size(), hosts.size(),
                          hosts.size() == 1 ? "" : "s", unreachable.size() == 1 ? "is" : "are",
                          fmt::join(unreachable, ", ")),
              "check that the host is up, that libvirtd runs there and that its URI is right (and, for "
              "qemu+ssh, that SSH logs in there without a password)");
}

}  // namespace

void add_hosts_command(CLI::App& app, Context& ctx) {
  auto flags = std::make_shared<HostsFlags>();
  auto* cmd = app.add_subcommand("hosts", "Show the hosts a VMFile places VMs on: reachable, capacity, VMs");
  add_vmfile_options(*cmd, flags->vmfile, false);
  auto* connect = cmd->add_option("--connect", flags->connect, "Only this libvirt URI, e.g. qemu+ssh://USER@HOST/system");
  connect->excludes(cmd->get_option("--file"));
  cmd->add_flag("--json", flags->json, "Print a JSON array");
  cmd->callback([&ctx, flags] {
    std::vector<HostInfo> hosts = describe(ctx, hosts_to_describe(ctx, *flags));
    std::string out = flags->json ? hosts_json(hosts).dump(2) + "\n" : hosts_table(hosts);
    std::fputs(out.c_str(), stdout);
    std::fflush(stdout);
    fail_if_unreachable(ctx, hosts, flags->json);
  });
}

}  // namespace vmctl
