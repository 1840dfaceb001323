// Published ports on QEMU's user networking: the hostfwd rules for a VM's
// forwards, and the check, before QEMU binds them, that their host ports
// are free (QEMU's own failure, quoted from qemu.log, names no holder).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "vm_manager/types.hpp"

namespace vm_manager::qemu {

// The id of the VM's one netdev (command_line.cpp), which hostfwd_add and
// hostfwd_remove name.
inline constexpr std::string_view kNetdevId = "net0";

// A rule as -netdev user,hostfwd= and hostfwd_add take it:
// "tcp:127.0.0.1:8080-:80" (the guest address is left to QEMU).
std::string hostfwd_rule(const PortForward& forward);

// What hostfwd_remove takes to find the rule: "tcp:127.0.0.1:8080".
std::string hostfwd_key(const PortForward& forward);

// Raises port::in_use for the first forward whose host port something holds
// right now, naming it where /proc tells (port_holder.cpp); port::invalid for
// a host address that is not this host's, or a port only root may bind.
// QEMU may still lose a race for a port freed and taken again meanwhile.
void require_host_ports_free(const std::vector<PortForward>& forwards, std::string_view vm_name);

// Who holds a forward's host port: "python3 (pid 4242)", "a process of uid
// 1000", or nullopt when /proc does not tell (port_holder.cpp).
std::optional<std::string> port_holder(const PortForward& forward);

// The forward whose rule QEMU's "Could not set up host forwarding rule
// '…'" names in `complaint`, if it is one of `forwards`.
std::optional<PortForward> forward_qemu_refused(const std::vector<PortForward>& forwards,
                                                std::string_view complaint);

// The port::in_use error for a forward whose host port is taken.
[[noreturn]] void throw_port_in_use(const PortForward& forward, std::string_view vm_name);

}  // namespace vm_manager::qemu
