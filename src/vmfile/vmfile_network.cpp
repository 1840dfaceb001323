// `network "<mode>"`: user, tap (with a bridge, br0 unless given), vnic
// (with a VNIC name) or none. tap and vnic may give the guest a static
// address: `ip "ADDR/PREFIX"`, `gateway "IP"` and `dns "IP"` (repeatable)
// children.
#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <string_view>

#include "util/printable.hpp"
#include "util/did_you_mean.hpp"
#include "vm_manager/error.hpp"
#include "vm_manager/spec_check.hpp"
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
  if (setting == "ip" || setting == "gateway" || setting == "dns") {
    return "a static address is for network \"tap\" or \"vnic\": user networking gives the guest QEMU's "
           "own private address, and none has no NIC";
  }
  return "this network mode takes no settings";
}

// The `ip`, `gateway` and `dns` children, each with where it was given.
struct StaticDraft {
  std::optional<std::string> ip;
  kdl::Position ip_at;
  std::optional<std::string> gateway;
  kdl::Position gateway_at;
  std::vector<std::pair<std::string, kdl::Position>> dns;
  bool bad = false;  // a child whose value was unusable (already reported)
};

std::array<ChildRule, 3> static_rules(StaticDraft& draft, Problems& problems) {
  auto leaf = [&draft, &problems](const kdl::Node& child, std::string_view example) {
    std::optional<std::string> value = string_leaf(child, example, problems);
    if (!value) draft.bad = true;
    return value;
  };
  return {ChildRule{"ip",
                    [&draft, leaf](const kdl::Node& child) {
                      draft.ip_at = value_position(child);
                      draft.ip = leaf(child, "ip \"192.168.10.5/24\"");
                    }},
          ChildRule{"gateway",
                    [&draft, leaf](const kdl::Node& child) {
                      draft.gateway_at = value_position(child);
                      draft.gateway = leaf(child, "gateway \"192.168.10.1\"");
                    }},
          ChildRule{"dns",
                    [&draft, leaf](const kdl::Node& child) {
                      if (auto server = leaf(child, "dns \"192.168.10.1\"")) {
                        draft.dns.emplace_back(*server, value_position(child));
                      }
                    },
                    true}};
}

// Each part checked on its own, so a problem points at the node that holds it.
bool check_static_part(const StaticAddress& part, kdl::Position at, Problems& problems) {
  try {
    validate_static_address(part);
    return true;
  } catch (const Error& error) {
    problems.add(at, error.message(), error.help());
    return false;
  }
}

std::optional<StaticAddress> finish_static(const StaticDraft& draft, Problems& problems) {
  if (!draft.ip) {
    if (!draft.bad && (draft.gateway || !draft.dns.empty())) {
      problems.add(draft.gateway ? draft.gateway_at : draft.dns.front().second,
                   "gateway and dns are part of a static address, which needs `ip`",
                   "add ip \"ADDR/PREFIX\" to the network block, or drop gateway and dns (DHCP gives them)");
    }
    return std::nullopt;
  }
  StaticAddress fixed{*draft.ip, draft.gateway.value_or(""), {}};
  bool ok = !draft.bad && check_static_part(StaticAddress{fixed.address, "", {}}, draft.ip_at, problems);
  if (ok && !fixed.gateway.empty()) ok = check_static_part(fixed, draft.gateway_at, problems);
  for (const auto& [server, at] : draft.dns) {
    fixed.dns.push_back(server);
    if (ok) ok = check_static_part(StaticAddress{fixed.address, "", {server}}, at, problems);
  }
  if (ok && fixed.dns.size() > kMaxNameServers) {
    ok = check_static_part(fixed, draft.dns[kMaxNameServers].second, problems);
  }
  return ok ? std::optional<StaticAddress>(fixed) : std::nullopt;
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

// The bridge of tap or the name of vnic: `key="…"` or a `key "…"` child;
// the static address's children go to `fixed`.
std::optional<std::string> interface_setting(const kdl::Node& node, std::string_view key, ReadContext& ctx,
                                             StaticDraft& fixed) {
  const std::array<std::string_view, 1> allowed = {key};
  check_properties(node, allowed, ctx.problems);
  std::optional<std::string> from_property;
  if (const kdl::Value* value = node.property(key)) from_property = read_string(*value, key, ctx.problems);

  std::optional<std::string> from_child;
  std::optional<kdl::Position> child_at;
  const std::array<ChildRule, 3> address_rules = static_rules(fixed, ctx.problems);
  const std::array<ChildRule, 4> rules = {ChildRule{key,
                                                    [&](const kdl::Node& child) {
                                                      child_at = child.position;
                                                      from_child = string_leaf(child, fmt::format("{} \"…\"", key),
                                                                               ctx.problems);
                                                    }},
                                          address_rules[0], address_rules[1], address_rules[2]};
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
  StaticDraft draft;
  std::optional<std::string> bridge = interface_setting(node, "bridge", ctx, draft);
  std::optional<StaticAddress> fixed = finish_static(draft, ctx.problems);
  if (!check_interface_name(bridge, "bridge", setting_position(node, "bridge"), ctx.problems)) return std::nullopt;
  return TapNetwork{bridge.value_or(std::string(kDefaultBridge)), fixed};
}

std::optional<NetworkConfig> read_vnic(const kdl::Node& node, ReadContext& ctx) {
  StaticDraft draft;
  std::optional<std::string> name = interface_setting(node, "name", ctx, draft);
  std::optional<StaticAddress> fixed = finish_static(draft, ctx.problems);
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
  return VnicNetwork{*name, fixed};
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
