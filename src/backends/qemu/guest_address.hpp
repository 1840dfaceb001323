// Finding a TAP-networked guest's address by its MAC: the host's neighbour
// table first, then dnsmasq's lease files. Never "the last lease".
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace vm_manager::qemu {

// The IPv4 address of `mac` in /proc/net/arp-format text (complete entries only).
std::optional<std::string> ip_from_neighbours(std::string_view proc_net_arp, std::string_view mac);

// The address leased to `mac` in dnsmasq lease-file text
// ("<expiry> <mac> <ip> <hostname> <client-id>" per line).
std::optional<std::string> ip_from_leases(std::string_view leases, std::string_view mac);

// Lease files to read: `configured` (':'-separated, QemuConfig's
// dnsmasq_leases), else the usual dnsmasq locations.
std::vector<std::filesystem::path> lease_files(const std::optional<std::string>& configured);

}  // namespace vm_manager::qemu
