// `network "<mode>"`: user, tap (with a bridge, br0 unless given), vnic
// (with a VNIC name) or none.
#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <string_view>

#include "util/printable.hpp"
#include "util/did_you_mean.hpp"
#include "vmfile/vmfile_readers.hpp"

namespace vm_manager::vmfile {
namespace {

constexpr std::array<std::string_view, 4> kModes = {"user", "tap", "vnic", "none"};

// The existing (Rust) vmctl's documented default.
constexpr std::string_view kDefaultBridge = "br0";

// Bridge and VNIC names end up in `ip` arguments and QEMU options: the
// rules of Linux interface names (and spec_check's).
bool is_interface_name(std::string_view name) {
  if (name.empty() || name.size() > 15) return false;
  for (char c : name) {
    bool ok =
        (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-' || c == '.';
    if (!ok) return false;
  }
  return true;
}

// Which mode a setting belongs to, for hints on a mode that has none.
std::string setting_hint(std::string_view setting) {
  if (setting == "bridge") return "bridge is a setting of network \"tap\"";
  if (setting == "name") return "name is a setting of network \"vnic\"";
  return "this network mode takes no settings";
}

// user and none take nothing but the mode.
void reject_settings(const kdl::Node& node, std::string_view mode, Problems& problems) {
  for (const kdl::Property& property : node.properties) {
    problems.add(property.position, fmt::format("network \"{}\" takes no property {}", mode, as_code(property.name)),
                 setting_hint(property.name));
  }
  for (const kdl::Node& child : node.children) {
    problems.add(child.position, fmt::format("network \"{}\" takes no {}", mode, as_code(child.name)),
                 setting_hint(child.name));
  }
}

// The bridge of tap or the name of vnic: `key="…"` or a `key "…"` child.
std::optional<std::string> interface_setting(const kdl::Node& node, std::string_view key, ReadContext& ctx) {
  const std::array<std::string_view, 1> allowed = {key};
  check_properties(node, allowed, ctx.problems);
  std::optional<std::string> from_property;
  if (const kdl::Value* value = node.property(key)) from_property = read_string(*value, key, ctx.problems);

  std::optional<std::string> from_child;
  std::optional<kdl::Position> child_at;
  const std::array<ChildRule, 1> rules = {ChildRule{key, [&](const kdl::Node& child) {
                                                      child_at = child.position;
                                                      from_child = string_leaf(child, fmt::format("{} \"…\"", key),
                                                                               ctx.problems);
                                                    }}};
  read_children(node.children, "network", rules, {}, ctx.problems);

  if (node.property(key) != nullptr && child_at) {
    ctx.problems.add(*child_at, fmt::format("{} given both as a property and as a child", as_code(key)),
                     "keep one of them");
    return std::nullopt;
  }
  return from_property ? from_property : from_child;
}

bool check_interface_name(const std::optional<std::string>& name, std::string_view what, kdl::Position at,
                          Problems& problems) {
  if (!name || is_interface_name(*name)) return true;
  problems.add(at, fmt::format("invalid {} name '{}'", what, util::printable(*name)),
               "use 1-15 characters of A-Z, a-z, 0-9, '_', '.' and '-'");
  return false;
}

// Where a setting was given, for a problem about its value.
kdl::Position setting_position(const kdl::Node& node, std::string_view key) {
  if (const kdl::Value* value = node.property(key)) return value->position;
  for (const kdl::Node& child : node.children) {
    if (child.name == key) return value_position(child);
  }
  return node.position;
}

std::optional<NetworkConfig> read_tap(const kdl::Node& node, ReadContext& ctx) {
  std::optional<std::string> bridge = interface_setting(node, "bridge", ctx);
  if (!check_interface_name(bridge, "bridge", setting_position(node, "bridge"), ctx.problems)) return std::nullopt;
  return TapNetwork{bridge.value_or(std::string(kDefaultBridge))};
}

std::optional<NetworkConfig> read_vnic(const kdl::Node& node, ReadContext& ctx) {
  std::optional<std::string> name = interface_setting(node, "name", ctx);
  const bool given =
      node.property("name") != nullptr || std::any_of(node.children.begin(), node.children.end(),
                                                      [](const kdl::Node& child) { return child.name == "name"; });
  if (!given) {
    ctx.problems.add(node.position, "network \"vnic\" needs the VNIC's name",
                     "for example: network \"vnic\" name=\"vnic0\"");
    return std::nullopt;
  }
  if (!check_interface_name(name, "VNIC", setting_position(node, "name"), ctx.problems)) return std::nullopt;
  if (!name) return std::nullopt;
  return VnicNetwork{*name};
}

}  // namespace

std::optional<NetworkConfig> read_network(const kdl::Node& node, ReadContext& ctx) {
  reject_extra_arguments(node, 1, ctx.problems);
  const kdl::Value* value = first_argument(node, "a mode", "network \"user\"", ctx.problems);
  std::optional<std::string> mode = value ? read_string(*value, node.name, ctx.problems) : std::nullopt;
  if (!mode) return std::nullopt;
  if (*mode == "user" || *mode == "none") {
    reject_settings(node, *mode, ctx.problems);
    if (*mode == "user") return UserNetwork{};
    return NoNetwork{};
  }
  if (*mode == "tap") return read_tap(node, ctx);
  if (*mode == "vnic") return read_vnic(node, ctx);
  std::string hint = util::did_you_mean(*mode, kModes);
  ctx.problems.add(value->position, fmt::format("unknown network mode \"{}\"", util::printable(*mode)),
                   hint.empty() ? "use \"user\", \"tap\", \"vnic\" or \"none\"" : hint);
  return std::nullopt;
}

}  // namespace vm_manager::vmfile
