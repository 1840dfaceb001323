// The libvirt URIs a VM's host is reached at (`qemu:///system`,
// `qemu+ssh://user@host:port/system?keyfile=…`), checked for their shape
// where the user writes them (the command line, a VMFile), so that a typo
// is named there rather than by libvirt when a VM is created.
#pragma once

#include <string>
#include <string_view>

namespace vm_manager {

// What is wrong with `uri` as a libvirt URI for vmctl's VMs; empty when
// nothing is. Light: `DRIVER[+TRANSPORT]://[AUTHORITY]/PATH[?QUERY]` with
// the driver qemu (the domains vmctl writes are QEMU's), a transport libvirt
// knows, and the path /system or /session; or libvirt's in-process test
// driver (`test:///default`), which runs nothing. Whether the host answers
// is libvirt's to say.
std::string host_uri_problem(std::string_view uri);

// Raises spec::invalid naming the URI and host_uri_problem(uri).
void validate_host_uri(std::string_view uri);

}  // namespace vm_manager
