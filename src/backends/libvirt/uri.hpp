// What vmctl reads from a libvirt URI ("qemu+ssh://ci@build1:2222/system?keyfile=…"):
// whether it names another machine, and how SSH reaches that machine.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "vm_manager/types.hpp"

namespace vm_manager::libvirt {

struct LibvirtUri {
  std::string text;       // the URI as given
  std::string driver;     // "qemu", "test"
  std::string transport;  // "ssh", "tcp", "tls", "unix", "libssh2", "libssh"; empty: none given
  std::string user;
  std::string host;       // empty: this machine
  std::optional<std::uint16_t> port;
  std::string path;       // "/system", "/default"
  std::map<std::string, std::string> params;  // the query, percent-decoded

  // A URI with a host part runs its VMs on another machine.
  bool remote() const { return !host.empty(); }
};

// Parses `text`. Raises spec::invalid for what is no libvirt URI (no
// "driver://", a driver of other characters than letters, digits and '+',
// a bad port).
LibvirtUri parse_uri(std::string_view text);

// For a qemu+ssh (or +libssh, +libssh2) URI with a host: the jump host that
// SSH to the guests goes through, with the URI's keyfile= and known_hosts=.
// nullopt for any other URI.
std::optional<SshJumpHost> ssh_jump_for(const LibvirtUri& uri);

}  // namespace vm_manager::libvirt
