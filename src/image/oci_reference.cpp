#include "image/oci_reference.hpp"

#include <charconv>
#include <regex>

#include <fmt/format.h>

#include "image/sha256.hpp"
#include "vm_manager/error.hpp"

namespace vm_manager::image {
namespace {

constexpr std::string_view kScheme = "oci://";
constexpr std::string_view kForm = "use oci://REGISTRY/REPOSITORY:TAG or oci://REGISTRY/REPOSITORY@sha256:DIGEST";

[[noreturn]] void malformed(std::string_view source, const std::string& why) {
  throw Error(errc::image_bad_source, fmt::format("malformed OCI reference {}: {}", source, why), std::string(kForm));
}

// The grammar of the distribution spec (docker/distribution/reference).
bool valid_host(const std::string& host) {
  static const std::regex name(R"(([A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*)");
  static const std::regex ipv6(R"(\[[0-9A-Fa-f:.]+\])");
  return std::regex_match(host, name) || std::regex_match(host, ipv6);
}

bool valid_port(std::string_view port) {
  unsigned value = 0;
  auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
  return ec == std::errc() && end == port.data() + port.size() && value >= 1 && value <= 65535;
}

bool valid_segment(const std::string& segment) {
  static const std::regex re(R"([a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*)");
  return std::regex_match(segment, re);
}

bool valid_tag(const std::string& tag) {
  static const std::regex re(R"([A-Za-z0-9_][A-Za-z0-9_.-]{0,127})");
  return std::regex_match(tag, re);
}

void check_registry(std::string_view source, std::string_view registry) {
  if (registry.empty()) malformed(source, "the registry is missing");
  std::string_view host = registry;
  std::size_t colon = registry.rfind(':');
  if (colon != std::string_view::npos && registry.find(']', colon) == std::string_view::npos) {
    host = registry.substr(0, colon);
    if (!valid_port(registry.substr(colon + 1))) {
      malformed(source, fmt::format("\"{}\" is not a port", registry.substr(colon + 1)));
    }
  }
  if (!valid_host(std::string(host))) malformed(source, fmt::format("\"{}\" is not a registry host", host));
}

void check_repository(std::string_view source, const std::string& repository) {
  if (repository.empty()) malformed(source, "the repository is missing");
  if (repository.size() > 255) malformed(source, "the repository is longer than 255 characters");
  std::size_t start = 0;
  while (true) {
    std::size_t slash = repository.find('/', start);
    std::string segment = repository.substr(start, slash == std::string::npos ? std::string::npos : slash - start);
    if (!valid_segment(segment)) {
      malformed(source, fmt::format("\"{}\" is not a repository path segment (lower-case letters, digits, "
                                    "and . _ - between them)", segment));
    }
    if (slash == std::string::npos) break;
    start = slash + 1;
  }
}

}  // namespace

std::string OciReference::host() const {
  if (registry.starts_with('[')) return registry.substr(0, registry.find(']') + 1);
  return registry.substr(0, registry.find(':'));
}

bool is_oci_source(std::string_view source) { return source.starts_with(kScheme); }

OciReference parse_oci_reference(std::string_view source) {
  if (!is_oci_source(source)) malformed(source, "it does not start with oci://");
  std::string_view rest = source.substr(kScheme.size());
  std::size_t slash = rest.find('/');
  if (slash == std::string_view::npos) malformed(source, "the repository is missing");
  OciReference ref;
  ref.registry = std::string(rest.substr(0, slash));
  check_registry(source, ref.registry);
  std::string name(rest.substr(slash + 1));

  if (std::size_t at = name.find('@'); at != std::string::npos) {
    ref.digest = name.substr(at + 1);
    name.resize(at);
    if (!ref.digest.starts_with("sha256:") || !is_sha256_hex(std::string_view(ref.digest).substr(7)) ||
        ref.digest.size() != 71) {
      malformed(source, fmt::format("\"{}\" is not a sha256:<64 hex digits> digest", ref.digest));
    }
    for (char& c : ref.digest) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  if (std::size_t colon = name.rfind(':'); colon != std::string::npos) {
    ref.tag = name.substr(colon + 1);
    name.resize(colon);
    if (!valid_tag(ref.tag)) malformed(source, fmt::format("\"{}\" is not a tag", ref.tag));
  }
  if (ref.tag.empty() && ref.digest.empty()) malformed(source, "give a tag (:TAG) or a digest (@sha256:…)");
  check_repository(source, name);
  ref.repository = std::move(name);
  return ref;
}

}  // namespace vm_manager::image
