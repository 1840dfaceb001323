// The QEMU backend's small pure helpers: option escaping, SSH ports, MACs
// and QMP run states.
#include "backends/qemu/options.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <regex>
#include <set>
#include <string>

#include <fmt/format.h>

#include "vm_manager/error.hpp"

namespace vm_manager::qemu {
namespace {

using ::testing::HasSubstr;

// --- escape_option_value ------------------------------------------------

TEST(EscapeOptionValue, PlainValueIsUnchanged) {
  EXPECT_EQ(escape_option_value("/var/lib/vmctl/vms/web/disk.qcow2", "disk path"),
            "/var/lib/vmctl/vms/web/disk.qcow2");
  EXPECT_EQ(escape_option_value("", "disk path"), "");
  EXPECT_EQ(escape_option_value("a=b:c d", "disk path"), "a=b:c d");
}

TEST(EscapeOptionValue, CommasAreDoubled) {
  EXPECT_EQ(escape_option_value("a,b", "disk path"), "a,,b");
  EXPECT_EQ(escape_option_value(",", "disk path"), ",,");
  EXPECT_EQ(escape_option_value(",a,,b,", "disk path"), ",,a,,,,b,,");
}

TEST(EscapeOptionValue, NonAsciiBytesPass) {
  EXPECT_EQ(escape_option_value("/home/j\xc3\xbcrgen/disk", "disk path"), "/home/j\xc3\xbcrgen/disk");
  EXPECT_EQ(escape_option_value("\xff\x80", "disk path"), "\xff\x80");
}

TEST(EscapeOptionValue, ControlCharactersAreSpecInvalid) {
  for (char c : {'\0', '\x01', '\t', '\n', '\r', '\x1b', '\x1f', '\x7f'}) {
    std::string value = std::string("/a") + c + "b";
    try {
      escape_option_value(value, "seed path");
      ADD_FAILURE() << "control character " << int(c) << " accepted";
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), errc::spec_invalid);
      EXPECT_THAT(e.message(), HasSubstr("seed path"));  // names what was wrong
      EXPECT_FALSE(e.help().empty());
    }
  }
}

TEST(EscapeOptionValue, SpaceAndTildeAreNotControlCharacters) {
  EXPECT_EQ(escape_option_value(" ~", "x"), " ~");
}

// --- preferred_ssh_port --------------------------------------------------

TEST(PreferredSshPort, IsDeterministic) {
  for (const char* name : {"web", "db", "a", "a-very-long-name-with-dashes-0123456789"}) {
    EXPECT_EQ(preferred_ssh_port(name, 10022, 10122), preferred_ssh_port(name, 10022, 10122)) << name;
  }
}

TEST(PreferredSshPort, KnownValuesStayStable) {
  // FNV-1a of the name modulo the span: a VM keeps its port across releases.
  EXPECT_EQ(preferred_ssh_port("", 10022, 10122), static_cast<std::uint16_t>(10022 + 2166136261u % 101));
  std::uint32_t a = (2166136261u ^ 'a') * 16777619u;
  EXPECT_EQ(preferred_ssh_port("a", 10022, 10122), static_cast<std::uint16_t>(10022 + a % 101));
}

TEST(PreferredSshPort, StaysWithinTheRangeForManyNames) {
  for (int i = 0; i < 5000; ++i) {
    std::string name = fmt::format("vm-{}", i);
    std::uint16_t port = preferred_ssh_port(name, 10022, 10122);
    ASSERT_GE(port, 10022) << name;
    ASSERT_LE(port, 10122) << name;
  }
}

TEST(PreferredSshPort, EdgesOfTheRange) {
  EXPECT_EQ(preferred_ssh_port("web", 2222, 2222), 2222);
  for (int i = 0; i < 1000; ++i) {
    std::string name = fmt::format("n{}", i);
    std::uint16_t wide = preferred_ssh_port(name, 1, 65535);
    EXPECT_GE(wide, 1);
    std::uint16_t top = preferred_ssh_port(name, 65530, 65535);
    EXPECT_GE(top, 65530);
    EXPECT_LE(top, 65535);
  }
  // The whole port space: no overflow of the span.
  std::uint16_t all = preferred_ssh_port("web", 0, 65535);
  (void)all;
}

TEST(PreferredSshPort, DiffersAcrossNames) {
  std::set<std::uint16_t> ports;
  for (const char* name : {"web", "db", "cache", "build", "test"}) ports.insert(preferred_ssh_port(name, 10022, 10122));
  EXPECT_GE(ports.size(), 3u);
  EXPECT_NE(preferred_ssh_port("vm1", 10022, 10122), preferred_ssh_port("vm2", 10022, 10122));
}

