// Names and values for a VM's zone, volume and VNICs, checked against the
// illumos rules before any tool sees them.
#include <arpa/inet.h>

#include <algorithm>
#include <charconv>
#include <cstdint>
#include <initializer_list>
#include <utility>

#include <fmt/format.h>

#include "backends/propolis/zone_tools.hpp"
#include "util/printable.hpp"
#include "vm_manager/error.hpp"

namespace vm_manager::propolis {
namespace {

using util::printable;

// ZONENAME_MAX is 64 including the terminating NUL.
constexpr std::size_t kMaxZoneName = 63;
// MAXLINKNAMELEN is 32 including the NUL.
constexpr std::size_t kMaxLinkName = 31;
// ZFS_MAX_DATASET_NAME_LEN is 256 including the NUL.
constexpr std::size_t kMaxDatasetName = 255;

bool is_lower_or_digit(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }
bool is_alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_alnum(char c) { return is_alpha(c) || is_digit(c); }

[[noreturn]] void invalid(std::string message) {
  throw Error(errc::spec_invalid, std::move(message),
              "Use names of letters, digits, '_', '.' and '-', and check the Propolis options.");
}

// FNV-1a: small, stable across platforms and releases, which is all the VNIC
// names and MACs need (they must be the same every time vmctl looks at the VM).
template <typename Hash, Hash kOffsetBasis, Hash kPrime>
Hash fnv1a(std::string_view text) {
  Hash h = kOffsetBasis;
  for (unsigned char c : text) {
    h ^= c;
    h *= kPrime;
  }
  return h;
}
constexpr auto fnv1a32 = fnv1a<std::uint32_t, 2166136261u, 16777619u>;
constexpr auto fnv1a64 = fnv1a<std::uint64_t, 14695981039346656037ull, 1099511628211ull>;

// "02:xx:xx:xx:xx:xx" with lower-case hex digits, as guest_mac makes them.
bool is_mac(std::string_view mac) {
  if (mac.size() != 17) return false;
  for (std::size_t i = 0; i < mac.size(); ++i) {
    char c = mac[i];
    bool ok = i % 3 == 2 ? c == ':' : (is_digit(c) || (c >= 'a' && c <= 'f'));
    if (!ok) return false;
  }
  return true;
}

// The VNIC names' stem. The longest suffix is "_api0" (5), so the readable
// stem is used only when it leaves room for it; upper case is avoided as
// the dladm documentation advises.
std::string vnic_stem(std::string_view vm_name) {
  std::string stem = fmt::format("vmctl_{}", vm_name);
  bool readable = !vm_name.empty() && stem.size() + 5 <= kMaxLinkName &&
                  std::all_of(vm_name.begin(), vm_name.end(), [](char c) { return is_lower_or_digit(c) || c == '_'; });
  // A hashed stem has no '_' after "vmctl", so it never equals a readable one.
  return readable ? stem : fmt::format("vmctl{:08x}", fnv1a32(vm_name));
}

// zonecfg_command_file quotes every value, which zonecfg's lexer takes as
// one word whatever it holds but '"' and newline (checked on their own, see
// check_quotable). Paths are kept narrower than that for the tools after
// zonecfg: zoneadmd runs the brand's hooks through popen(3C) with %R
// replaced by the zonepath (illumos-gate usr/src/cmd/zoneadmd/zoneadmd.c
// do_subproc, stored version 186ab8d9), so a zonepath must mean the same to
// the shell; and `zonecfg info`, through which the boot hook reads the
// bootrom, wraps a value holding a space in quotes. So: no whitespace and no
// shell metacharacters, in any path.
bool is_plain_path(std::string_view path) {
  if (path.empty() || path.front() != '/') return false;
  return std::all_of(path.begin(), path.end(), [](char c) {
    return is_alnum(c) || c == '/' || c == '_' || c == '.' || c == '-' || c == '+' || c == ':' || c == '@' ||
           c == ',' || c == '=';
  });
}

// zonecfg_lex.l's quoted TOKEN is `\"[^\"\n]*[\"\n]`: no escapes, so a value
// holding '"' or a newline cannot be written at all.
void check_quotable(std::string_view what, std::string_view value) {
  if (value.find_first_of("\"\n") != std::string_view::npos)
    invalid(fmt::format("{} '{}' cannot be given to zonecfg: its values cannot hold '\"' or a newline", what,
                        printable(value)));
}

// "<ip>/<prefix>" with an IPv4 or IPv6 address; returns the address family
// (AF_INET/AF_INET6) or 0.
int address_family(std::string_view cidr) {
  auto slash = cidr.find('/');
  if (slash == std::string_view::npos) return 0;
  std::string ip(cidr.substr(0, slash));
  std::string_view prefix = cidr.substr(slash + 1);
  unsigned bits = 0;
  auto [end, ec] = std::from_chars(prefix.data(), prefix.data() + prefix.size(), bits);
  if (prefix.empty() || ec != std::errc() || end != prefix.data() + prefix.size()) return 0;
  unsigned char buf[16];
  if (inet_pton(AF_INET, ip.c_str(), buf) == 1) return bits <= 32 ? AF_INET : 0;
  if (inet_pton(AF_INET6, ip.c_str(), buf) == 1) return bits <= 128 ? AF_INET6 : 0;
  return 0;
}

void check_dataset(std::string_view what, std::string_view dataset) {
  if (!is_valid_dataset_name(dataset))
    invalid(fmt::format("{} '{}' is not a valid ZFS dataset name", what, printable(dataset)));
}

void check_link(std::string_view what, std::string_view link) {
  if (!is_valid_link_name(link))
    invalid(fmt::format("{} '{}' is not a valid data link name (a letter, then letters, digits or '_', "
                        "ending in a number; at most {} characters)",
                        what, printable(link), kMaxLinkName));
}

void check_path(std::string_view what, std::string_view path) {
  if (!is_plain_path(path))
    invalid(fmt::format("{} '{}' must be an absolute path of letters, digits and '/_.-+:@,='", what, printable(path)));
}

void check_data_disks(const ZoneLayout& l) {
  if (l.data_disks.size() > kMaxDataDisks)
    throw Error(errc::spec_invalid,
                fmt::format("{} data disks asked for; a propolis VM has at most {}", l.data_disks.size(), kMaxDataDisks),
                "give the VM fewer data disks");
  for (const auto& d : l.data_disks) {
    check_quotable("data disk", d.dataset);
    if (!is_valid_zfs_component(d.name) || d.name.find(':') != std::string::npos)
      invalid(fmt::format("data disk name '{}' cannot name a ZFS volume", printable(d.name)));
    // The NVMe serial number that carries it holds 20 bytes.
    if (d.name.size() > kMaxDataDiskNameLength)
      invalid(fmt::format("data disk name '{}' is longer than {} characters", printable(d.name),
                          kMaxDataDiskNameLength));
    if (d.dataset != data_disk_parent(l) + "/" + d.name)
      invalid(fmt::format("data disk '{}' is not under {}", printable(d.dataset), data_disk_parent(l)));
    check_dataset("data disk", d.dataset);
    if (d.size_gb == 0) invalid(fmt::format("data disk '{}' must be at least 1 GB", printable(d.name)));
  }
}

}  // namespace

std::string data_disk_parent(const ZoneLayout& l) { return fmt::format("{}/vm-disks/{}", l.pool, l.vm_name); }

std::vector<std::string> disk_datasets(const ZoneLayout& l) {
  std::vector<std::string> out{l.dataset};
  for (const auto& d : l.data_disks) out.push_back(d.dataset);
  return out;
}

bool is_valid_zfs_component(std::string_view c) {
  if (c.empty() || c == "." || c == "..") return false;
  // ZFS also allows ' ', which we refuse: names travel through zonecfg files.
  return std::all_of(c.begin(), c.end(),
                     [](char ch) { return is_alnum(ch) || ch == '_' || ch == '-' || ch == '.' || ch == ':'; });
}

bool is_valid_dataset_name(std::string_view dataset) {
  if (dataset.empty() || dataset.size() > kMaxDatasetName || !is_alpha(dataset.front())) return false;
  std::size_t start = 0;
  while (true) {
    auto slash = dataset.find('/', start);
    if (!is_valid_zfs_component(dataset.substr(start, slash - start))) return false;
    if (slash == std::string_view::npos) return true;
    start = slash + 1;
  }
}

bool is_valid_zone_name(std::string_view zone) {
  if (zone.empty() || zone.size() > kMaxZoneName || !is_alnum(zone.front())) return false;
  // "global" and names starting with "SUNW" are reserved by illumos.
  if (zone == "global" || zone.starts_with("SUNW")) return false;
  return std::all_of(zone.begin(), zone.end(), [](char c) { return is_alnum(c) || c == '_' || c == '.' || c == '-'; });
}

bool is_valid_link_name(std::string_view link) {
  if (link.empty() || link.size() > kMaxLinkName || !is_alpha(link.front()) || !is_digit(link.back())) return false;
  if (!std::all_of(link.begin(), link.end(), [](char c) { return is_alnum(c) || c == '_'; })) return false;
  // The trailing number (the PPA) may not have a leading zero, and fits in 32 bits.
  auto first_digit = link.find_last_not_of("0123456789") + 1;
  std::string_view ppa = link.substr(first_digit);
  if (ppa.size() > 1 && ppa.front() == '0') return false;
  std::uint64_t n = 0;
  auto [end, ec] = std::from_chars(ppa.data(), ppa.data() + ppa.size(), n);
  return ec == std::errc() && n <= 4294967294u;
}

std::string guest_vnic_name(std::string_view vm_name, std::size_t index) {
  return fmt::format("{}_{}", vnic_stem(vm_name), index);
}

std::string api_vnic_name(std::string_view vm_name) { return vnic_stem(vm_name) + "_api0"; }

std::string guest_mac(std::string_view vm_id, std::size_t index) {
  std::uint64_t h = fnv1a64(fmt::format("{}/{}", vm_id, index));
  auto byte = [h](int i) { return static_cast<unsigned>((h >> (8 * i)) & 0xff); };
  return fmt::format("02:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}", byte(0), byte(1), byte(2), byte(3), byte(4));
}

void validate_zone_layout(const ZoneLayout& l) {
  // Everything zonecfg_command_file writes, whatever the finer checks below say.
  for (const auto& [what, value] : std::initializer_list<std::pair<std::string_view, std::string_view>>{
           {"zone name", l.zone_name}, {"zonepath", l.zonepath}, {"dataset", l.dataset}, {"API VNIC", l.api_vnic},
           {"API address", l.api_address}, {"bootrom", l.bootrom}, {"propolis-server folder", l.propolis_dir}}) {
    check_quotable(what, value);
  }
  for (const auto& vnic : l.guest_vnics) check_quotable("VNIC", vnic);
  if (!is_valid_zone_name(l.zone_name))
    invalid(fmt::format("zone name '{}' is not valid (at most {} letters, digits, '_', '.', '-', beginning "
                        "with a letter or digit); use a VM name of at most {} characters",
                        printable(l.zone_name), kMaxZoneName, kMaxZoneName - 6));
  check_path("zonepath", l.zonepath);
  if (!is_valid_dataset_name(l.pool) || l.pool.find('/') != std::string::npos)
    invalid(fmt::format("pool '{}' is not a valid ZFS pool name", printable(l.pool)));
  check_dataset("image", l.pool + "/images/" + l.image);
  if (!is_valid_zfs_component(l.snapshot))
    invalid(fmt::format("snapshot name '{}' is not valid", printable(l.snapshot)));
  check_dataset("dataset", l.dataset);
  if (l.disk_gb && *l.disk_gb == 0) invalid("the disk size must be at least 1 GB");
  check_link("physical link", l.physical_link);
  if (l.guest_vnics.empty() || l.guest_vnics.size() > kMaxGuestNics)
    invalid(fmt::format("a VM has 1 to {} guest NICs, not {}", kMaxGuestNics, l.guest_vnics.size()));
  for (const auto& vnic : l.guest_vnics) check_link("VNIC", vnic);
  if (!l.guest_macs.empty() && l.guest_macs.size() != l.guest_vnics.size())
    invalid(fmt::format("{} guest MACs for {} guest NICs", l.guest_macs.size(), l.guest_vnics.size()));
  for (const auto& mac : l.guest_macs)
    if (!is_mac(mac)) invalid(fmt::format("guest MAC '{}' is not of the form 02:xx:xx:xx:xx:xx", printable(mac)));
  check_link("API VNIC", l.api_vnic);
  check_data_disks(l);
  if (address_family(l.api_address) == 0)
    invalid(fmt::format("API address '{}' is not <ip>/<prefix>", printable(l.api_address)));
  if (l.api_port == 0) invalid("the API port must not be 0");
  check_path("bootrom", l.bootrom);
  if (!l.propolis_dir.empty()) check_path("propolis-server folder", l.propolis_dir);
}

ZoneLayout make_zone_layout(std::string_view vm_name, std::string_view pool, std::string_view image,
                            const ZoneOptions& o) {
  // The VM name becomes a dataset component and part of the zone name;
  // check it on its own first so the message names it rather than the zone.
  if (!is_valid_zfs_component(vm_name) || vm_name.find(':') != std::string_view::npos)
    invalid(fmt::format("VM name '{}' cannot name a ZFS dataset and a zone", printable(vm_name)));
  if (o.guest_nics == 0 || o.guest_nics > kMaxGuestNics)
    invalid(fmt::format("a VM has 1 to {} guest NICs, not {}", kMaxGuestNics, o.guest_nics));
  ZoneLayout l;
  l.vm_name = vm_name;
  l.zone_name = fmt::format("vmctl-{}", vm_name);
  l.zonepath = fmt::format("{}/{}", o.zones_root, l.zone_name);
  l.pool = pool;
  l.image = image;
  l.snapshot = o.snapshot;
  l.dataset = fmt::format("{}/vms/{}", pool, vm_name);
  l.disk_gb = o.disk_gb;
  l.physical_link = o.physical_link;
  for (std::size_t i = 0; i < o.guest_nics; ++i) l.guest_vnics.push_back(guest_vnic_name(vm_name, i));
  l.api_vnic = api_vnic_name(vm_name);
  l.api_address = o.api_address;
  l.api_port = o.api_port;
  l.bootrom = o.bootrom;
  l.propolis_dir = o.propolis_dir;
  for (const DataDisk& d : o.data_disks)
    l.data_disks.push_back({d.name, fmt::format("{}/{}", data_disk_parent(l), d.name), d.size_gb});
  validate_zone_layout(l);
  return l;
}

}  // namespace vm_manager::propolis
