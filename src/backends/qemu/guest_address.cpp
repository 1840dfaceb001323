#include "backends/qemu/guest_address.hpp"
#include "util/strings.hpp"

#include <algorithm>
#include <charconv>
#include <cstdint>
#include <limits>
#include <cstdlib>
#include <sstream>

namespace vm_manager::qemu {
namespace {
using util::lower;

std::vector<std::string> words_of(const std::string& line) {
  std::istringstream in(line);
  std::vector<std::string> words;
  for (std::string w; in >> w;) words.push_back(w);
  return words;
}

}  // namespace

std::optional<std::string> ip_from_neighbours(std::string_view proc_net_arp, std::string_view mac) {
  // IP address  HW type  Flags  HW address  Mask  Device
  std::istringstream lines{std::string(proc_net_arp)};
  std::string line;
  std::getline(lines, line);  // header
  while (std::getline(lines, line)) {
    auto w = words_of(line);
    // Flags 0x0 marks an incomplete entry: the kernel asked, nobody answered.
    if (w.size() >= 4 && lower(w[3]) == lower(mac) && w[2] != "0x0") return w[0];
  }
  return std::nullopt;
}

std::optional<std::string> ip_from_leases(std::string_view leases, std::string_view mac) {
  // dnsmasq writes its leases newest first, and keeps an old lease of a MAC
  // whose client-id changed: the lease that expires last is the newest.
  std::istringstream lines{std::string(leases)};
  std::optional<std::string> found;
  std::uint64_t found_expiry = 0;
  for (std::string line; std::getline(lines, line);) {
    auto w = words_of(line);
    if (w.size() < 3 || lower(w[1]) != lower(mac) || w[2].find(':') != std::string::npos) continue;
    std::uint64_t expiry = 0;
    auto [end, ec] = std::from_chars(w[0].data(), w[0].data() + w[0].size(), expiry);
    if (ec != std::errc() || end != w[0].data() + w[0].size()) continue;
    if (expiry == 0) expiry = std::numeric_limits<std::uint64_t>::max();  // an infinite lease
    if (!found || expiry > found_expiry) {
      found = w[2];
      found_expiry = expiry;
    }
  }
  return found;
}

std::vector<std::filesystem::path> lease_files(const std::optional<std::string>& configured) {
  std::vector<std::filesystem::path> files;
  if (configured) {
    std::istringstream in(*configured);
    for (std::string part; std::getline(in, part, ':');) {
      if (!part.empty()) files.emplace_back(part);
    }
    return files;
  }
  return {"/var/lib/misc/dnsmasq.leases", "/var/lib/dnsmasq/dnsmasq.leases"};
}

}  // namespace vm_manager::qemu
