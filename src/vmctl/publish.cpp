#include "vmctl/publish.hpp"

#include <charconv>
#include <cstdio>
#include <optional>

#include <fmt/format.h>

#include "vm_manager/error.hpp"
#include "vm_manager/spec_check.hpp"

namespace vmctl {
using namespace vm_manager;
namespace {

[[noreturn]] void invalid(std::string_view text, std::string_view form) {
  throw Error(errc::port_invalid, fmt::format("'{}' is not a published port", text),
              fmt::format("write it as {}, e.g. 8080:80 or 0.0.0.0:5353:53/udp", form));
}

std::optional<std::uint16_t> port_number(std::string_view text) {
  unsigned value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size() || value < 1 || value > 65535) {
    return std::nullopt;
  }
  return static_cast<std::uint16_t>(value);
}

// Splits off "/tcp" or "/udp"; nullopt for another suffix.
std::optional<PortProtocol> take_protocol(std::string_view& text) {
  auto slash = text.rfind('/');
  if (slash == std::string_view::npos) return PortProtocol::tcp;
  std::optional<PortProtocol> protocol = parse_port_protocol(text.substr(slash + 1));
  text = text.substr(0, slash);
  return protocol;
}

constexpr std::string_view kPublishForm = "[HOST_IP:]HOST_PORT:GUEST_PORT[/tcp|/udp]";

}  // namespace

PortForward parse_publish(std::string_view text) {
  std::string_view rest = text;
  std::optional<PortProtocol> protocol = take_protocol(rest);
  auto last = rest.rfind(':');
  if (!protocol || last == std::string_view::npos) invalid(text, kPublishForm);
  std::string_view guest = rest.substr(last + 1);
  rest = rest.substr(0, last);
  auto before = rest.rfind(':');
  std::string_view host = before == std::string_view::npos ? rest : rest.substr(before + 1);
  PortForward forward;
  if (before != std::string_view::npos) forward.host_address = std::string(rest.substr(0, before));
  std::optional<std::uint16_t> host_port = port_number(host);
  std::optional<std::uint16_t> guest_port = port_number(guest);
  if (!host_port || !guest_port || forward.host_address.empty()) invalid(text, kPublishForm);
  forward.host_port = *host_port;
  forward.guest_port = *guest_port;
  forward.protocol = *protocol;
  return forward;
}

std::pair<std::uint16_t, PortProtocol> parse_published_port(std::string_view text) {
  std::string_view rest = text;
  std::optional<PortProtocol> protocol = take_protocol(rest);
  std::optional<std::uint16_t> port = port_number(rest);
  if (!protocol || !port) invalid(text, "HOST_PORT[/tcp|/udp]");
  return {*port, *protocol};
}

void warn_if_reachable_from_outside(const PortForward& forward) {
  if (forward_is_loopback_only(forward)) return;
  // Not through the log's level: --quiet must not hide an open port.
  std::fputs(fmt::format("warning: {} listens on {}: other machines can reach the guest's port {}\n",
                         port_forward_text(forward), forward.host_address, forward.guest_port)
                 .c_str(),
             stderr);
}

}  // namespace vmctl
