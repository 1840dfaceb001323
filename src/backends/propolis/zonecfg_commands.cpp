// The zonecfg command file for a VM's nebula-vm zone. Its attributes are the
// ones brand/nebula-vm/boot reads: bootrom, api-address (IP:PORT, IPv6 as
// [addr]:port) and api-vnic, whose net resource's allowed-address must carry
// the same IP.
//
// Every value is written in double quotes. zonecfg's lexer
// (illumos-gate usr/src/cmd/zonecfg/zonecfg_lex.l, stored version 0209230b)
// reads an unquoted '[' as the start of a list, so `set value=[fd00::5]:12400`
// is a syntax error, and it splits unquoted words at ' ', ';', '=', '(' and
// ')'. Quoted, a value is one TOKEN up to the next '"' or newline: there is
// no escape, so validate_zone_layout refuses values holding either.
#include <fmt/format.h>

#include "backends/propolis/zone_tools.hpp"

namespace vm_manager::propolis {
namespace {

std::string in_quotes(std::string_view value) { return fmt::format("\"{}\"", value); }

// "\tset <property>=\"<value>\"\n"
std::string set(std::string_view property, std::string_view value) {
  return fmt::format("\tset {}={}\n", property, in_quotes(value));
}

void add_attr(std::string& out, std::string_view name, std::string_view value) {
  out += "add attr\n" + set("name", name) + set("type", "string") + set("value", value) + "end\n";
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
  out += fmt::format("set brand={}\n", in_quotes("nebula-vm"));
  out += fmt::format("set zonepath={}\n", in_quotes(l.zonepath));
  out += fmt::format("set ip-type={}\n", in_quotes("exclusive"));
  // vmctl boots the zone itself; the host must not on its own.
  out += fmt::format("set autoboot={}\n", in_quotes("false"));
  for (const auto& vnic : l.guest_vnics) out += "add net\n" + set("physical", vnic) + "end\n";
  out += "add net\n" + set("physical", l.api_vnic) + set("allowed-address", l.api_address) + "end\n";
  // The raw device: propolis-server opens the volume as a block device.
  for (const auto& dataset : disk_datasets(l)) out += "add device\n" + set("match", "/dev/zvol/rdsk/" + dataset) + "end\n";
  if (!l.propolis_dir.empty()) {
    out += "add fs\n" + set("dir", kPropolisZoneDir) + set("special", l.propolis_dir) + set("type", "lofs") +
           fmt::format("\tadd options {}\n", in_quotes("ro")) + "end\n";
  }
  add_attr(out, "bootrom", l.bootrom);
  add_attr(out, "api-address", api_listen_address(l));
  add_attr(out, "api-vnic", l.api_vnic);
  out += "commit\n";
  return out;
}

}  // namespace vm_manager::propolis
