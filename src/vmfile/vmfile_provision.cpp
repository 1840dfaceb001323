// `provision "shell" { inline "…" }`, `provision "shell" { script "…" }` and
// `provision "file" { source "…"; destination "…" }`. A provision without a
// type is a shell step, as in the first vmctl: `provision { inline "…" }`.
#include <fmt/format.h>

#include <array>
#include <string_view>

#include "util/printable.hpp"
#include "util/did_you_mean.hpp"
#include "vmfile/vmfile_readers.hpp"

namespace vm_manager::vmfile {
namespace {

namespace fs = std::filesystem;

constexpr std::array<std::string_view, 2> kTypes = {"shell", "file"};
constexpr std::array<ElsewhereHint, 2> kFileNodes = {ElsewhereHint{"source", "provision \"file\" { … }"},
                                                     ElsewhereHint{"destination", "provision \"file\" { … }"}};
constexpr std::array<ElsewhereHint, 2> kShellNodes = {ElsewhereHint{"inline", "provision \"shell\" { … }"},
                                                      ElsewhereHint{"script", "provision \"shell\" { … }"}};

// A string leaf that must not be empty; `what` names it in the message.
std::optional<std::string> non_empty(const kdl::Node& node, std::string_view example, std::string_view what,
                                     Problems& problems) {
  std::optional<std::string> text = string_leaf(node, example, problems);
  if (text && text->empty()) {
    problems.add(value_position(node), fmt::format("empty {}", what), fmt::format("for example: {}", example));
    return std::nullopt;
  }
  return text;
}

std::optional<provision::Step> read_shell(const kdl::Node& node, ReadContext& ctx) {
  std::optional<std::string> command;
  std::optional<fs::path> script;
  std::optional<kdl::Position> inline_at, script_at;
  const std::array<ChildRule, 2> rules = {
      ChildRule{"inline",
                [&](const kdl::Node& child) {
                  inline_at = child.position;
                  command = non_empty(child, "inline \"sudo apt-get update\"", "command", ctx.problems);
                }},
      ChildRule{"script",
                [&](const kdl::Node& child) {
                  script_at = child.position;
                  std::optional<std::string> raw = string_leaf(child, "script \"scripts/setup.sh\"", ctx.problems);
                  if (raw) script = ctx.paths.existing_file(*raw, value_position(child), "script", ctx.problems);
                }},
  };
  read_children(node.children, "provision \"shell\"", rules, kFileNodes, ctx.problems);
  if (inline_at && script_at) {
    ctx.problems.add(later_of(*inline_at, *script_at), "provision \"shell\" takes either inline or script, not both",
                     "split it into two provision \"shell\" blocks");
    return std::nullopt;
  }
  if (!inline_at && !script_at) {
    ctx.problems.add(node.position, "provision \"shell\" needs inline or script",
                     "for example: provision \"shell\" { inline \"sudo apt-get update\" }");
    return std::nullopt;
  }
  if (command) return provision::ShellInline{*command};
  if (script) return provision::ShellScript{*script};
  return std::nullopt;
}

std::optional<provision::Step> read_file_copy(const kdl::Node& node, ReadContext& ctx) {
  std::optional<fs::path> source;
  std::optional<std::string> destination;
  bool has_source = false;
  bool has_destination = false;
  const std::array<ChildRule, 2> rules = {
      ChildRule{"source",
                [&](const kdl::Node& child) {
                  has_source = true;
                  std::optional<std::string> raw = string_leaf(child, "source \"config/app.conf\"", ctx.problems);
                  if (raw) source = ctx.paths.existing_file(*raw, value_position(child), "source", ctx.problems);
                }},
      ChildRule{"destination",
                [&](const kdl::Node& child) {
                  has_destination = true;
                  destination = non_empty(child, "destination \"/etc/app/app.conf\"", "destination", ctx.problems);
                }},
  };
  read_children(node.children, "provision \"file\"", rules, kShellNodes, ctx.problems);
  if (!has_source) {
    ctx.problems.add(node.position, "provision \"file\" needs a source", "for example: source \"config/app.conf\"");
  }
  if (!has_destination) {
    ctx.problems.add(node.position, "provision \"file\" needs a destination",
                     "for example: destination \"/etc/app/app.conf\"");
  }
  if (!source || !destination) return std::nullopt;
  return provision::FileCopy{*source, *destination};
}

}  // namespace

std::optional<provision::Step> read_provision(const kdl::Node& node, ReadContext& ctx) {
  check_properties(node, {}, ctx.problems);
  reject_extra_arguments(node, 1, ctx.problems);
  if (node.arguments.empty()) return read_shell(node, ctx);
  const kdl::Value* value = first_argument(node, "a type", "provision \"shell\" { inline \"…\" }", ctx.problems);
  std::optional<std::string> type = value ? read_string(*value, node.name, ctx.problems) : std::nullopt;
  if (!type) return std::nullopt;
  if (*type == "shell") return read_shell(node, ctx);
  if (*type == "file") return read_file_copy(node, ctx);
  std::string hint = util::did_you_mean(*type, kTypes);
  ctx.problems.add(value->position, fmt::format("unknown provision type \"{}\"", util::printable(*type)),
                   hint.empty() ? "use \"shell\" or \"file\"" : hint);
  return std::nullopt;
}

}  // namespace vm_manager::vmfile