TEST(PreferredSshPort, SpreadsOverTheRange) {
  // 1000 names over 101 ports: about 10 each. A decent hash hits nearly every
  // port and overloads none.
  std::map<std::uint16_t, int> count;
  for (int i = 0; i < 1000; ++i) ++count[preferred_ssh_port(fmt::format("vm-{}", i), 10022, 10122)];
  EXPECT_GE(count.size(), 95u);
  int busiest = 0;
  for (const auto& [port, n] : count) busiest = std::max(busiest, n);
  EXPECT_LE(busiest, 25);

  // Similar names ("web1", "web2", …) spread too.
  std::set<std::uint16_t> similar;
  for (int i = 0; i < 50; ++i) similar.insert(preferred_ssh_port(fmt::format("web{}", i), 10022, 10122));
  EXPECT_GE(similar.size(), 30u);
}

// --- ssh_port_from_usernet -------------------------------------------------

// "info usernet" of QEMU 7.2.22 (Debian 1:7.2+dfsg-7+deb12u18) over QMP's
// human-monitor-command, for -netdev user,id=n0,hostfwd=tcp:127.0.0.1:0-:22.
constexpr const char* kQemu72UsernetOneForward =
    "Hub -1 (n0):\r\n"
    "  Protocol[State]    FD  Source Address  Port   Dest. Address  Port RecvQ SendQ\r\n"
    "  TCP[HOST_FORWARD]  11       127.0.0.1 37369       10.0.2.15    22     0     0\r\n";

// The same QEMU with hostfwd=tcp:127.0.0.1:0-:80,hostfwd=udp:127.0.0.1:0-:22
// on n0 and a second user netdev n1 without forwards.
constexpr const char* kQemu72UsernetNoTcp22 =
    "Hub -1 (n0):\r\n"
    "  Protocol[State]    FD  Source Address  Port   Dest. Address  Port RecvQ SendQ\r\n"
    "  TCP[HOST_FORWARD]  12       127.0.0.1 35955       10.0.2.15    80     0     0\r\n"
    "  UDP[HOST_FORWARD]  11       127.0.0.1 38170       10.0.2.15    22     0     0\r\n"
    "Hub -1 (n1):\r\n"
    "  Protocol[State]    FD  Source Address  Port   Dest. Address  Port RecvQ SendQ\r\n";

TEST(SshPortFromUsernet, ParsesRealQemu72Output) {
  EXPECT_EQ(ssh_port_from_usernet(kQemu72UsernetOneForward), std::optional<std::uint16_t>(37369));
}

TEST(SshPortFromUsernet, AlsoWithUnixLineEnds) {
  std::string text = kQemu72UsernetOneForward;
  text.erase(std::remove(text.begin(), text.end(), '\r'), text.end());
  EXPECT_EQ(ssh_port_from_usernet(text), std::optional<std::uint16_t>(37369));
}

TEST(SshPortFromUsernet, PicksThePort22ForwardAmongOthers) {
  std::string text =
      "Hub -1 (net0):\r\n"
      "  Protocol[State]    FD  Source Address  Port   Dest. Address  Port RecvQ SendQ\r\n"
      "  TCP[HOST_FORWARD]  12       127.0.0.1 18080       10.0.2.15    80     0     0\r\n"
      "  TCP[ESTABLISHED]   25       10.0.2.15 51234      10.0.2.2    22     0     0\r\n"
      "  TCP[HOST_FORWARD]  11       127.0.0.1 10055       10.0.2.15    22     0     0\r\n";
  EXPECT_EQ(ssh_port_from_usernet(text), std::optional<std::uint16_t>(10055));
}

TEST(SshPortFromUsernet, NothingWithoutAPort22Forward) {
  EXPECT_EQ(ssh_port_from_usernet(""), std::nullopt);
  EXPECT_EQ(ssh_port_from_usernet("Hub -1 (n1):\r\n"
                                  "  Protocol[State]    FD  Source Address  Port   Dest. Address  Port RecvQ SendQ\r\n"),
            std::nullopt);
  EXPECT_EQ(ssh_port_from_usernet("  TCP[HOST_FORWARD]  12  127.0.0.1 35955  10.0.2.15  80  0  0\n"), std::nullopt);
  // Host port 22 forwarded to guest port 2222 is not an SSH forward.
  EXPECT_EQ(ssh_port_from_usernet("  TCP[HOST_FORWARD]  12  127.0.0.1 22  10.0.2.15  2222  0  0\n"), std::nullopt);
  EXPECT_EQ(ssh_port_from_usernet("unknown command: 'info usernet'\r\n"), std::nullopt);
}

