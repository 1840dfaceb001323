#include "backends/qemu/port_forwards.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>

#include <fmt/format.h>

#include "os/unique_fd.hpp"
#include "util/printable.hpp"
#include "vm_manager/error.hpp"
#include "vm_manager/spec_check.hpp"

namespace vm_manager::qemu {
namespace {

enum class Bind { free, in_use, not_local, needs_root };

// Binds the host side as QEMU's slirp does (SO_REUSEADDR for TCP, so a
// connection lingering in TIME_WAIT does not count as a holder).
Bind try_bind(const PortForward& forward) {
  const bool tcp = forward.protocol == PortProtocol::tcp;
  os::UniqueFd fd(::socket(AF_INET, (tcp ? SOCK_STREAM : SOCK_DGRAM) | SOCK_CLOEXEC, 0));
  if (fd.get() < 0) return Bind::free;  // cannot tell: let QEMU find out
  if (tcp) {
    int on = 1;
    ::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
  }
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(forward.host_port);
  if (::inet_pton(AF_INET, forward.host_address.c_str(), &address.sin_addr) != 1) return Bind::not_local;
  if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&address), sizeof address) == 0) {
    // A TCP port with only lingering connections binds; a listener on it
    // makes listen() fail as QEMU's would.
    if (!tcp || ::listen(fd.get(), 1) == 0) return Bind::free;
  }
  switch (errno) {
    case EADDRNOTAVAIL:
      return Bind::not_local;
    case EACCES:
      return Bind::needs_root;
    default:
      return Bind::in_use;
  }
}

}  // namespace

std::string hostfwd_rule(const PortForward& forward) {
  return fmt::format("{}-:{}", hostfwd_key(forward), forward.guest_port);
}

std::string hostfwd_key(const PortForward& forward) {
  return fmt::format("{}:{}:{}", to_string(forward.protocol), forward.host_address, forward.host_port);
}

void throw_port_in_use(const PortForward& forward, std::string_view vm_name) {
  std::optional<std::string> holder = port_holder(forward);
  throw Error(errc::port_in_use,
              fmt::format("cannot publish {} for VM '{}': host port {}/{} is in use{}", port_forward_text(forward),
                          vm_name, forward.host_port, to_string(forward.protocol),
                          holder ? " by " + *holder : std::string()),
              "stop what holds the port, or publish the guest port on another host port");
}

void require_host_ports_free(const std::vector<PortForward>& forwards, std::string_view vm_name) {
  for (const PortForward& forward : forwards) {
    switch (try_bind(forward)) {
      case Bind::free:
        break;
      case Bind::in_use:
        throw_port_in_use(forward, vm_name);
      case Bind::not_local:
        throw Error(errc::port_invalid,
                    fmt::format("cannot publish {} for VM '{}': {} is not an address of this host",
                                port_forward_text(forward), vm_name, util::printable(forward.host_address)),
                    "give an address of one of this host's interfaces, 127.0.0.1 or 0.0.0.0");
      case Bind::needs_root:
        throw Error(errc::port_invalid,
                    fmt::format("cannot publish {} for VM '{}': host port {} is below 1024, which only root may bind",
                                port_forward_text(forward), vm_name, forward.host_port),
                    "publish the guest port on a host port from 1024 up");
    }
  }
}

std::optional<PortForward> forward_qemu_refused(const std::vector<PortForward>& forwards,
                                                std::string_view complaint) {
  for (const PortForward& forward : forwards) {
    if (complaint.find("'" + hostfwd_rule(forward) + "'") != std::string_view::npos) return forward;
  }
  return std::nullopt;
}

}  // namespace vm_manager::qemu
