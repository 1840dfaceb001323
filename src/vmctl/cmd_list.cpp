#include <cstdio>

#include "vmctl/commands.hpp"
#include "vmctl/vm_view.hpp"

namespace vmctl {

void add_list_command(CLI::App& app, Context& ctx) {
  auto json_output = std::make_shared<bool>(false);
  auto* cmd = app.add_subcommand("list", "List VMs with their live state");
  cmd->add_flag("--json", *json_output, "Print a JSON array");
  cmd->callback([&ctx, json_output] {
    nlohmann::json all = nlohmann::json::array();
    std::vector<std::vector<std::string>> rows;
    for (const auto& status : ctx.manager().list()) {
      VmView view = view_of(status);
      all.push_back(std::move(view.json));
      rows.push_back(std::move(view.row));
    }
    std::string out = *json_output ? all.dump(2) + "\n" : render_table(table_header(), rows);
    std::fputs(out.c_str(), stdout);
  });
}

}  // namespace vmctl
