// vmctl: the command-line front end of the vm-manager library.
#include <algorithm>
#include <cstdio>
#include <optional>
#include <string_view>
#include <vector>

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include "util/did_you_mean.hpp"
#include "vm_manager/error.hpp"
#include "vmctl/command_list.hpp"
#include "vmctl/commands.hpp"
#include "vmctl/hints.hpp"

namespace vmctl {

// Exit statuses: 0 success, 1 the operation failed, 2 the command line was wrong.
constexpr int kExitFailure = 1;
constexpr int kExitUsage = 2;

CLI::Option* add_name_argument(CLI::App& command, std::string& name) {
  return command.add_option("name", name, "VM name")->required();
}

namespace {

// `try` is vmctl's own hint for a library error (hints.hpp): a third line, so
// the first two stay `error[code]: message` and the library's `  help: …`.
void print_error(std::string_view code, std::string_view message, std::string_view help,
                 std::string_view details = {}, std::string_view try_hint = {}) {
  std::fprintf(stderr, "error[%.*s]: %.*s\n", int(code.size()), code.data(), int(message.size()), message.data());
  if (!help.empty()) std::fprintf(stderr, "  help: %.*s\n", int(help.size()), help.data());
  if (!try_hint.empty()) std::fprintf(stderr, "  try: %.*s\n", int(try_hint.size()), try_hint.data());
  if (!details.empty()) std::fprintf(stderr, "%.*s", int(details.size()), details.data());
}

void configure_logging(const GlobalOptions& options) {
  // Diagnostics go to stderr: stdout carries what scripts parse (list --json).
  // The library's arrive here too, through Context::log_sink().
  spdlog::set_default_logger(spdlog::stderr_color_mt("vmctl"));
  spdlog::set_pattern("%^%l%$: %v");
  if (options.quiet) {
    spdlog::set_level(spdlog::level::err);
  } else if (options.verbosity >= 3) {
    spdlog::set_level(spdlog::level::trace);
  } else if (options.verbosity == 2) {
    spdlog::set_level(spdlog::level::debug);
  } else if (options.verbosity == 1) {
    spdlog::set_level(spdlog::level::info);
  } else {
    spdlog::set_level(spdlog::level::warn);
  }
}

// The command name for usage hints: "vmctl stop" when a subcommand was parsed.
std::string command_path(const CLI::App& app) {
  for (const CLI::App* sub : app.get_subcommands()) return "vmctl " + sub->get_name();
  return "vmctl";
}

// What the hints may name: the subcommand that ran and the VM it was given
// (the positional "name" of most commands, --name of create and the VMFile ones).
ErrorContext error_context(const CLI::App& app) {
  ErrorContext context;
  auto name_from = [&context](const CLI::App* sub) {
    for (const char* option : {"name", "--name"}) {
      const CLI::Option* given = sub->get_option_no_throw(option);
      if (given != nullptr && given->count() > 0) context.vm_name = given->results().front();
    }
  };
  for (const CLI::App* sub : app.get_subcommands()) {
    context.command = sub->get_name();
    name_from(sub);
    for (const CLI::App* nested : sub->get_subcommands()) name_from(nested);  // port add NAME
  }
  return context;
}

// The first word that is not a global option: the command the user meant.
std::optional<std::string_view> typed_command(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    if (arg == "--") return std::nullopt;
    if (arg == "--data-dir") {
      ++i;  // its value
    } else if (!arg.starts_with("-")) {
      return arg;
    }
  }
  return std::nullopt;
}

// CLI11 reports a word that is no command as "A subcommand is required";
// name the word instead, and the command it is closest to.
bool report_unknown_command(const CLI::App& app, int argc, char** argv) {
  std::optional<std::string_view> typed = typed_command(argc, argv);
  if (!typed || !app.get_subcommands().empty()) return false;
  std::vector<std::string> names;
  for (const CLI::App* sub : app.get_subcommands([](const CLI::App*) { return true; })) {
    names.push_back(sub->get_name());
  }
  if (std::find(names.begin(), names.end(), *typed) != names.end()) return false;
  std::vector<std::string_view> candidates(names.begin(), names.end());
  std::optional<std::string_view> near = vm_manager::util::closest_name(*typed, candidates);
  print_error("vmctl::usage", fmt::format("unknown command '{}'", *typed),
              near ? fmt::format("did you mean 'vmctl {}'? 'vmctl --help' lists the commands", *near)
                   : "'vmctl --help' lists the commands");
  return true;
}

bool asks_for_help(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    if (arg == "--") return false;
    if (arg == "-h" || arg == "--help" || arg == "--help-all") return true;
  }
  return false;
}

// Sets up only the command that was typed: setting up all of them (their
// options, flags and validators in CLI11) was most of a start's work, ~75%
// of the instructions `vmctl --version` ran. Every command when --help may
// list them, or when the word typed is no command (its did-you-mean needs
// them all); none when no command is typed (--version, or CLI11's "a
// subcommand is required").
void add_commands(CLI::App& app, Context& ctx, int argc, char** argv) {
  const std::optional<std::string_view> typed = typed_command(argc, argv);
  if (!asks_for_help(argc, argv)) {
    if (!typed) return;
    for (const Command& command : all_commands()) {
      if (command.name == *typed) {
        command.add(app, ctx);
        return;
      }
    }
  }
  for (const Command& command : all_commands()) command.add(app, ctx);
}

int run(int argc, char** argv) {
  Context ctx;
  std::unique_ptr<CLI::App> root = make_root_app(ctx);
  CLI::App& app = *root;
  app.parse_complete_callback([&ctx] { configure_logging(ctx.options); });

  add_commands(app, ctx, argc, argv);

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    if (report_unknown_command(app, argc, argv)) return kExitUsage;
    print_error("vmctl::usage", e.what(), fmt::format("run '{} --help' for usage", command_path(app)));
    return kExitUsage;
  } catch (const vm_manager::Error& e) {
    std::optional<std::string> hint = hint_for(e, error_context(app));
    print_error(e.code(), e.message(), e.help(), e.details(), hint.value_or(""));
    return kExitFailure;
  } catch (const std::exception& e) {
    print_error("vmctl::internal", e.what(), "this is a bug in vmctl; please report it with the command you ran");
    return kExitFailure;
  }
  return 0;
}

}  // namespace
}  // namespace vmctl

int main(int argc, char** argv) { return vmctl::run(argc, argv); }
