// `--wait` for start and create: until SSH lets vmctl in and cloud-init is done.
#pragma once

#include <CLI/CLI.hpp>

#include <chrono>

#include "vmctl/context.hpp"

namespace vmctl {

struct WaitFlags {
  bool wait = false;
  unsigned timeout_s = 300;
};

// Adds --wait and --wait-timeout to a command.
void add_wait_options(CLI::App& command, WaitFlags& flags);

// Waits as --wait promises, with progress lines on stderr.
void wait_until_ready(Context& ctx, const vm_manager::VmHandle& handle, const WaitFlags& flags);

}  // namespace vmctl
