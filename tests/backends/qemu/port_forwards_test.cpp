// The qemu backend's published ports: hostfwd rules, and the check that a
// host port is free, against real sockets on 127.0.0.1 held by this test.
#include "backends/qemu/port_forwards.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <fmt/format.h>

#include "os/unique_fd.hpp"
#include "support/error_from.hpp"
#include "vm_manager/error.hpp"

namespace vm_manager::qemu {
namespace {

using vmctl::test::error_from;

// A socket bound to 127.0.0.1 on a port the kernel picks (listening, for TCP).
struct HeldPort {
  explicit HeldPort(int type) : fd(::socket(AF_INET, type | SOCK_CLOEXEC, 0)) {
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(::bind(fd.get(), reinterpret_cast<sockaddr*>(&address), sizeof address), 0);
    if (type == SOCK_STREAM) {
      EXPECT_EQ(::listen(fd.get(), 1), 0);
    }
    socklen_t length = sizeof address;
    ::getsockname(fd.get(), reinterpret_cast<sockaddr*>(&address), &length);
    port = ntohs(address.sin_port);
  }
  os::UniqueFd fd;
  std::uint16_t port = 0;
};

std::string own_command() {
  std::string comm;
  FILE* file = std::fopen("/proc/self/comm", "r");
  char buffer[64] = {};
  if (file != nullptr && std::fgets(buffer, sizeof buffer, file) != nullptr) comm = buffer;
  if (file != nullptr) std::fclose(file);
  while (!comm.empty() && comm.back() == '\n') comm.pop_back();
  return comm;
}

TEST(QemuPortForwards, RulesAsHostfwdTakesThem) {
  PortForward udp{"0.0.0.0", 5353, 53, PortProtocol::udp};
  EXPECT_EQ(hostfwd_rule(udp), "udp:0.0.0.0:5353-:53");
  EXPECT_EQ(hostfwd_key(udp), "udp:0.0.0.0:5353");
}

TEST(QemuPortForwards, ATakenTcpPortNamesTheProcessHoldingIt) {
  HeldPort held(SOCK_STREAM);
  PortForward forward{"127.0.0.1", held.port, 80, PortProtocol::tcp};
  Error e = error_from([&] { require_host_ports_free({forward}, "web"); });
  EXPECT_EQ(e.code(), errc::port_in_use);
  EXPECT_NE(e.message().find(fmt::format("host port {}/tcp is in use by {} (pid {})", held.port, own_command(),
                                         ::getpid())),
            std::string::npos)
      << e.message();
  EXPECT_NE(e.message().find("VM 'web'"), std::string::npos) << e.message();
  // 0.0.0.0 overlaps the listener on 127.0.0.1.
  forward.host_address = "0.0.0.0";
  EXPECT_EQ(error_from([&] { require_host_ports_free({forward}, "web"); }).code(), errc::port_in_use);
}

TEST(QemuPortForwards, ATakenUdpPortIsFoundToo) {
  HeldPort held(SOCK_DGRAM);
  PortForward forward{"127.0.0.1", held.port, 53, PortProtocol::udp};
  Error e = error_from([&] { require_host_ports_free({forward}, "web"); });
  EXPECT_EQ(e.code(), errc::port_in_use);
  EXPECT_NE(e.message().find(fmt::format("(pid {})", ::getpid())), std::string::npos) << e.message();
  // The same number over TCP is another port.
  forward.protocol = PortProtocol::tcp;
  EXPECT_NO_THROW(require_host_ports_free({forward}, "web"));
}

TEST(QemuPortForwards, AFreePortPassesAndIsFreeAfterwards) {
  std::uint16_t port = 0;
  {
    HeldPort held(SOCK_STREAM);
    port = held.port;
  }
  PortForward forward{"127.0.0.1", port, 80, PortProtocol::tcp};
  EXPECT_NO_THROW(require_host_ports_free({forward}, "web"));
  EXPECT_NO_THROW(require_host_ports_free({forward}, "web"));  // the check left nothing bound
}

TEST(QemuPortForwards, AnAddressThatIsNotThisHostsIsRefused) {
  // 192.0.2.0/24 is TEST-NET-1: no host has it.
  PortForward forward{"192.0.2.1", 18080, 80, PortProtocol::tcp};
  Error e = error_from([&] { require_host_ports_free({forward}, "web"); });
  EXPECT_EQ(e.code(), errc::port_invalid);
  EXPECT_NE(e.message().find("not an address of this host"), std::string::npos) << e.message();
}

TEST(QemuPortForwards, QemusComplaintIsMatchedToItsForward) {
  std::vector<PortForward> forwards = {{"127.0.0.1", 8080, 80, PortProtocol::tcp},
                                       {"127.0.0.1", 8081, 81, PortProtocol::tcp}};
  auto refused = forward_qemu_refused(
      forwards, "qemu-system-x86_64: Could not set up host forwarding rule 'tcp:127.0.0.1:8081-:81'\n");
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->host_port, 8081);
  EXPECT_FALSE(forward_qemu_refused(forwards, "Could not set up host forwarding rule 'tcp:127.0.0.1:10022-:22'"));
}

}  // namespace
}  // namespace vm_manager::qemu
