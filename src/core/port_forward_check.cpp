// validate_port_forwards and the text of a forward (spec_check.hpp).
#include <arpa/inet.h>

#include <fmt/format.h>

#include "util/printable.hpp"
#include "vm_manager/error.hpp"
#include "vm_manager/spec_check.hpp"

namespace vm_manager {
namespace {

[[noreturn]] void invalid(std::string message, std::string help) {
  throw Error(errc::port_invalid, std::move(message), std::move(help));
}

// Why a network has no forwarding, or empty when it has.
std::string why_no_forwarding(const NetworkConfig& network) {
  if (std::holds_alternative<TapNetwork>(network)) {
    return "the guest is on a TAP network, where it has its own address: reach its ports there";
  }
  if (std::holds_alternative<VnicNetwork>(network)) {
    return "the guest is on a VNIC, where it has its own address: reach its ports there";
  }
  if (std::holds_alternative<NoNetwork>(network)) return "the VM has no network to forward to";
  return {};
}

void check_one(const PortForward& forward) {
  in_addr ignored{};
  if (::inet_pton(AF_INET, forward.host_address.c_str(), &ignored) != 1) {
    invalid(fmt::format("the host address '{}' of a port forward is not an IPv4 address",
                        util::printable(forward.host_address)),
            "give a plain IPv4 address such as 127.0.0.1 (the default) or 0.0.0.0 for every interface");
  }
  if (forward.host_port == 0 || forward.guest_port == 0) {
    invalid(fmt::format("port forward {} has port 0", port_forward_text(forward)),
            "give host and guest ports from 1 to 65535");
  }
}

}  // namespace

std::string port_forward_text(const PortForward& forward) {
  return fmt::format("{}:{}->{}/{}", util::printable(forward.host_address), forward.host_port,
                     forward.guest_port, to_string(forward.protocol));
}

bool forward_is_loopback_only(const PortForward& forward) {
  in_addr address{};
  if (::inet_pton(AF_INET, forward.host_address.c_str(), &address) != 1) return false;
  return (ntohl(address.s_addr) >> 24) == 127;
}

void validate_port_forwards(const std::vector<PortForward>& forwards, const NetworkConfig& network) {
  if (forwards.empty()) return;
  if (std::string why = why_no_forwarding(network); !why.empty()) {
    throw Error(errc::port_unsupported, fmt::format("cannot publish ports: {}", why),
                "publish ports only for a VM with user networking");
  }
  for (std::size_t i = 0; i < forwards.size(); ++i) {
    check_one(forwards[i]);
    for (std::size_t j = 0; j < i; ++j) {
      // One host port and protocol for one forward: 0.0.0.0 overlaps every
      // address, and removing goes by port and protocol.
      if (forwards[j].host_port == forwards[i].host_port && forwards[j].protocol == forwards[i].protocol) {
        invalid(fmt::format("port forwards {} and {} use the same host port", port_forward_text(forwards[j]),
                            port_forward_text(forwards[i])),
                "give each forward its own host port");
      }
    }
  }
}

}  // namespace vm_manager