TEST(SshPortFromUsernet, MalformedPortsAreIgnored) {
  EXPECT_EQ(ssh_port_from_usernet("  TCP[HOST_FORWARD]  11  127.0.0.1 0  10.0.2.15  22  0  0\n"), std::nullopt);
  EXPECT_EQ(ssh_port_from_usernet("  TCP[HOST_FORWARD]  11  127.0.0.1 70000  10.0.2.15  22  0  0\n"), std::nullopt);
  EXPECT_EQ(ssh_port_from_usernet("  TCP[HOST_FORWARD]  11  127.0.0.1 12ab  10.0.2.15  22  0  0\n"), std::nullopt);
  EXPECT_EQ(ssh_port_from_usernet("  TCP[HOST_FORWARD]  11  127.0.0.1 -5  10.0.2.15  22  0  0\n"), std::nullopt);
  EXPECT_EQ(ssh_port_from_usernet("  TCP[HOST_FORWARD]  11  127.0.0.1\n"), std::nullopt);
}

// A UDP forward to guest port 22 (listed before or without the TCP one) is
// not SSH.
TEST(SshPortFromUsernet, AUdpForwardToPort22IsNotSsh) {
  EXPECT_EQ(ssh_port_from_usernet(kQemu72UsernetNoTcp22), std::nullopt);
}

// --- random_local_mac -----------------------------------------------------

TEST(RandomLocalMac, IsLowercaseColonHex) {
  const std::regex format("^([0-9a-f]{2}:){5}[0-9a-f]{2}$");
  for (int i = 0; i < 200; ++i) {
    std::string mac = random_local_mac();
    ASSERT_TRUE(std::regex_match(mac, format)) << mac;
  }
}

TEST(RandomLocalMac, IsLocallyAdministeredUnicast) {
  for (int i = 0; i < 500; ++i) {
    std::string mac = random_local_mac();
    unsigned first = std::stoul(mac.substr(0, 2), nullptr, 16);
    ASSERT_NE(first & 0x02u, 0u) << mac << ": locally administered bit clear";
    ASSERT_EQ(first & 0x01u, 0u) << mac << ": multicast bit set";
  }
}

TEST(RandomLocalMac, DiffersBetweenCalls) {
  std::set<std::string> macs;
  for (int i = 0; i < 200; ++i) macs.insert(random_local_mac());
  EXPECT_EQ(macs.size(), 200u);
}

// --- random_vnc_password --------------------------------------------------

TEST(RandomVncPassword, IsEightLettersOrDigits) {
  const std::regex format("^[A-Za-z0-9]{8}$");
  for (int i = 0; i < 200; ++i) {
    std::string password = random_vnc_password();
    ASSERT_TRUE(std::regex_match(password, format)) << password;
  }
}

TEST(RandomVncPassword, DiffersBetweenCallsAndUsesTheWholeAlphabet) {
  std::set<std::string> passwords;
  std::set<char> seen;
  for (int i = 0; i < 500; ++i) {
    std::string password = random_vnc_password();
    passwords.insert(password);
    seen.insert(password.begin(), password.end());
  }
  EXPECT_EQ(passwords.size(), 500u);
  EXPECT_EQ(seen.size(), 62u) << "4000 draws of 62 characters miss one with odds below 1e-25";
}

// --- state_from_qmp_status ----------------------------------------------

TEST(StateFromQmpStatus, RunningIsRunning) { EXPECT_EQ(state_from_qmp_status("running"), VmState::running); }

TEST(StateFromQmpStatus, ResumableStatesAreSuspended) {
  for (const char* status : {"paused", "prelaunch", "suspended", "inmigrate", "postmigrate", "finish-migrate",
                             "save-vm", "restore-vm", "debug", "watchdog", "colo"}) {
    EXPECT_EQ(state_from_qmp_status(status), VmState::suspended) << status;
  }
}

TEST(StateFromQmpStatus, ShutdownIsStopped) { EXPECT_EQ(state_from_qmp_status("shutdown"), VmState::stopped); }

TEST(StateFromQmpStatus, BrokenAndUnknownStatesAreFailedNeverRunning) {
  for (const char* status : {"guest-panicked", "internal-error", "io-error", "", "unknown", "Running", "RUNNING",
                             "running ", " running", "shutting-down", "null"}) {
    EXPECT_EQ(state_from_qmp_status(status), VmState::failed) << '"' << status << '"';
  }
}

}  // namespace
}  // namespace vm_manager::qemu
