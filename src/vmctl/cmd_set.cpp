// vmctl set NAME [--vcpus N] [--memory MB] [--disk GB]: a stopped VM's size,
// changed in place for its next start.
#include <fmt/format.h>

#include "vmctl/commands.hpp"

namespace vmctl {
using namespace vm_manager;
namespace {

struct SetFlags {
  std::string name;
  VmResize change;
};

// "vcpus 1 -> 2, memory 1024 MB -> 2048 MB, disk 10 GB -> 20 GB"
std::string what_changed(const VmHandle& before, const VmHandle& after) {
  std::vector<std::string> parts;
  if (before.vcpus != after.vcpus) parts.push_back(fmt::format("vcpus {} -> {}", before.vcpus, after.vcpus));
  if (before.memory_mb != after.memory_mb) {
    parts.push_back(fmt::format("memory {} MB -> {} MB", before.memory_mb, after.memory_mb));
  }
  if (before.disk_gb != after.disk_gb) {
    parts.push_back(fmt::format("disk {} -> {} GB",
                                before.disk_gb ? fmt::format("{} GB", *before.disk_gb) : "image size",
                                after.disk_gb.value_or(0)));
  }
  std::string text;
  for (const std::string& part : parts) text += (text.empty() ? "" : ", ") + part;
  return text;
}

void set_size(Context& ctx, const SetFlags& o) {
  if (o.change == VmResize{}) {
    throw CLI::ValidationError("vmctl set needs at least one of --vcpus, --memory, --disk");
  }
  const VmHandle before = ctx.manager().get(o.name).handle;
  const VmHandle after = ctx.manager().resize(o.name, o.change).handle;
  const std::string changed = what_changed(before, after);
  ctx.say(changed.empty() ? fmt::format("VM '{}' already has that size", o.name)
                          : fmt::format("Resized VM '{}': {} (from its next start)", o.name, changed));
}

}  // namespace

void add_set_command(CLI::App& app, Context& ctx) {
  auto o = std::make_shared<SetFlags>();
  auto* cmd = app.add_subcommand("set", "Change a stopped VM's vCPUs, memory and disk size in place");
  add_name_argument(*cmd, o->name);
  cmd->add_option("--vcpus", o->change.vcpus, "Virtual CPUs")->check(CLI::Range(1u, 512u));
  cmd->add_option("--memory", o->change.memory_mb, "Memory in MB")
      ->check(CLI::Range(std::uint64_t{16}, std::uint64_t{16} * 1024 * 1024));
  cmd->add_option("--disk", o->change.disk_gb, "Disk size in GB; the disk only grows")
      ->check(CLI::Range(std::uint64_t{1}, std::uint64_t{64} * 1024));
  cmd->callback([&ctx, o] { set_size(ctx, *o); });
}

}  // namespace vmctl
