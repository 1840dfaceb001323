#include "backends/libvirt/uri.hpp"

#include <charconv>

#include <fmt/format.h>

#include "core/host_uri.hpp"
#include "util/printable.hpp"
#include "vm_manager/error.hpp"

namespace vm_manager::libvirt {
namespace {

[[noreturn]] void bad_uri(std::string_view text, std::string_view why) {
  throw Error(errc::spec_invalid, fmt::format("'{}' is no libvirt URI: {}", util::printable(text), why),
              "give a URI such as qemu:///system or qemu+ssh://user@host/system");
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string percent_decode(std::string_view text, std::string_view uri) {
  std::string out;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '%') {
      out += text[i];
      continue;
    }
    if (i + 2 >= text.size() || hex_value(text[i + 1]) < 0 || hex_value(text[i + 2]) < 0) {
      bad_uri(uri, "a '%' that starts no %XX escape");
    }
    out += static_cast<char>(hex_value(text[i + 1]) * 16 + hex_value(text[i + 2]));
    i += 2;
  }
  return out;
}

void parse_scheme(std::string_view scheme, LibvirtUri& uri) {
  if (scheme.empty()) bad_uri(uri.text, "it has no scheme");
  for (char c : scheme) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '+';
    if (!ok) bad_uri(uri.text, "its scheme has other characters than letters, digits and '+'");
  }
  auto plus = scheme.find('+');
  uri.driver = std::string(scheme.substr(0, plus));
  if (plus != std::string_view::npos) uri.transport = std::string(scheme.substr(plus + 1));
  if (uri.driver.empty()) bad_uri(uri.text, "its scheme names no driver");
}

void parse_authority(std::string_view authority, LibvirtUri& uri) {
  auto at = authority.rfind('@');
  if (at != std::string_view::npos) {
    uri.user = percent_decode(authority.substr(0, at), uri.text);
    authority.remove_prefix(at + 1);
  }
  std::string_view host = authority;
  std::string_view port;
  if (!host.empty() && host.front() == '[') {  // [IPv6]:port
    auto close = host.find(']');
    if (close == std::string_view::npos) bad_uri(uri.text, "an IPv6 address without ']'");
    port = host.substr(close + 1);
    host = host.substr(1, close - 1);
    if (!port.empty() && port.front() != ':') bad_uri(uri.text, "text after the IPv6 address");
    if (!port.empty()) port.remove_prefix(1);
  } else if (auto colon = host.rfind(':'); colon != std::string_view::npos) {
    port = host.substr(colon + 1);
    host = host.substr(0, colon);
  }
  uri.host = percent_decode(host, uri.text);
  if (port.empty()) return;
  unsigned value = 0;
  auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
  if (ec != std::errc() || end != port.data() + port.size() || value == 0 || value > 65535) {
    bad_uri(uri.text, "its port is no number from 1 to 65535");
  }
  uri.port = static_cast<std::uint16_t>(value);
}

void parse_query(std::string_view query, LibvirtUri& uri) {
  while (!query.empty()) {
    auto amp = query.find_first_of("&;");
    std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    if (pair.empty()) continue;
    auto eq = pair.find('=');
    std::string key = percent_decode(pair.substr(0, eq), uri.text);
    std::string value = eq == std::string_view::npos ? "" : percent_decode(pair.substr(eq + 1), uri.text);
    uri.params[key] = value;
  }
}

}  // namespace

LibvirtUri parse_uri(std::string_view text) {
  validate_host_uri(text);  // the shape the CLI and VMFile check too: a qemu (or test) driver
  LibvirtUri uri;
  uri.text = std::string(text);
  auto sep = text.find("://");
  if (sep == std::string_view::npos) bad_uri(text, "it has no '://'");
  parse_scheme(text.substr(0, sep), uri);
  std::string_view rest = text.substr(sep + 3);
  auto query_start = rest.find('?');
  if (query_start != std::string_view::npos) {
    parse_query(rest.substr(query_start + 1), uri);
    rest = rest.substr(0, query_start);
  }
  auto slash = rest.find('/');
  parse_authority(rest.substr(0, slash), uri);
  if (slash != std::string_view::npos) uri.path = percent_decode(rest.substr(slash), text);
  return uri;
}

std::optional<SshJumpHost> ssh_jump_for(const LibvirtUri& uri) {
  bool over_ssh = uri.transport == "ssh";
  if (!over_ssh || !uri.remote()) return std::nullopt;
  SshJumpHost jump;
  jump.user = uri.user;
  jump.host = uri.host;
  jump.port = uri.port.value_or(22);
  if (auto key = uri.params.find("keyfile"); key != uri.params.end()) jump.identity_file = key->second;
  if (auto known = uri.params.find("known_hosts"); known != uri.params.end()) jump.known_hosts = known->second;
  return jump;
}

}  // namespace vm_manager::libvirt
