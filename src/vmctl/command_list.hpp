// Every vmctl command, and the root CLI11 App they hang from: what main.cpp
// parses with and what `vmctl completion` generates its scripts from.
#pragma once

#include <memory>
#include <span>
#include <string_view>

#include <CLI/CLI.hpp>

#include "vmctl/context.hpp"

namespace vmctl {

// A command, by the name it registers.
struct Command {
  std::string_view name;
  void (*add)(CLI::App&, Context&);
};

// Every command, in the order --help lists them.
std::span<const Command> all_commands();

// The root App with the global options (--data-dir, -v, -q, --version…),
// without any command.
std::unique_ptr<CLI::App> make_root_app(Context& ctx);

}  // namespace vmctl
