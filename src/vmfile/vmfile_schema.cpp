#include "vmfile/vmfile_schema.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <string>

#include "util/printable.hpp"
#include "util/did_you_mean.hpp"

namespace vm_manager::vmfile {

void Problems::add(kdl::Position at, std::string message, std::string help) {
  list_.push_back(Problem{at, std::move(message), std::move(help)});
}

std::vector<Problem> Problems::take() {
  std::stable_sort(list_.begin(), list_.end(),
                   [](const Problem& a, const Problem& b) { return comes_before(a.position, b.position); });
  return std::move(list_);
}

bool comes_before(kdl::Position a, kdl::Position b) { return a.line != b.line ? a.line < b.line : a.column < b.column; }

kdl::Position later_of(kdl::Position a, kdl::Position b) { return comes_before(a, b) ? b : a; }

std::string describe_type(const kdl::Value& value) {
  if (value.is_null()) return "#null";
  if (value.as_bool() != nullptr) return "a boolean";
  if (value.as_integer() != nullptr) return "an integer";
  if (value.as_double() != nullptr) return "a decimal number";
  return "a string";
}

std::string describe_position(kdl::Position position) { return fmt::format("{}:{}", position.line, position.column); }

std::string as_code(std::string_view name) { return fmt::format("`{}`", util::printable(name)); }

void reject_annotation(const kdl::Value& value, Problems& problems) {
  if (!value.type_annotation) return;
  problems.add(value.position,
               fmt::format("type annotation ({}) has no meaning in a VMFile", util::printable(*value.type_annotation)),
               "remove the annotation");
}

void reject_annotation(const kdl::Node& node, Problems& problems) {
  if (!node.type_annotation) return;
  problems.add(node.position,
               fmt::format("type annotation ({}) has no meaning in a VMFile", util::printable(*node.type_annotation)),
               "remove the annotation");
}

namespace {

std::string list_names(std::span<const std::string_view> names) {
  std::string out;
  for (std::string_view name : names) {
    out += out.empty() ? "" : ", ";
    out += name;
  }
  return out;
}

std::string unknown_property_help(const kdl::Node& node, std::string_view key,
                                  std::span<const std::string_view> allowed) {
  std::string hint = util::did_you_mean(key, allowed);
  if (!hint.empty()) return hint;
  if (allowed.empty()) return fmt::format("{} takes no properties", as_code(node.name));
  return fmt::format("{} takes: {}", as_code(node.name), list_names(allowed));
}

}  // namespace

void check_properties(const kdl::Node& node, std::span<const std::string_view> allowed, Problems& problems) {
  for (const kdl::Property& property : node.properties) {
    reject_annotation(property.value, problems);
    if (std::find(allowed.begin(), allowed.end(), property.name) == allowed.end()) {
      problems.add(property.position,
                   fmt::format("unknown property {} on {}", as_code(property.name), as_code(node.name)),
                   unknown_property_help(node, property.name, allowed));
    }
  }
  // KDL lets the last of repeated keys win; in a VMFile a repeat is a slip.
  for (const kdl::Property& earlier : node.overridden_properties) {
    problems.add(earlier.position, fmt::format("property {} given more than once", as_code(earlier.name)),
                 "keep one of them");
  }
}

void reject_children(const kdl::Node& node, Problems& problems) {
  if (node.children.empty()) return;
  problems.add(node.children.front().position, fmt::format("{} takes no children block", as_code(node.name)),
               fmt::format("move {} out of the braces", as_code(node.children.front().name)));
}

void reject_extra_arguments(const kdl::Node& node, std::size_t count, Problems& problems) {
  for (std::size_t i = count; i < node.arguments.size(); ++i) {
    problems.add(node.arguments[i].position, fmt::format("unexpected extra argument to {}", as_code(node.name)),
                 count == 1 ? fmt::format("{} takes one value", as_code(node.name))
                            : fmt::format("{} takes {} values", as_code(node.name), count));
  }
}

const kdl::Value* first_argument(const kdl::Node& node, std::string_view expected, std::string_view example,
                                 Problems& problems) {
  if (node.arguments.empty()) {
    problems.add(node.position, fmt::format("{} needs {}", as_code(node.name), expected),
                 fmt::format("for example: {}", example));
    return nullptr;
  }
  reject_annotation(node.arguments.front(), problems);
  return &node.arguments.front();
}

namespace {

void wrong_type(const kdl::Value& value, std::string_view node_name, std::string_view expected, std::string help,
                Problems& problems) {
  problems.add(value.position, fmt::format("{} takes {}, not {}", as_code(node_name), expected, describe_type(value)),
               std::move(help));
}

}  // namespace

std::optional<std::string> read_string(const kdl::Value& value, std::string_view node_name, Problems& problems) {
  if (const std::string* text = value.as_string()) return *text;
  wrong_type(value, node_name, "a string", "put the value in double quotes", problems);
  return std::nullopt;
}

std::optional<bool> read_bool(const kdl::Value& value, std::string_view node_name, Problems& problems) {
  if (const bool* flag = value.as_bool()) return *flag;
  wrong_type(value, node_name, "a boolean", "write #true or #false (true or false in KDL 1)", problems);
  return std::nullopt;
}

namespace {

std::string range_text(IntegerRange range) {
  std::string unit = range.unit.empty() ? "" : fmt::format(" {}", range.unit);
  return fmt::format("between {} and {}{}", range.min, range.max, unit);
}

}  // namespace

std::optional<std::int64_t> read_integer(const kdl::Value& value, std::string_view node_name, IntegerRange range,
                                         Problems& problems) {
  const kdl::Integer* integer = value.as_integer();
  if (integer == nullptr) {
    std::string help = value.as_string() != nullptr ? "write the number without quotes" : "write a whole number";
    wrong_type(value, node_name, "an integer", std::move(help), problems);
    return std::nullopt;
  }
  if (integer->out_of_range || integer->value < range.min || integer->value > range.max) {
    // Integer::text is the literal as written, so a value too large for
    // int64 is shown as the user wrote it instead of wrapped.
    problems.add(
        value.position,
        fmt::format("{} must be {}, not {}", as_code(node_name), range_text(range), util::printable(integer->text)),
        integer->out_of_range || integer->value > range.max ? "that is too large" : "that is too small");
    return std::nullopt;
  }
  return integer->value;
}

namespace {

// The shared shape of every leaf: one argument, no properties, no children.
const kdl::Value* leaf_value(const kdl::Node& node, std::string_view expected, std::string_view example,
                             Problems& problems) {
  check_properties(node, {}, problems);
  reject_children(node, problems);
  reject_extra_arguments(node, 1, problems);
  return first_argument(node, expected, example, problems);
}

}  // namespace

std::optional<std::string> string_leaf(const kdl::Node& node, std::string_view example, Problems& problems) {
  const kdl::Value* value = leaf_value(node, "a string", example, problems);
  return value ? read_string(*value, node.name, problems) : std::nullopt;
}

std::optional<bool> bool_leaf(const kdl::Node& node, std::string_view example, Problems& problems) {
  const kdl::Value* value = leaf_value(node, "#true or #false", example, problems);
  return value ? read_bool(*value, node.name, problems) : std::nullopt;
}

std::optional<std::int64_t> integer_leaf(const kdl::Node& node, IntegerRange range, std::string_view example,
                                         Problems& problems) {
  const kdl::Value* value = leaf_value(node, "an integer", example, problems);
  return value ? read_integer(*value, node.name, range, problems) : std::nullopt;
}

namespace {

std::string unknown_node_help(std::string_view name, std::span<const ChildRule> rules,
                              std::span<const ElsewhereHint> elsewhere) {
  std::vector<std::string_view> names;
  for (const ChildRule& rule : rules) names.push_back(rule.name);
  std::string hint = util::did_you_mean(name, names);
  if (!hint.empty()) return hint;
  for (const ElsewhereHint& other : elsewhere) {
    if (other.name == name) return fmt::format("{} belongs inside {}", as_code(name), other.belongs_in);
  }
  return fmt::format("valid here: {}", list_names(names));
}

}  // namespace

void read_children(std::span<const kdl::Node> children, std::string_view where, std::span<const ChildRule> rules,
                   std::span<const ElsewhereHint> elsewhere, Problems& problems) {
  std::map<std::string_view, kdl::Position> first_seen;
  for (const kdl::Node& child : children) {
    reject_annotation(child, problems);
    auto rule = std::find_if(rules.begin(), rules.end(), [&](const ChildRule& r) { return r.name == child.name; });
    if (rule == rules.end()) {
      problems.add(child.position, fmt::format("unknown node {} in {}", as_code(child.name), where),
                   unknown_node_help(child.name, rules, elsewhere));
      continue;
    }
    auto [seen, first] = first_seen.try_emplace(rule->name, child.position);
    if (!first && !rule->repeatable) {
      problems.add(child.position,
                   fmt::format("{} given more than once in {} (first at {})", as_code(child.name), where,
                               describe_position(seen->second)),
                   "keep one of them");
      continue;
    }
    rule->read(child);
  }
}

}  // namespace vm_manager::vmfile
