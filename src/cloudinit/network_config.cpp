#include "cloudinit/network_config.hpp"

#include <yaml-cpp/yaml.h>

namespace vm_manager::cloudinit {
namespace {

// The NIC by its MAC when the backend chose one (qemu does): cloud-init then
// renames that very NIC to set-name under every renderer (a udev rule for
// ifupdown, a .link file for networkd and netplan), as NoCloud's documented
// network-config example does with match/macaddress and set-name. Without a
// MAC (a propolis VNIC's is drawn by dladm) the virtio NIC is matched by its
// driver, which only netplan renders as a match: ifupdown and networkd
// renderers configure the NIC named by the id, so such a guest needs its NIC
// to be called eth0 (net.ifnames=0) or netplan.
void emit_match(YAML::Emitter& out, std::string_view mac) {
  out << YAML::Key << "match" << YAML::Value << YAML::BeginMap;
  if (mac.empty()) {
    out << YAML::Key << "driver" << YAML::Value << YAML::DoubleQuoted << "virtio_net";
  } else {
    out << YAML::Key << "macaddress" << YAML::Value << YAML::DoubleQuoted << std::string(mac);
  }
  out << YAML::EndMap;
}

// The default route as "0.0.0.0/0" or "::/0", not netplan's "default":
// Debian 12's cloud-init (22.4) renders v2 routes for ifupdown and networkd
// itself, and refuses "default" there ("Address default is not a valid ip
// address", network_state.py), while every renderer takes the prefix form.
void emit_default_route(YAML::Emitter& out, const std::string& gateway) {
  const bool v6 = gateway.find(':') != std::string::npos;
  out << YAML::Key << "routes" << YAML::Value << YAML::BeginSeq << YAML::BeginMap;
  out << YAML::Key << "to" << YAML::Value << YAML::DoubleQuoted << (v6 ? "::/0" : "0.0.0.0/0");
  out << YAML::Key << "via" << YAML::Value << YAML::DoubleQuoted << gateway;
  out << YAML::EndMap << YAML::EndSeq;
}

void emit_name_servers(YAML::Emitter& out, const std::vector<std::string>& servers) {
  out << YAML::Key << "nameservers" << YAML::Value << YAML::BeginMap;
  out << YAML::Key << "addresses" << YAML::Value << YAML::BeginSeq;
  for (const std::string& server : servers) out << YAML::DoubleQuoted << server;
  out << YAML::EndSeq << YAML::EndMap;
}

}  // namespace

std::string make_network_config(const StaticAddress& fixed, std::string_view mac) {
  YAML::Emitter out;
  out << YAML::BeginMap;
  out << YAML::Key << "version" << YAML::Value << 2;
  out << YAML::Key << "ethernets" << YAML::Value << YAML::BeginMap;
  out << YAML::Key << std::string(kGuestNicName) << YAML::Value << YAML::BeginMap;
  emit_match(out, mac);
  out << YAML::Key << "set-name" << YAML::Value << YAML::DoubleQuoted << std::string(kGuestNicName);
  out << YAML::Key << "dhcp4" << YAML::Value << false;
  out << YAML::Key << "dhcp6" << YAML::Value << false;
  out << YAML::Key << "addresses" << YAML::Value << YAML::BeginSeq << YAML::DoubleQuoted << fixed.address
      << YAML::EndSeq;
  if (!fixed.gateway.empty()) emit_default_route(out, fixed.gateway);
  if (!fixed.dns.empty()) emit_name_servers(out, fixed.dns);
  out << YAML::EndMap << YAML::EndMap << YAML::EndMap;
  return std::string(out.c_str()) + "\n";
}

}  // namespace vm_manager::cloudinit
