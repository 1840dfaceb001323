#include <cstdio>
#include <optional>

#include "vmctl/commands.hpp"
#include "vmctl/vm_view.hpp"

namespace vmctl {
namespace {

// --host takes what the HOST column shows: a host's name (or the URI a VM
// was created with), or "-" for the VMs on this machine. "-" can name no
// host (host names begin with a letter or digit), so it cannot be mistaken.
bool on_host(const VmView& view, const std::optional<std::string>& host) {
  return !host || view.host == *host;
}

}  // namespace

void add_list_command(CLI::App& app, Context& ctx) {
  auto json_output = std::make_shared<bool>(false);
  auto host = std::make_shared<std::optional<std::string>>();
  auto* cmd = app.add_subcommand("list", "List VMs with their live state");
  cmd->add_flag("--json", *json_output, "Print a JSON array");
  cmd->add_option("--host", *host, "Only the VMs on this host, as the HOST column names it ('-': this machine)");
  cmd->callback([&ctx, json_output, host] {
    nlohmann::json all = nlohmann::json::array();
    std::vector<std::vector<std::string>> rows;
    for (const auto& status : ctx.manager().list()) {
      VmView view = view_of(status);
      if (!on_host(view, *host)) continue;
      all.push_back(std::move(view.json));
      rows.push_back(std::move(view.row));
    }
    std::string out = *json_output ? all.dump(2) + "\n" : render_table(table_header(), rows);
    std::fputs(out.c_str(), stdout);
  });
}

}  // namespace vmctl
