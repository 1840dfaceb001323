// Small pure pieces of the QEMU backend: option escaping, SSH ports, MAC
// addresses, and what a QMP status means.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "vm_manager/types.hpp"

namespace vm_manager::qemu {

// A value for QEMU's "key=value,key=value" option syntax: commas are doubled
// so a path like "/a,b" cannot start a new option. Control characters are
// refused (spec::invalid), since no file name needs them and QEMU's parsers
// treat some of them specially.
std::string escape_option_value(std::string_view value, std::string_view what);

// The first SSH port tried for a VM: a stable hash (FNV-1a) of its name
// mapped onto [first, last].
std::uint16_t preferred_ssh_port(std::string_view name, std::uint16_t first, std::uint16_t last);

// The host port of the TCP forward to guest port 22 in the output of the
// HMP command "info usernet", or nullopt.
std::optional<std::uint16_t> ssh_port_from_usernet(std::string_view info_usernet);

// A random, locally administered, unicast MAC address ("02:xx:xx:xx:xx:xx"
// with the two low bits of the first octet set to 1 and 0).
std::string random_local_mac();

// A new VNC password: 8 characters (all VNC authentication uses) of
// [A-Za-z0-9], drawn from the kernel's CSPRNG (getrandom), about 47 bits.
std::string random_vnc_password();

// What QMP's query-status says, as a VmState. Exhaustive over QEMU's
// RunState; an unknown status is `failed`, never `running`.
VmState state_from_qmp_status(std::string_view status);

}  // namespace vm_manager::qemu
