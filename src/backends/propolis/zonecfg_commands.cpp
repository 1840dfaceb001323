// The zonecfg command file for a VM's nebula-vm zone. Its attributes are the
// ones brand/nebula-vm/boot reads: bootrom, api-address (IP:PORT, IPv6 as
// [addr]:port) and api-vnic, whose net resource's allowed-address must carry
// the same IP.
#include <fmt/format.h>

#include "backends/propolis/zone_tools.hpp"

namespace vm_manager::propolis {
namespace {

void add_attr(std::string& out, std::string_view name, std::string_view value) {
  out += fmt::format("add attr\n\tset name={}\n\tset type=string\n\tset value={}\nend\n", name, value);
}

// "<ip>/<prefix>" → "<ip>:<port>", or "[<ip>]:<port>" for IPv6 as the brand wants.
std::string api_listen_address(const ZoneLayout& l) {
  std::string ip = l.api_address.substr(0, l.api_address.find('/'));
  return ip.find(':') == std::string::npos ? fmt::format("{}:{}", ip, l.api_port)
                                           : fmt::format("[{}]:{}", ip, l.api_port);
}

}  // namespace

std::string zonecfg_command_file(const ZoneLayout& l) {
  std::string out;
  // -b: a blank configuration, not one copied from the default template.
  out += "create -b\n";
  out += "set brand=nebula-vm\n";
  out += fmt::format("set zonepath={}\n", l.zonepath);
  out += "set ip-type=exclusive\n";
  // vmctl boots the zone itself; the host must not on its own.
  out += "set autoboot=false\n";
  for (const auto& vnic : l.guest_vnics) out += fmt::format("add net\n\tset physical={}\nend\n", vnic);
  out += fmt::format("add net\n\tset physical={}\n\tset allowed-address={}\nend\n", l.api_vnic, l.api_address);
  // The raw device: propolis-server opens the volume as a block device.
  out += fmt::format("add device\n\tset match=/dev/zvol/rdsk/{}\nend\n", l.dataset);
  if (!l.propolis_dir.empty()) {
    out += fmt::format("add fs\n\tset dir={}\n\tset special={}\n\tset type=lofs\n\tadd options ro\nend\n",
                       kPropolisZoneDir, l.propolis_dir);
  }
  add_attr(out, "bootrom", l.bootrom);
  add_attr(out, "api-address", api_listen_address(l));
  add_attr(out, "api-vnic", l.api_vnic);
  out += "commit\n";
  return out;
}

}  // namespace vm_manager::propolis
