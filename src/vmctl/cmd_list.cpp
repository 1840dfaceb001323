#include <cstdio>
#include <future>

#include "vmctl/commands.hpp"
#include "vmctl/vm_view.hpp"

namespace vmctl {
namespace {

// Every VM's state is asked of its backend (for a running QEMU, a QMP round
// trip); asking them all at once makes the listing as slow as the slowest VM
// rather than the sum of all. Backends are safe to call concurrently for
// different VMs.
std::vector<VmView> views_of(const std::vector<vm_manager::StoreEntry>& entries, vm_manager::Hypervisor& hv) {
  std::vector<std::future<VmView>> pending;
  pending.reserve(entries.size());
  for (const auto& entry : entries) {
    pending.push_back(std::async(std::launch::async, [&entry, &hv] { return view_of(entry, hv); }));
  }
  std::vector<VmView> views;
  views.reserve(entries.size());
  for (auto& view : pending) views.push_back(view.get());
  return views;
}

}  // namespace

void add_list_command(CLI::App& app, Context& ctx) {
  auto json_output = std::make_shared<bool>(false);
  auto* cmd = app.add_subcommand("list", "List VMs with their live state");
  cmd->add_flag("--json", *json_output, "Print a JSON array");
  cmd->callback([&ctx, json_output] {
    nlohmann::json all = nlohmann::json::array();
    std::vector<std::vector<std::string>> rows;
    for (auto& view : views_of(ctx.store().list(), ctx.hypervisor())) {
      all.push_back(std::move(view.json));
      rows.push_back(std::move(view.row));
    }
    std::string out = *json_output ? all.dump(2) + "\n" : render_table(table_header(), rows);
    std::fputs(out.c_str(), stdout);
  });
}

}  // namespace vmctl
