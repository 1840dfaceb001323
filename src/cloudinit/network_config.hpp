// The NoCloud "network-config" that gives a guest its static address
// (VmSpec's TapNetwork/VnicNetwork::static_address), in cloud-init's
// network config version 2.
#pragma once

#include <string>
#include <string_view>

#include "vm_manager/types.hpp"

namespace vm_manager::cloudinit {

// The name the guest's NIC is given (set-name) and the config's id for it.
inline constexpr std::string_view kGuestNicName = "eth0";

// The document, emitted with yaml-cpp, every string double-quoted (a bare
// MAC such as 52:54:00:12:34:56 is a base-60 number to a YAML 1.1 reader):
//   version: 2
//   ethernets:
//     eth0:
//       match: {macaddress: "<mac>"}   or, when `mac` is empty, {driver: "virtio_net"}
//       set-name: "eth0"
//       dhcp4: false
//       dhcp6: false
//       addresses: ["<address/prefix>"]
//       routes: [{to: "0.0.0.0/0" or "::/0", via: "<gateway>"}]   (with a gateway)
//       nameservers: {addresses: ["<dns>", …]}                     (with name servers)
// `fixed` must have passed validate_spec.
std::string make_network_config(const StaticAddress& fixed, std::string_view mac);

}  // namespace vm_manager::cloudinit
