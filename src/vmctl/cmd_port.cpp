// vmctl port add|rm|list NAME …: a VM's published ports, changed live on a
// running VM and kept in its record for every later start.
#include <cstdio>

#include <fmt/format.h>

#include "vm_manager/json.hpp"
#include "vm_manager/spec_check.hpp"
#include "vmctl/commands.hpp"
#include "vmctl/publish.hpp"
#include "vmctl/vm_view.hpp"

namespace vmctl {
using namespace vm_manager;
namespace {

struct PortFlags {
  std::string name;
  std::vector<std::string> ports;
  bool json = false;
};

// Said after the change: "published" means live when the VM runs.
std::string when_applied(Context& ctx, const VmRecord& record) {
  VmState state = ctx.manager().state(record.handle);
  return state == VmState::running || state == VmState::suspended ? "" : " (from its next start)";
}

void add_ports(Context& ctx, const PortFlags& o) {
  for (const std::string& text : o.ports) {
    PortForward forward = parse_publish(text);
    VmRecord record = ctx.manager().add_port_forward(o.name, forward);
    warn_if_reachable_from_outside(forward);
    ctx.say(fmt::format("Published {} for VM '{}'{}", port_forward_text(forward), o.name, when_applied(ctx, record)));
  }
}

void remove_ports(Context& ctx, const PortFlags& o) {
  for (const std::string& text : o.ports) {
    auto [port, protocol] = parse_published_port(text);
    ctx.manager().remove_port_forward(o.name, port, protocol);
    ctx.say(fmt::format("Unpublished port {}/{} of VM '{}'", port, to_string(protocol), o.name));
  }
}

void list_ports(Context& ctx, const PortFlags& o) {
  const std::vector<PortForward> forwards = ctx.manager().get(o.name).handle.port_forwards;
  std::string out;
  if (o.json) {
    out = nlohmann::json(forwards).dump(2) + "\n";
  } else {
    std::vector<std::vector<std::string>> rows;
    for (const PortForward& f : forwards) {
      rows.push_back({f.host_address, std::to_string(f.host_port), std::to_string(f.guest_port),
                      std::string(to_string(f.protocol))});
    }
    out = render_table({"ADDRESS", "HOST", "GUEST", "PROTOCOL"}, rows);
  }
  std::fputs(out.c_str(), stdout);
}

}  // namespace

void add_port_command(CLI::App& app, Context& ctx) {
  auto o = std::make_shared<PortFlags>();
  auto* cmd = app.add_subcommand("port", "Publish a VM's guest ports on the host (user networking)");
  cmd->require_subcommand(1);
  auto* add = cmd->add_subcommand("add", "Publish ports, at once on a running VM, and at every start");
  add_name_argument(*add, o->name);
  add->add_option("ports", o->ports, "[HOST_IP:]HOST_PORT:GUEST_PORT[/tcp|/udp]; HOST_IP defaults to 127.0.0.1")
      ->required();
  add->callback([&ctx, o] { add_ports(ctx, *o); });
  auto* rm = cmd->add_subcommand("rm", "Stop publishing ports, at once on a running VM");
  add_name_argument(*rm, o->name);
  rm->add_option("ports", o->ports, "HOST_PORT[/tcp|/udp]")->required();
  rm->callback([&ctx, o] { remove_ports(ctx, *o); });
  auto* list = cmd->add_subcommand("list", "List a VM's published ports");
  add_name_argument(*list, o->name);
  list->add_flag("--json", o->json, "Print a JSON array");
  list->callback([&ctx, o] { list_ports(ctx, *o); });
}

}  // namespace vmctl
