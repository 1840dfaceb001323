// Published ports on the command line: `--publish` and `vmctl port`.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>

#include "vm_manager/types.hpp"

namespace vmctl {

// "[HOST_IP:]HOST_PORT:GUEST_PORT[/tcp|/udp]" as Docker and Lima write it;
// the host address defaults to 127.0.0.1. Raises port::invalid.
vm_manager::PortForward parse_publish(std::string_view text);

// "HOST_PORT[/tcp|/udp]": the forward `port rm` removes. Raises port::invalid.
std::pair<std::uint16_t, vm_manager::PortProtocol> parse_published_port(std::string_view text);

// A one-line warning on stderr for a forward other machines can reach
// (any address outside 127.0.0.0/8), shown even under --quiet.
void warn_if_reachable_from_outside(const vm_manager::PortForward& forward);

}  // namespace vmctl
