#include "vm_manager/spec_check.hpp"

#include <arpa/inet.h>

#include <charconv>

#include <fmt/format.h>

#include "util/printable.hpp"
#include "vm_manager/error.hpp"
#include "vm_manager/names.hpp"

namespace vm_manager {
namespace {

[[noreturn]] void invalid(std::string message, std::string help) {
  throw Error(errc::spec_invalid, std::move(message), std::move(help));
}

// Values that end up in QEMU's comma-separated option syntax or in file
// names must not smuggle in separators or control characters.
bool is_plain_identifier(std::string_view text) {
  if (text.empty() || text.size() > 15) return false;
  for (char c : text) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '-' || c == '.';
    if (!ok) return false;
  }
  return true;
}

// The address family of a plain IPv4 or IPv6 address (no prefix, no
// brackets, no zone), or 0. inet_pton takes only the full dotted-quad and
// RFC 4291 forms, so "10.1", "1.2.3.4.5" and "fe80::1%eth0" are refused.
int ip_family(const std::string& text) {
  unsigned char buf[16];
  if (inet_pton(AF_INET, text.c_str(), buf) == 1) return AF_INET;
  if (inet_pton(AF_INET6, text.c_str(), buf) == 1) return AF_INET6;
  return 0;
}

int check_plain_ip(const std::string& text, std::string_view what) {
  const int family = ip_family(text);
  if (family == 0) {
    invalid(fmt::format("the {} '{}' is not an IPv4 or IPv6 address", what, util::printable(text)),
            fmt::format("give the {} as a plain address, e.g. 192.168.10.1 or fd00::1, without a prefix", what));
  }
  return family;
}

int check_address_with_prefix(const std::string& text) {
  const auto slash = text.rfind('/');
  const std::string ip = slash == std::string::npos ? text : text.substr(0, slash);
  const int family = ip_family(ip);
  unsigned bits = 0;
  const char* first = text.data() + (slash == std::string::npos ? text.size() : slash + 1);
  const char* last = text.data() + text.size();
  auto [end, ec] = std::from_chars(first, last, bits);
  const bool prefix_ok = slash != std::string::npos && first != last && ec == std::errc() && end == last &&
                         (*first != '0' || last - first == 1);
  const unsigned max_bits = family == AF_INET6 ? 128 : 32;
  if (family == 0 || !prefix_ok || bits < 1 || bits > max_bits) {
    invalid(fmt::format("the static address '{}' is not ADDRESS/PREFIX", util::printable(text)),
            family == 0 ? "give an IPv4 or IPv6 address and its prefix length, e.g. 192.168.10.5/24 or fd00::5/64"
                        : fmt::format("give the prefix length after the address, from 1 to {}, e.g. {}/{}",
                                      max_bits, ip, family == AF_INET6 ? 64 : 24));
  }
  return family;
}

}  // namespace

void validate_static_address(const StaticAddress& fixed) {
  const int family = check_address_with_prefix(fixed.address);
  if (!fixed.gateway.empty() && check_plain_ip(fixed.gateway, "gateway") != family) {
    invalid(fmt::format("the gateway {} and the address {} are not of the same IP version",
                        util::printable(fixed.gateway), util::printable(fixed.address)),
            "give a gateway on the address's own network");
  }
  for (const std::string& server : fixed.dns) check_plain_ip(server, "name server");
  if (fixed.dns.size() > kMaxNameServers) {
    invalid(fmt::format("{} name servers given, more than the {} a guest uses", fixed.dns.size(), kMaxNameServers),
            fmt::format("give at most {} name servers", kMaxNameServers));
  }
}

namespace {

void validate_network(const NetworkConfig& network) {
  if (const StaticAddress* fixed = static_address(network)) validate_static_address(*fixed);
  if (auto* tap = std::get_if<TapNetwork>(&network); tap && !tap->bridge.empty() &&
                                                      !is_plain_identifier(tap->bridge)) {
    invalid(fmt::format("invalid bridge name '{}'", util::printable(tap->bridge)),
            "a bridge is a Linux interface name: 1-15 characters of A-Z, a-z, 0-9, '_', '.', '-'");
  }
  if (auto* vnic = std::get_if<VnicNetwork>(&network); vnic && !vnic->name.empty() &&
                                                        !is_plain_identifier(vnic->name)) {
    invalid(fmt::format("invalid VNIC name '{}'", util::printable(vnic->name)),
            "a VNIC name is 1-15 characters of A-Z, a-z, 0-9, '_', '.', '-'");
  }
}

void validate_cloud_init(const CloudInitConfig& cloud_init) {
  if (!cloud_init.hostname.empty()) validate_hostname(cloud_init.hostname);
  validate_user_data(cloud_init.user_data);
}

bool is_gzip(std::string_view data) {
  return data.size() >= 2 && static_cast<unsigned char>(data[0]) == 0x1f && static_cast<unsigned char>(data[1]) == 0x8b;
}

}  // namespace

void validate_user_data(std::string_view user_data) {
  if (user_data.size() > kMaxUserDataBytes) {
    throw Error(errc::cloudinit_invalid_user_data,
                fmt::format("the user-data is {} bytes, more than the {} MiB a seed takes", user_data.size(),
                            kMaxUserDataBytes / (1024 * 1024)),
                "make it smaller, e.g. let it fetch large files from the network instead of carrying them");
  }
  if (const auto nul = user_data.find('\0'); nul != std::string_view::npos && !is_gzip(user_data)) {
    throw Error(errc::cloudinit_invalid_user_data, fmt::format("the user-data holds a NUL byte at offset {}", nul),
                "user-data is text (#cloud-config YAML or a #! script): save it as plain UTF-8 text");
  }
}

void validate_resize(const VmResize& change) {
  if (change.vcpus && (*change.vcpus < 1 || *change.vcpus > kMaxVcpus)) {
    invalid(fmt::format("vcpus must be between 1 and {}, not {}", kMaxVcpus, *change.vcpus),
            fmt::format("use a value from 1 to {} vCPUs", kMaxVcpus));
  }
  if (change.memory_mb && (*change.memory_mb < kMinMemoryMb || *change.memory_mb > kMaxMemoryMb)) {
    invalid(fmt::format("memory must be between {} and {} MB, not {}", kMinMemoryMb, kMaxMemoryMb,
                        *change.memory_mb),
            fmt::format("give the memory in megabytes, from {} to {}, e.g. 2048", kMinMemoryMb, kMaxMemoryMb));
  }
  if (change.disk_gb && (*change.disk_gb < 1 || *change.disk_gb > kMaxDiskGb)) {
    invalid(fmt::format("disk must be between 1 and {} GB, not {}", kMaxDiskGb, *change.disk_gb),
            fmt::format("give the disk size in gigabytes, from 1 to {}, e.g. 20", kMaxDiskGb));
  }
}

void validate_spec(const VmSpec& spec) {
  validate_vm_name(spec.name);
  validate_resize(VmResize{spec.vcpus, spec.memory_mb, spec.disk_gb});
  validate_network(spec.network);
  validate_port_forwards(spec.port_forwards, spec.network);
  if (spec.cloud_init) validate_cloud_init(*spec.cloud_init);
  validate_shared_folders(spec.shared_folders);
  validate_data_disks(spec.data_disks);
}

}  // namespace vm_manager
