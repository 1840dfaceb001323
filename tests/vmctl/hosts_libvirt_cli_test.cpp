// `vmctl hosts` and `create --connect` against the libvirt backend, with
// hosts that cannot be reached: a libvirt URI on a loopback port nothing
// listens on (refused at once; no packet leaves this machine). Needs the
// libvirt backend registered and libvirt.so.0 installed; no daemon.
//
// Not in tests/CMakeLists.txt on the CLI branch (i17-cli): the backend is
// merged separately. To enable, add to the vmctl_test target's sources:
//   vmctl/hosts_libvirt_cli_test.cpp
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include <fmt/format.h>

#include "vmctl/cli_fixture.hpp"

namespace vmctl::test {
namespace {

namespace fs = std::filesystem;

// A loopback port that was free a moment ago: a connection there is refused.
std::uint16_t closed_loopback_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  EXPECT_GE(fd, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  EXPECT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address), 0);
  socklen_t length = sizeof address;
  EXPECT_EQ(::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length), 0);
  ::close(fd);
  return ntohs(address.sin_port);
}

std::string unreachable_uri() { return fmt::format("qemu+tcp://127.0.0.1:{}/system", closed_loopback_port()); }

class HostsLibvirtCli : public VmctlTest {
 protected:
  void SetUp() override {
    fs::create_directories(project_);
    std::ofstream(project_ / "disk.qcow2") << "not really a disk";
  }

  TempDir project_dir_;
  fs::path project_ = project_dir_.path() / "project";
  fs::path vmfile_ = project_ / "VMFile.kdl";
};

TEST_F(HostsLibvirtCli, AnUnreachableUriIsReportedAsSuchAndFailsTheCommand) {
  const std::string uri = unreachable_uri();
  ProcessResult r = vmctl({"hosts", "--connect", uri, "--json"});
  EXPECT_EQ(r.exit_code, 1) << r.err;
  nlohmann::json hosts = nlohmann::json::parse(r.out);
  ASSERT_EQ(hosts.size(), 1u) << r.out;
  EXPECT_EQ(hosts[0].at("name"), uri);
  EXPECT_EQ(hosts[0].at("backend"), "libvirt");
  EXPECT_EQ(hosts[0].at("address"), uri);
  EXPECT_EQ(hosts[0].at("reachable"), false);
  EXPECT_FALSE(hosts[0].at("error").get<std::string>().empty());
  EXPECT_EQ(hosts[0].at("running_vms"), nlohmann::json::array());
  EXPECT_NE(r.err.find(fmt::format("error[vm_manager::backend::unreachable]: 1 of 1 host is unreachable: {}", uri)),
            std::string::npos)
      << r.err;
}

TEST_F(HostsLibvirtCli, EveryHostOfTheVmFileIsShownBeforeTheCommandFails) {
  const std::string one = unreachable_uri();
  const std::string two = unreachable_uri();
  std::ofstream(vmfile_) << "host \"build1\" connect=\"" << one << "\"\n"
                         << "host \"build2\" connect=\"" << two << "\" pool=\"vms\"\n"
                         << "vm \"web\" {\n    image \"disk.qcow2\"\n    host \"build1\"\n}\n";
  ProcessResult r = vmctl({"hosts", "-f", vmfile_.string()});
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_TRUE(r.out.starts_with("NAME    BACKEND  ADDRESS")) << r.out;
  EXPECT_NE(r.out.find("build1  libvirt  " + one), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("build2  libvirt  " + two), std::string::npos) << r.out;
  EXPECT_NE(r.err.find("build1 (" + one + "): "), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("build2 (" + two + "): "), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("2 of 2 hosts are unreachable: build1, build2"), std::string::npos) << r.err;
}

TEST_F(HostsLibvirtCli, CreateOnAnUnreachableHostNamesItsUriAndLeavesNothing) {
  const std::string uri = unreachable_uri();
  ProcessResult r = vmctl({"create", "--name", "far", "--connect", uri, "--image", (project_ / "disk.qcow2").string()});
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_NE(r.err.find("error[vm_manager::backend::unreachable]"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find(uri), std::string::npos) << r.err;
  EXPECT_TRUE(list().empty());
}

// --connect means --backend libvirt, and so does an explicit --backend libvirt.
TEST_F(HostsLibvirtCli, ConnectWithBackendLibvirtIsAccepted) {
  const std::string uri = unreachable_uri();
  ProcessResult r = vmctl({"create", "--name", "far", "--backend", "libvirt", "--connect", uri, "--image",
                           (project_ / "disk.qcow2").string()});
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_NE(r.err.find("error[vm_manager::backend::unreachable]"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace vmctl::test
