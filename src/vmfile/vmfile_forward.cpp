// `forward host=8080 guest=80`, with optional protocol="udp" and
// address="0.0.0.0": a guest port published on the host (user networking).
#include <array>

#include <fmt/format.h>

#include "vm_manager/error.hpp"
#include "vm_manager/spec_check.hpp"
#include "vmfile/vmfile_readers.hpp"

namespace vm_manager::vmfile {
namespace {

constexpr std::string_view kExample = "forward host=8080 guest=80";
constexpr std::array<std::string_view, 4> kProperties = {"host", "guest", "protocol", "address"};

std::optional<std::uint16_t> port_property(const kdl::Node& node, std::string_view key, Problems& problems) {
  const kdl::Value* value = node.property(key);
  if (value == nullptr) {
    problems.add(node.position, fmt::format("forward needs {}=PORT", key), fmt::format("for example: {}", kExample));
    return std::nullopt;
  }
  auto port = read_integer(*value, key, {1, 65535, ""}, problems);
  if (!port) return std::nullopt;
  return static_cast<std::uint16_t>(*port);
}

}  // namespace

std::optional<PortForward> read_forward(const kdl::Node& node, ReadContext& ctx) {
  Problems& problems = ctx.problems;
  check_properties(node, kProperties, problems);
  reject_children(node, problems);
  reject_extra_arguments(node, 0, problems);
  PortForward forward;
  bool ok = true;
  if (auto port = port_property(node, "host", problems)) forward.host_port = *port; else ok = false;
  if (auto port = port_property(node, "guest", problems)) forward.guest_port = *port; else ok = false;
  if (const kdl::Value* value = node.property("protocol")) {
    std::optional<std::string> text = read_string(*value, "forward", problems);
    std::optional<PortProtocol> protocol = text ? parse_port_protocol(*text) : std::nullopt;
    if (text && !protocol) {
      problems.add(value->position, fmt::format("unknown protocol \"{}\"", *text), "use \"tcp\" (the default) or \"udp\"");
    }
    if (protocol) forward.protocol = *protocol; else ok = false;
  }
  if (const kdl::Value* value = node.property("address")) {
    if (auto address = read_string(*value, "forward", problems)) forward.host_address = *address; else ok = false;
  }
  if (!ok) return std::nullopt;
  return forward;
}

void check_forwards(const VmDefinition& def, const std::vector<kdl::Position>& at, Problems& problems) {
  try {
    validate_port_forwards(def.spec.port_forwards, def.spec.network);
  } catch (const Error& error) {
    // The problem is about the last forward that takes part in it, or the
    // network that cannot have any: the first forward then.
    kdl::Position where = at.empty() ? def.position : at.front();
    for (std::size_t i = 0; i < def.spec.port_forwards.size() && i < at.size(); ++i) {
      const std::string text = port_forward_text(def.spec.port_forwards[i]);
      if (error.message().find(text) != std::string::npos ||
          error.message().find("'" + def.spec.port_forwards[i].host_address + "'") != std::string::npos) {
        where = at[i];
      }
    }
    problems.add(where, error.message(), error.help());
  }
}

}  // namespace vm_manager::vmfile
