#include <unistd.h>

#include <cstdio>
#include <variant>

#include <fmt/format.h>

#include "vm_manager/error.hpp"
#include "vmctl/commands.hpp"

namespace vmctl {
using namespace vm_manager;
namespace {

// The console's kind is checked before the state: a VM without one will
// never have one, so telling it to start would send the user the wrong way.
void require_console(const VmHandle& handle, const ConsoleEndpoint& endpoint) {
  if (std::holds_alternative<NoConsole>(endpoint)) {
    throw Error(errc::console_unavailable,
                fmt::format("VM '{}' has no serial console (backend {})", handle.name, handle.backend),
                "only VMs of a backend with a serial console (such as qemu or propolis) can be attached");
  }
}

void require_running(Context& ctx, const VmHandle& handle) {
  VmState state = ctx.manager().state(handle);
  if (state == VmState::running || state == VmState::suspended) return;
  std::string help = state == VmState::destroyed
                         ? fmt::format("its resources are gone; remove it with 'vmctl destroy {}'", handle.name)
                         : fmt::format("start it with 'vmctl start {}'", handle.name);
  throw Error(errc::vm_invalid_state, fmt::format("VM '{}' is {}", handle.name, to_string(state)), help);
}

void run_console(Context& ctx, const std::string& name) {
  VmHandle handle = ctx.manager().get(name).handle;
  require_console(handle, ctx.manager().console_endpoint(name));
  require_running(ctx, handle);
  ConsoleAttachOptions options;
  options.on_connected = [&] {
    std::fflush(stdout);
    ctx.note(fmt::format("Connected to the console of '{}'; press Ctrl-] to detach.", name));
  };
  std::string close_reason;
  options.on_console_closed = [&](const std::string& reason) { close_reason = reason; };
  switch (ctx.manager().attach_console(name, STDIN_FILENO, STDOUT_FILENO, options)) {
    case ConsoleEnd::detached:
      ctx.note(fmt::format("\r\nDetached from '{}'.", name));
      break;
    case ConsoleEnd::console_closed:
      ctx.note(fmt::format("\r\nConnection closed: the console of '{}' went away ({}).", name,
                           close_reason.empty() ? "did the VM stop?" : close_reason));
      break;
    case ConsoleEnd::input_closed:
      break;  // piped input ran out: the expected end of a script
  }
}

}  // namespace

void add_console_command(CLI::App& app, Context& ctx) {
  auto name = std::make_shared<std::string>();
  auto* cmd = app.add_subcommand("console", "Attach the terminal to a running VM's serial console");
  cmd->footer("Ctrl-] detaches. Other keys, Ctrl-C included, go to the VM. Input may also be piped.");
  add_name_argument(*cmd, *name);
  cmd->callback([&ctx, name] { run_console(ctx, *name); });
}

}  // namespace vmctl
