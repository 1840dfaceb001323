#include "backends/qemu/options.hpp"

#include <sys/random.h>

#include <array>
#include <charconv>
#include <sstream>
#include <vector>

#include <fmt/format.h>

#include "vm_manager/error.hpp"

namespace vm_manager::qemu {

std::string escape_option_value(std::string_view value, std::string_view what) {
  std::string out;
  out.reserve(value.size());
  for (char c : value) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
      throw Error(errc::spec_invalid, fmt::format("the {} contains a control character", what),
                  "rename the file or use a path without control characters");
    }
    out += c;
    if (c == ',') out += ',';
  }
  return out;
}

std::uint16_t preferred_ssh_port(std::string_view name, std::uint16_t first, std::uint16_t last) {
  std::uint32_t hash = 2166136261u;
  for (unsigned char c : name) {
    hash ^= c;
    hash *= 16777619u;
  }
  return static_cast<std::uint16_t>(first + hash % (last - first + 1u));
}

std::optional<std::uint16_t> ssh_port_from_usernet(std::string_view info_usernet) {
  // Lines look like:
  //   TCP[HOST_FORWARD]  13  127.0.0.1 10022  10.0.2.15  22  0  0
  std::istringstream lines{std::string(info_usernet)};
  std::string line;
  while (std::getline(lines, line)) {
    if (line.find("HOST_FORWARD") == std::string::npos) continue;
    std::istringstream words(line);
    std::vector<std::string> fields;
    for (std::string word; words >> word;) fields.push_back(word);
    // protocol, fd, source address, source port, destination address, destination port, …
    if (fields.size() < 6 || fields[0].rfind("TCP[", 0) != 0 || fields[5] != "22") continue;
    std::uint16_t port = 0;
    const std::string& text = fields[3];
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), port);
    if (ec == std::errc() && end == text.data() + text.size() && port != 0) return port;
  }
  return std::nullopt;
}

std::string random_local_mac() {
  std::array<unsigned char, 6> b{};
  if (::getrandom(b.data(), b.size(), 0) != static_cast<ssize_t>(b.size())) {
    throw Error(errc::spec_invalid, "cannot draw random bytes for a MAC address", "try again");
  }
  b[0] = static_cast<unsigned char>((b[0] & 0xfc) | 0x02);  // locally administered, unicast
  return fmt::format("{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}", b[0], b[1], b[2], b[3], b[4], b[5]);
}

std::string random_vnc_password() {
  constexpr std::string_view kAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
  // 62 * 4 = 248: bytes from 248 up are drawn again, so every character is
  // equally likely.
  constexpr unsigned kLimit = 62 * 4;
  std::string password;
  while (password.size() < 8) {
    std::array<unsigned char, 16> b{};
    if (::getrandom(b.data(), b.size(), 0) != static_cast<ssize_t>(b.size())) {
      throw Error(errc::vm_start_failed, "cannot draw random bytes for a VNC password", "try again");
    }
    for (unsigned char c : b) {
      if (c < kLimit && password.size() < 8) password += kAlphabet[c % kAlphabet.size()];
    }
  }
  return password;
}

VmState state_from_qmp_status(std::string_view status) {
  if (status == "running") return VmState::running;
  // Paused in one way or another, but resumable.
  for (std::string_view paused : {"paused", "prelaunch", "suspended", "inmigrate", "postmigrate",
                                  "finish-migrate", "save-vm", "restore-vm", "debug", "watchdog",
                                  "colo"}) {
    if (status == paused) return VmState::suspended;
  }
  if (status == "shutdown") return VmState::stopped;
  // guest-panicked, internal-error, io-error and anything QEMU adds later.
  return VmState::failed;
}

}  // namespace vm_manager::qemu
