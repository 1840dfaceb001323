#include "vmctl/completion_model.hpp"

#include <cctype>
#include <string_view>

namespace vmctl::completion {
namespace {

// CLI11 appends a validator's description to the type name: IsMember's
// is the set, "TEXT:{user,tap,none}".
std::vector<std::string> choices_of(const CLI::Option& option) {
  const std::string type = option.get_type_name();
  const auto open = type.find('{');
  const auto close = type.find('}', open);
  if (open == std::string::npos || close == std::string::npos) return {};
  std::vector<std::string> choices;
  std::string_view list(type.data() + open + 1, close - open - 1);
  while (!list.empty()) {
    const auto comma = list.find(',');
    choices.emplace_back(list.substr(0, comma));
    if (comma == std::string_view::npos) break;
    list.remove_prefix(comma + 1);
  }
  return choices;
}

bool is_number(const CLI::Option& option) {
  const std::string type = option.get_type_name();
  for (std::string_view number : {"INT", "UINT", "FLOAT", "NUMBER", "POSITIVE", "NONNEGATIVE"}) {
    if (type.rfind(number, 0) == 0) return true;
  }
  return false;
}

// Whether an option's help says it takes a path ("User-data file", "Base
// disk image", "Public key to log in with"): then paths are offered.
bool names_a_path(const std::string& description) {
  std::string lower;
  for (char c : description) lower += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  for (std::string_view word : {"file", "path", "image", "kernel", "ramdisk", "key", "folder", "dir"}) {
    if (lower.find(word) != std::string::npos) return true;
  }
  return false;
}

Value positional_value(const CLI::Option& option, const std::string& command) {
  std::vector<std::string> choices = choices_of(option);
  if (!choices.empty()) return {ValueKind::choice, std::move(choices)};
  const std::string name = option.get_name(true);
  if (name == "name") return {ValueKind::vm, {}};
  if (name == "image") return {ValueKind::image, {}};
  if (command == "cp") return {ValueKind::vm_path, {}};
  if (name == "command") return {ValueKind::any, {}};
  return {ValueKind::file, {}};
}

Value option_value(const CLI::Option& option) {
  if (option.get_expected_max() == 0) return {ValueKind::none, {}};  // a flag
  std::vector<std::string> choices = choices_of(option);
  if (!choices.empty()) return {ValueKind::choice, std::move(choices)};
  const std::vector<std::string>& long_names = option.get_lnames();
  auto named = [&](std::string_view name) {
    for (const std::string& candidate : long_names) {
      if (candidate == name) return true;
    }
    return false;
  };
  if (named("image-url")) return {ValueKind::image, {}};
  if (named("data-dir")) return {ValueKind::folder, {}};
  if (is_number(option)) return {ValueKind::any, {}};
  return names_a_path(option.get_description()) ? Value{ValueKind::file, {}} : Value{ValueKind::any, {}};
}

CommandSpec describe_command(const CLI::App& app, const std::string& path) {
  CommandSpec spec;
  spec.name = app.get_name();
  spec.path = path;
  spec.description = app.get_description();
  for (const CLI::Option* option : app.get_options()) {
    if (option->nonpositional()) {
      OptionSpec entry;
      for (const std::string& name : option->get_snames()) entry.names.push_back("-" + name);
      for (const std::string& name : option->get_lnames()) entry.names.push_back("--" + name);
      entry.description = option->get_description();
      entry.value = option_value(*option);
      spec.options.push_back(std::move(entry));
    } else {
      spec.positionals.push_back({option->get_name(true), option->get_description(),
                                  positional_value(*option, path),
                                  option->get_items_expected_max() >= CLI::detail::expected_max_vector_size});
    }
  }
  for (const CLI::App* sub : app.get_subcommands([](const CLI::App*) { return true; })) {
    if (sub->get_group().empty()) continue;  // hidden
    spec.subcommands.push_back(describe_command(*sub, path.empty() ? sub->get_name() : path + " " + sub->get_name()));
  }
  return spec;
}

}  // namespace

CommandSpec describe(const CLI::App& root) { return describe_command(root, ""); }

}  // namespace vmctl::completion
