// vmctl completion bash|zsh|fish: a completion script generated from the
// same App vmctl parses with, every command added, so it never drifts.
// vmctl __complete vms|images (hidden): the names the scripts offer.
#include <cstdio>
#include <memory>
#include <string>

#include "vm_manager/store.hpp"
#include "vmctl/command_list.hpp"
#include "vmctl/commands.hpp"
#include "vmctl/completion_scripts.hpp"

namespace vmctl {
namespace {

std::string script_for(const std::string& shell) {
  Context scratch;  // the commands' options bind to it; nothing runs
  std::unique_ptr<CLI::App> app = make_root_app(scratch);
  for (const Command& command : all_commands()) command.add(*app, scratch);
  const completion::CommandSpec root = completion::describe(*app);
  if (shell == "zsh") return completion::zsh_script(root);
  if (shell == "fish") return completion::fish_script(root);
  return completion::bash_script(root);
}

// Runs while the user presses TAB: quick (no backend is asked), and silent
// on any failure (a missing or foreign data dir, an unreadable cache).
void print_names(Context& ctx, const std::string& what) {
  try {
    if (what == "vms") {
      const vm_manager::VmStore store(ctx.data_dir());
      for (const vm_manager::StoreEntry& entry : store.list()) std::printf("%s\n", entry.name.c_str());
    } else {
      for (const vm_manager::ImageInfo& image : ctx.manager().images().list()) {
        std::printf("%s\n", image.source.c_str());
      }
    }
  } catch (...) {  // NOLINT(bugprone-empty-catch): completion offers nothing rather than an error
  }
}

}  // namespace

void add_completion_command(CLI::App& app, Context&) {
  auto shell = std::make_shared<std::string>();
  auto* cmd = app.add_subcommand("completion", "Print a shell completion script (bash, zsh or fish)");
  cmd->add_option("shell", *shell, "The shell")->required()->check(CLI::IsMember({"bash", "zsh", "fish"}));
  cmd->callback([shell] { std::fputs(script_for(*shell).c_str(), stdout); });
}

void add_complete_names_command(CLI::App& app, Context& ctx) {
  auto what = std::make_shared<std::string>();
  auto* cmd = app.add_subcommand("__complete", "Print VM names or cached images, for the completion scripts");
  cmd->group("");  // hidden from --help and from the scripts
  cmd->add_option("what", *what, "vms or images")->required()->check(CLI::IsMember({"vms", "images"}));
  cmd->callback([&ctx, what] { print_names(ctx, *what); });
}

}  // namespace vmctl
