// The vmctl command hints for library errors. The library's help line says
// the remedy in plain words, because programs other than vmctl embed it; only
// the CLI knows which command was run and which flags exist, so it adds the
// concrete command line as a third line, `  try: …` (see docs/cli.md).
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "vm_manager/error.hpp"

namespace vmctl {

// What the CLI knows when an error reaches it.
struct ErrorContext {
  std::string_view command;    // the subcommand that ran ("create", "ssh"); empty when none
  std::string vm_name = "NAME";  // the VM named on the command line, else a placeholder
};

// The vmctl hint for `error`, or nullopt when the library's help says it all.
std::optional<std::string> hint_for(const vm_manager::Error& error, const ErrorContext& context);

}  // namespace vmctl
