#include "backends/qemu/guest_address.hpp"

#include <algorithm>
#include <cstdlib>
#include <sstream>

namespace vm_manager::qemu {
namespace {

std::string lower(std::string_view text) {
  std::string out(text);
  std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return std::tolower(c); });
  return out;
}

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
  std::istringstream lines{std::string(leases)};
  std::optional<std::string> found;
  for (std::string line; std::getline(lines, line);) {
    auto w = words_of(line);
    if (w.size() >= 3 && lower(w[1]) == lower(mac) && w[2].find(':') == std::string::npos) found = w[2];
  }
  return found;  // the newest line for this MAC wins
}

std::vector<std::filesystem::path> lease_files() {
  std::vector<std::filesystem::path> files;
  if (const char* env = std::getenv("VMCTL_DNSMASQ_LEASES"); env != nullptr && *env != '\0') {
    std::istringstream in(env);
    for (std::string part; std::getline(in, part, ':');) {
      if (!part.empty()) files.emplace_back(part);
    }
    return files;
  }
  return {"/var/lib/misc/dnsmasq.leases", "/var/lib/dnsmasq/dnsmasq.leases"};
}

}  // namespace vm_manager::qemu
