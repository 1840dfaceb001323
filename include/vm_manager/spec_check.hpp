// Checks of a VmSpec that hold for every backend.
#pragma once

#include "vm_manager/export.hpp"

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "vm_manager/types.hpp"

namespace vm_manager {

inline constexpr std::uint32_t kMaxVcpus = 512;
inline constexpr std::uint64_t kMinMemoryMb = 16;
inline constexpr std::uint64_t kMaxMemoryMb = 16ull * 1024 * 1024;  // 16 TiB
inline constexpr std::uint64_t kMaxDiskGb = 64ull * 1024;            // 64 TiB
// The user's own cloud-init user-data. It travels in the NoCloud seed ISO
// (and, for propolis, base64 inside one API request), and is kept in the
// VM's record, which every command reads: a few MiB is what fits all three.
inline constexpr std::size_t kMaxUserDataBytes = 4 * 1024 * 1024;
// A static address's name servers: glibc's resolver reads no more than
// three (MAXNS in <resolv.h>).
inline constexpr std::size_t kMaxNameServers = 3;

// Raises cloudinit::invalid_user_data for user-data larger than
// kMaxUserDataBytes, or text user-data holding a NUL byte (gzip, which
// starts 1f 8b, is judged when the seed is made).
VM_MANAGER_API void validate_user_data(std::string_view user_data);

// Raises spec::invalid unless `fixed` is as validate_spec wants it (below).
VM_MANAGER_API void validate_static_address(const StaticAddress& fixed);

// Published ports. A VM's forwards, as QEMU's user networking takes them:
// each host address a plain IPv4 address (127.0.0.1 unless asked for), host
// and guest ports 1-65535, and no two on the same host port and protocol,
// whatever their addresses (0.0.0.0 covers them all). Raises port::invalid;
// port::unsupported when there are forwards and `network` is not user
// networking (a TAP or VNIC guest has its own address on the host's
// network; a VM without a network has nothing to forward to).
VM_MANAGER_API void validate_port_forwards(const std::vector<PortForward>& forwards, const NetworkConfig& network);

// A forward as messages and listings show it: "127.0.0.1:8080->80/tcp".
VM_MANAGER_API std::string port_forward_text(const PortForward& forward);

// Whether the forward listens only on this host (127.0.0.0/8): anything
// else lets other machines in, which callers should tell the user.
VM_MANAGER_API bool forward_is_loopback_only(const PortForward& forward);

// Raises a mount::* error unless every folder's host path is an absolute
// path to an existing folder (the library never resolves a relative one: the
// caller knows what it is relative to) and every guest path is absolute, not
// "/", free of whitespace and control characters (it becomes a field of the
// guest's fstab) and used once. Reads the host's file system.
VM_MANAGER_API void validate_shared_folders(const std::vector<SharedFolder>& folders);

// Raises spec::invalid for a set field outside what validate_spec allows a
// spec: vcpus 1..kMaxVcpus, memory kMinMemoryMb..kMaxMemoryMb, disk
// 1..kMaxDiskGb GB (with the same messages).
VM_MANAGER_API void validate_resize(const VmResize& change);
// Data disks (DataDisk). A VM has at most kMaxDataDisks: each takes a PCI
// slot of the guest's machine.
inline constexpr std::size_t kMaxDataDisks = 16;

// Raises spec::invalid unless every data disk's name follows the VM-name
// rules with at most kMaxDataDiskNameLength characters, no two share a
// name, each is 1 to kMaxDiskGb GB, and there are at most kMaxDataDisks.
VM_MANAGER_API void validate_data_disks(const std::vector<DataDisk>& disks);

// Raises vm::invalid_name or spec::invalid naming the offending field (an
// invalid cloud-init hostname among them: names.hpp), and what
// validate_user_data raises. A network's static address must be an IPv4 or
// IPv6 "ADDRESS/PREFIX" (prefix 1-32 or 1-128); its gateway a plain address
// of the same version; its name servers (at most kMaxNameServers) plain
// addresses. Its port forwards as validate_port_forwards wants them, its
// shared folders as validate_shared_folders wants them, its data disks as
// validate_data_disks wants them.
VM_MANAGER_API void validate_spec(const VmSpec& spec);

}  // namespace vm_manager
