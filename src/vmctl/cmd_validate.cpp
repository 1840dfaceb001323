#include <fmt/format.h>

#include "vmctl/commands.hpp"
#include "vmctl/vmfile_cli.hpp"

namespace vmctl {
using namespace vm_manager;

void add_validate_command(CLI::App& app, Context& ctx) {
  auto flags = std::make_shared<VmfileFlags>();
  auto* cmd = app.add_subcommand("validate", "Check a VMFile and report every problem in it");
  add_vmfile_options(*cmd, *flags, false);
  cmd->callback([&ctx, flags] {
    VmFile file = load_vmfile(ctx, *flags);
    std::vector<std::string> names;
    for (const auto& vm : file.vms) names.push_back(vm.spec.name);
    ctx.say(fmt::format("{} is valid (KDL {}): {} VM{}{}{}", file.path.string(), file.kdl_version, names.size(),
                        names.size() == 1 ? "" : "s", names.empty() ? "" : ": ", fmt::join(names, ", ")));
  });
}

}  // namespace vmctl
