// vmctl vnc NAME: where a running VM's VNC listens and how to reach it.
#include <cstdio>

#include <fmt/format.h>

#include "vm_manager/error.hpp"
#include "vmctl/commands.hpp"

namespace vmctl {
using namespace vm_manager;
namespace {

constexpr std::string_view kUnixPrefix = "unix:";
// A free-looking local port for the forwards the text suggests (display :1).
constexpr int kLocalPort = 5901;

// The endpoint as the backend describes it ("unix:/…/vnc.sock" or
// "127.0.0.1:5901"); raises console::unavailable for a VM without one.
std::string vnc_endpoint(Context& ctx, const std::string& name) {
  ctx.manager().require_running(name);
  VmStatus status = ctx.manager().status(name);
  auto vnc = status.details.find("vnc");
  if (vnc == status.details.end() || !vnc->is_string() || vnc->get<std::string>().empty()) {
    std::string backend = status.record ? status.record->handle.backend : "unknown";
    throw Error(errc::console_unavailable, fmt::format("VM '{}' has no VNC console (backend {})", name, backend),
                "only qemu VMs have a VNC console");
  }
  return vnc->get<std::string>();
}

nlohmann::json describe(const std::string& name, const std::string& endpoint) {
  nlohmann::json j{{"name", name}, {"vnc", endpoint}};
  if (endpoint.starts_with(kUnixPrefix)) {
    std::string path = endpoint.substr(kUnixPrefix.size());
    j["transport"] = "unix";
    j["path"] = path;
    j["password"] = false;
    j["local_forward"] = fmt::format("socat TCP-LISTEN:{},bind=127.0.0.1,reuseaddr UNIX-CONNECT:{}", kLocalPort, path);
    j["ssh_forward"] = fmt::format("ssh -L {}:{} USER@HOST", kLocalPort, path);
  } else {
    j["transport"] = "tcp";
    j["address"] = endpoint;
    j["password"] = true;
    j["ssh_forward"] = fmt::format("ssh -L {}:{} USER@HOST", kLocalPort, endpoint);
  }
  return j;
}

std::string human(const nlohmann::json& j) {
  const std::string name = j.at("name");
  if (j.at("transport") == "unix") {
    const std::string path = j.at("path");
    return fmt::format(
        "VM '{0}': VNC on the unix socket {1}\n"
        "Only its owner can open it. A viewer that speaks to unix sockets connects directly:\n"
        "  remote-viewer vnc+unix://{1}\n"
        "On this machine, through a local port (every local user can reach that port\n"
        "while socat runs, and this VNC has no password):\n"
        "  {2}\n"
        "  then point the viewer at 127.0.0.1:{4}\n"
        "From another machine, through SSH (the port is on that machine):\n"
        "  {3}\n"
        "  then point the viewer at 127.0.0.1:{4}\n",
        name, path, j.at("local_forward").get<std::string>(), j.at("ssh_forward").get<std::string>(), kLocalPort);
  }
  return fmt::format(
      "VM '{0}': VNC on {1}, with the password shown when it started\n"
      "(it is kept nowhere: 'vmctl stop {0}' then 'vmctl start {0}' sets a new one)\n"
      "From another machine, through SSH:\n"
      "  {2}\n"
      "  then point the viewer at 127.0.0.1:{3}\n",
      name, j.at("address").get<std::string>(), j.at("ssh_forward").get<std::string>(), kLocalPort);
}

}  // namespace

void add_vnc_command(CLI::App& app, Context& ctx) {
  auto name = std::make_shared<std::string>();
  auto json_output = std::make_shared<bool>(false);
  auto* cmd = app.add_subcommand("vnc", "Show where a running VM's VNC console listens and how to reach it");
  add_name_argument(*cmd, *name);
  cmd->add_flag("--json", *json_output, "Print a JSON object");
  cmd->callback([&ctx, name, json_output] {
    nlohmann::json j = describe(*name, vnc_endpoint(ctx, *name));
    std::string out = *json_output ? j.dump(2) + "\n" : human(j);
    std::fputs(out.c_str(), stdout);
  });
}

}  // namespace vmctl
