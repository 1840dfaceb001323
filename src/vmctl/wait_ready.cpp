#include "vmctl/wait_ready.hpp"

#include <fmt/format.h>


namespace vmctl {
using namespace vm_manager;

void add_wait_options(CLI::App& command, WaitFlags& flags) {
  command.add_flag("--wait", flags.wait, "Wait until SSH accepts the VM's key and cloud-init has finished");
  command.add_option("--wait-timeout", flags.timeout_s, "Seconds --wait may take")
      ->capture_default_str()
      ->check(CLI::Range(1u, 86400u));
}

void wait_until_ready(Context& ctx, const VmHandle& handle, const WaitFlags& flags) {
  auto started = std::chrono::steady_clock::now();
  ReadyOptions options;
  options.timeout = std::chrono::seconds(flags.timeout_s);
  options.progress = [&](const Progress& step) {
    if (step.finished) return;
    ctx.note(step.what == "ssh" ? fmt::format("Waiting for SSH on VM '{}'…", handle.name)
                                : fmt::format("Waiting for cloud-init on VM '{}'…", handle.name));
  };
  ctx.manager().wait_ready(handle.name, options);
  auto took = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  ctx.say(fmt::format("VM '{}' is ready ({:.1f} s)", handle.name, took));
}

}  // namespace vmctl
