#include <optional>

#include <fmt/format.h>

#include "vm_manager/error.hpp"
#include "vmctl/commands.hpp"

namespace vmctl {
using namespace vm_manager;
namespace {

void run_destroy(Context& ctx, const std::string& name) {
  VmStore& store = ctx.store();
  VmLock lock = store.lock(name);
  if (!store.exists(name)) {
    // A create that crashed leaves a folder without vm.json: let the user
    // clear it with the command they would naturally reach for.
    if (std::filesystem::exists(ctx.data_dir().vm_dir(name))) {
      store.remove(std::move(lock));
      ctx.say(fmt::format("Removed the remains of VM '{}'", name));
      return;
    }
    store.load(name);  // raises vm::not_found with the usual hint
  }
  std::optional<VmRecord> record;
  try {
    record = store.load(name);
  } catch (const Error& e) {
    if (e.code() != errc::store_corrupt) throw;
    // The record that names the backend is unreadable: each backend clears
    // what it can prove is this VM's, then the folder goes.
    ctx.hypervisor().destroy_remains(store.salvage(name));
    store.remove(std::move(lock));
    ctx.say(fmt::format("Destroyed VM '{}' (its record was unreadable: {})", name, e.message()));
    return;
  }
  ctx.hypervisor().destroy(record->handle);
  store.remove(std::move(lock));
  ctx.say(fmt::format("Destroyed VM '{}'", name));
}

}  // namespace

void add_destroy_command(CLI::App& app, Context& ctx) {
  auto name = std::make_shared<std::string>();
  auto* cmd = app.add_subcommand("destroy", "Stop a VM if needed and delete it with its disks");
  add_name_argument(*cmd, *name);
  cmd->callback([&ctx, name] { run_destroy(ctx, *name); });
}

}  // namespace vmctl
