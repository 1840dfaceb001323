#include "backends/qemu/tap.hpp"

#include <fmt/format.h>

#include "vm_manager/error.hpp"

namespace vm_manager::qemu {
namespace {

using namespace std::chrono_literals;

os::ProcessOutput ip(Host& host, std::vector<std::string> args) {
  os::ProcessSpec spec;
  spec.argv = {"ip"};
  spec.argv.insert(spec.argv.end(), args.begin(), args.end());
  return host.run(spec, 10s);
}

std::string first_line(const std::string& text) { return text.substr(0, text.find('\n')); }

}  // namespace

std::string tap_name_for(const VmHandle& handle) {
  std::string hex;
  for (char c : handle.id) {
    if (c != '-') hex += c;
    if (hex.size() == 8) break;
  }
  return "vmt" + hex;
}

void create_tap(const std::string& tap, const std::string& bridge, Host& host) {
  if (!ip(host, {"link", "show", "dev", bridge}).ok()) {
    throw Error(errc::spec_invalid, fmt::format("bridge '{}' does not exist", bridge),
                fmt::format("create it (ip link add {} type bridge) or choose another bridge", bridge));
  }
  delete_tap(tap, host);  // a leftover of a VM that crashed
  os::ProcessOutput added = ip(host, {"tuntap", "add", "dev", tap, "mode", "tap"});
  if (!added.ok()) {
    throw Error(errc::spec_invalid, fmt::format("cannot create TAP {}: {}", tap, first_line(added.err)),
                "TAP networking needs root or CAP_NET_ADMIN; use user networking otherwise");
  }
  os::ProcessOutput joined = ip(host, {"link", "set", "dev", tap, "master", bridge, "up"});
  if (!joined.ok()) {
    delete_tap(tap, host);
    throw Error(errc::spec_invalid,
                fmt::format("cannot add TAP {} to bridge {}: {}", tap, bridge, first_line(joined.err)),
                "check that the bridge is a Linux bridge");
  }
}

void delete_tap(const std::string& tap, Host& host) {
  if (tap.empty()) return;
  if (ip(host, {"link", "show", "dev", tap}).ok()) ip(host, {"link", "delete", "dev", tap});
}

}  // namespace vm_manager::qemu
