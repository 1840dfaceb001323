// Published ports end to end: the tiny guest under QEMU/TCG serves HTTP
// (busybox httpd, started through `vmctl ssh`) and the host reaches it on
// the ports vmctl publishes: at create, after `port add`, not after
// `port rm`, and again after a stop and start. A host port that something
// holds is refused at create, port add and start, naming the holder.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fstream>
#include <thread>

#include "os/unique_fd.hpp"
#include "support/ports.hpp"
#include "vmctl/qemu_cli_fixture.hpp"

namespace vmctl::test {
namespace {

using namespace std::chrono_literals;

constexpr int kGuestPort = 8000;  // busybox httpd as the login user: no root needed

// What an HTTP/1.0 GET of / on 127.0.0.1:port answers; empty when nothing
// answers (refused, or closed without a reply).
std::string http_get(int port) {
  vm_manager::os::UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  timeval timeout{30, 0};  // a hung forward fails the test, it does not hang it
  ::setsockopt(fd.get(), SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<std::uint16_t>(port));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) return {};
  const std::string request = "GET / HTTP/1.0\r\nHost: guest\r\n\r\n";
  if (::write(fd.get(), request.data(), request.size()) != static_cast<ssize_t>(request.size())) return {};
  std::string reply;
  char buffer[4096];
  for (ssize_t n; (n = ::read(fd.get(), buffer, sizeof buffer)) > 0;) reply.append(buffer, static_cast<std::size_t>(n));
  return reply;
}

// The page, once the guest's server answers through the forward; slirp
// accepts on the host before the guest does, so an early try gets nothing.
std::string page_through(int port) {
  const auto deadline = std::chrono::steady_clock::now() + 120s;
  std::string reply;
  while ((reply = http_get(port)).empty() && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(250ms);
  }
  return reply;
}

std::string own_command() {
  std::string comm;
  std::getline(std::ifstream("/proc/self/comm"), comm);
  return comm;
}

// A TCP listener on 127.0.0.1:port held by this test. SO_REUSEADDR: the
// port may still have connections in TIME_WAIT from a QEMU that forwarded it.
vm_manager::os::UniqueFd listen_on(int port) {
  vm_manager::os::UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  int on = 1;
  ::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<std::uint16_t>(port));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  EXPECT_EQ(::bind(fd.get(), reinterpret_cast<sockaddr*>(&address), sizeof address), 0) << port;
  EXPECT_EQ(::listen(fd.get(), 1), 0);
  return fd;
}

class PortForwardCliTest : public QemuCliTest {
 protected:
  void serve_page(const std::string& name, const std::string& text) {
    ProcessResult r = slow({"ssh", name, "--", "sh", "-c",
                            "'mkdir -p /tmp/www && echo " + text + " > /tmp/www/index.html && busybox httpd -p " +
                                std::to_string(kGuestPort) + " -h /tmp/www'"});
    ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  }

  void expect_in_use(const ProcessResult& r, int port, const std::string& holder) {
    EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
    EXPECT_NE(r.err.find("error[vm_manager::port::in_use]"), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("host port " + std::to_string(port) + "/tcp is in use by " + holder), std::string::npos)
        << r.err;
    EXPECT_EQ(r.err.find("qemu.log"), std::string::npos) << "QEMU's own failure quoted: " << r.err;
  }
};

TEST_F(PortForwardCliTest, TheHostReachesTheGuestThroughPublishedPorts) {
  const int first = free_port();
  auto args = create_args("web");
  args.insert(args.end(), {"--publish", std::to_string(first) + ":" + std::to_string(kGuestPort), "--start",
                           "--wait", "--wait-timeout", "240"});
  ProcessResult created = slow(args);
  ASSERT_EQ(created.exit_code, 0) << created.out << created.err;
  serve_page("web", "hello-from-the-guest");
  EXPECT_NE(page_through(first).find("hello-from-the-guest"), std::string::npos);

  // Added live, without a restart.
  const int second = free_port();
  EXPECT_EQ(ok({"port", "add", "web", std::to_string(second) + ":" + std::to_string(kGuestPort)}),
            "Published 127.0.0.1:" + std::to_string(second) + "->8000/tcp for VM 'web'\n");
  EXPECT_NE(page_through(second).find("hello-from-the-guest"), std::string::npos);

  // Taken ports: by this test at port add, by the running VM's QEMU at create.
  const int third = free_port();
  vm_manager::os::UniqueFd held = listen_on(third);
  expect_in_use(vmctl({"port", "add", "web", std::to_string(third) + ":80"}), third,
                own_command() + " (pid " + std::to_string(::getpid()) + ")");
  auto other = create_args("other");
  other.insert(other.end(), {"--publish", std::to_string(first) + ":80"});
  expect_in_use(vmctl(other), first, "qemu-system-x86");
  EXPECT_EQ(list().size(), 1u) << "the refused create left a VM behind";

  // Removed live: the host port closes at once.
  ok({"port", "rm", "web", std::to_string(first)});
  EXPECT_EQ(http_get(first), "");
  EXPECT_EQ(status("web").at("port_forwards").size(), 1u);

  // A restart keeps the forwards; one whose port is taken meanwhile stops
  // the start before QEMU runs.
  ok({"stop", "web"});
  {
    vm_manager::os::UniqueFd taken = listen_on(second);
    expect_in_use(vmctl({"start", "web"}), second, own_command());
    EXPECT_EQ(state_of("web"), "stopped");
  }
  ProcessResult started = slow({"start", "web", "--wait", "--wait-timeout", "240"});
  ASSERT_EQ(started.exit_code, 0) << started.out << started.err;
  serve_page("web", "hello-after-restart");
  EXPECT_NE(page_through(second).find("hello-after-restart"), std::string::npos);
  EXPECT_EQ(http_get(first), "");
  nlohmann::json forwards = status("web").at("port_forwards");
  ASSERT_EQ(forwards.size(), 1u);
  EXPECT_EQ(forwards[0].at("host_port"), second);
}

}  // namespace
}  // namespace vmctl::test
