// Finding a TAP guest's address by its MAC: /proc/net/arp and dnsmasq leases.
#include "backends/qemu/config.hpp"
#include "backends/qemu/guest_address.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <optional>
#include <string>

namespace vm_manager::qemu {
namespace {

using ::testing::ElementsAre;

constexpr const char* kMac = "02:5e:a1:b2:c3:d4";

// /proc/net/arp as the kernel writes it (net/ipv4/arp.c): a header, then
// one line per neighbour; flags 0x2 (ATF_COM) for a complete entry, 0x0 for
// one still being (or no longer) resolved.
constexpr const char* kProcNetArp =
    "IP address       HW type     Flags       HW address            Mask     Device\n"
    "192.168.122.1    0x1         0x2         52:54:00:0a:0b:0c     *        eth0\n"
    "192.168.122.77   0x1         0x0         00:00:00:00:00:00     *        virbr0\n"
    "192.168.122.50   0x1         0x2         02:5e:a1:b2:c3:d4     *        virbr0\n"
    "192.168.122.60   0x1         0x2         02:5e:a1:b2:c3:d5     *        virbr0\n";

TEST(IpFromNeighbours, FindsACompleteEntry) {
  EXPECT_EQ(ip_from_neighbours(kProcNetArp, kMac), std::optional<std::string>("192.168.122.50"));
  EXPECT_EQ(ip_from_neighbours(kProcNetArp, "02:5e:a1:b2:c3:d5"), std::optional<std::string>("192.168.122.60"));
}

TEST(IpFromNeighbours, MacIsCaseInsensitive) {
  EXPECT_EQ(ip_from_neighbours(kProcNetArp, "02:5E:A1:B2:C3:D4"), std::optional<std::string>("192.168.122.50"));
  std::string upper_table =
      "IP address       HW type     Flags       HW address            Mask     Device\n"
      "10.0.0.9         0x1         0x2         02:5E:A1:B2:C3:D4     *        br0\n";
  EXPECT_EQ(ip_from_neighbours(upper_table, kMac), std::optional<std::string>("10.0.0.9"));
}

TEST(IpFromNeighbours, IncompleteEntriesAreSkipped) {
  // A failed entry keeps the MAC it once had, with flags 0x0.
  std::string table =
      "IP address       HW type     Flags       HW address            Mask     Device\n"
      "192.168.122.40   0x1         0x0         02:5e:a1:b2:c3:d4     *        virbr0\n"
      "192.168.122.50   0x1         0x2         02:5e:a1:b2:c3:d4     *        virbr0\n";
  EXPECT_EQ(ip_from_neighbours(table, kMac), std::optional<std::string>("192.168.122.50"));

  std::string only_incomplete =
      "IP address       HW type     Flags       HW address            Mask     Device\n"
      "192.168.122.40   0x1         0x0         02:5e:a1:b2:c3:d4     *        virbr0\n";
  EXPECT_EQ(ip_from_neighbours(only_incomplete, kMac), std::nullopt);
}

TEST(IpFromNeighbours, PermanentEntriesCount) {
  std::string table =
      "IP address       HW type     Flags       HW address            Mask     Device\n"
      "192.168.122.41   0x1         0x6         02:5e:a1:b2:c3:d4     *        virbr0\n";
  EXPECT_EQ(ip_from_neighbours(table, kMac), std::optional<std::string>("192.168.122.41"));
}

TEST(IpFromNeighbours, UnknownMacHeaderOnlyAndEmpty) {
  EXPECT_EQ(ip_from_neighbours(kProcNetArp, "02:00:00:00:00:01"), std::nullopt);
  EXPECT_EQ(ip_from_neighbours("IP address       HW type     Flags       HW address            Mask     Device\n",
                               kMac),
            std::nullopt);
  EXPECT_EQ(ip_from_neighbours("", kMac), std::nullopt);
}

TEST(IpFromNeighbours, APrefixOfTheMacDoesNotMatch) {
  EXPECT_EQ(ip_from_neighbours(kProcNetArp, "02:5e:a1:b2:c3:d"), std::nullopt);
  EXPECT_EQ(ip_from_neighbours(kProcNetArp, ""), std::nullopt);
}

TEST(IpFromNeighbours, TheHeaderIsNeverAnEntry) {
  // Even a header that happens to contain the MAC's position words.
  std::string table = "1.2.3.4 0x1 0x2 02:5e:a1:b2:c3:d4 * eth0\n";
  EXPECT_EQ(ip_from_neighbours(table, kMac), std::nullopt);
}

// dnsmasq's lease file: "<expiry> <mac> <ip> <hostname|*> <client-id|*>"
// per IPv4 lease, then a "duid" line and IPv6 leases
// "<expiry> <iaid> <ipv6> <hostname> <client-id>".
constexpr const char* kLeases =
    "1717171800 52:54:00:0a:0b:0c 192.168.122.11 other *\n"
    "1717171900 02:5e:a1:b2:c3:d4 192.168.122.50 web 01:02:5e:a1:b2:c3:d4\n"
    "1717172000 52:54:00:99:88:77 192.168.122.99 later-vm 01:52:54:00:99:88:77\n"
    "duid 00:01:00:01:2c:5f:1a:2b:52:54:00:0a:0b:0c\n"
    "1717172100 12345678 fd00::50 web 00:02:00:00:ab:11:5e:a1:b2:c3:d4:e5\n";

TEST(IpFromLeases, FindsOurLeaseNotTheLastOne) {
  EXPECT_EQ(ip_from_leases(kLeases, kMac), std::optional<std::string>("192.168.122.50"));
  EXPECT_EQ(ip_from_leases(kLeases, "52:54:00:99:88:77"), std::optional<std::string>("192.168.122.99"));
}

TEST(IpFromLeases, MacIsCaseInsensitive) {
  EXPECT_EQ(ip_from_leases(kLeases, "02:5E:A1:B2:C3:D4"), std::optional<std::string>("192.168.122.50"));
}

TEST(IpFromLeases, UnknownMacHasNoLease) {
  EXPECT_EQ(ip_from_leases(kLeases, "02:00:00:00:00:01"), std::nullopt);
  EXPECT_EQ(ip_from_leases("", kMac), std::nullopt);
}

TEST(IpFromLeases, OurMacInAnotherLeasesClientIdDoesNotMatch) {
  std::string leases = "1717171900 52:54:00:0a:0b:0c 192.168.122.11 other 01:02:5e:a1:b2:c3:d4\n";
  EXPECT_EQ(ip_from_leases(leases, kMac), std::nullopt);
}

TEST(IpFromLeases, IPv6LinesAreIgnored) {
  // A lease line for our MAC that carries an IPv6 address is not an IPv4 lease.
  std::string leases =
      "duid 00:01:00:01:2c:5f:1a:2b:52:54:00:0a:0b:0c\n"
      "1717172100 02:5e:a1:b2:c3:d4 fd00::50 web *\n";
  EXPECT_EQ(ip_from_leases(leases, kMac), std::nullopt);
  EXPECT_EQ(ip_from_leases(std::string(kLeases) + "1717172200 02:5e:a1:b2:c3:d4 fd00::51 web *\n", kMac),
            std::optional<std::string>("192.168.122.50"));
}

TEST(IpFromLeases, TheNewerOfTwoLeasesForOurMacWins) {
  // The older lease (earlier expiry) first, the newer one below it.
  std::string leases =
      "1717100000 02:5e:a1:b2:c3:d4 192.168.122.40 web 01:aa\n"
      "1717171800 52:54:00:0a:0b:0c 192.168.122.11 other *\n"
      "1717171900 02:5e:a1:b2:c3:d4 192.168.122.50 web 01:bb\n"
      "1717172000 52:54:00:99:88:77 192.168.122.99 later-vm *\n";
  EXPECT_EQ(ip_from_leases(leases, kMac), std::optional<std::string>("192.168.122.50"));
}

// dnsmasq writes its leases newest first (lease_allocate() prepends to
// the list and lease_update_file() writes the list in order), so "the last
// line for this MAC" is the oldest lease. Two leases for one MAC happen when
// the guest's client-id changes (a reinstall, systemd-networkd's DUID-based
// client-id after cloud-init). The lease that expires last is the newest.
TEST(IpFromLeases, TheNewestLeaseWinsWhateverItsLine) {
  std::string leases =
      "1717171900 02:5e:a1:b2:c3:d4 192.168.122.50 web 01:bb\n"
      "1717171800 52:54:00:0a:0b:0c 192.168.122.11 other *\n"
      "1717100000 02:5e:a1:b2:c3:d4 192.168.122.40 web 01:aa\n";
  EXPECT_EQ(ip_from_leases(leases, kMac), std::optional<std::string>("192.168.122.50"));
}

TEST(IpFromLeases, ShortAndBlankLinesAreIgnored) {
  std::string leases =
      "\n"
      "   \n"
      "1717171900 02:5e:a1:b2:c3:d4\n"
      "garbage\n"
      "1717171900 02:5e:a1:b2:c3:d4 192.168.122.50 web *\n";
  EXPECT_EQ(ip_from_leases(leases, kMac), std::optional<std::string>("192.168.122.50"));
}

// The lease files the backend reads, when the program hands in `value` as
// VMCTL_DNSMASQ_LEASES (nullptr: not set).
std::vector<std::filesystem::path> lease_files_for(const char* value) {
  Environment env;
  if (value != nullptr) env.set("VMCTL_DNSMASQ_LEASES", value);
  return lease_files(QemuConfig::from_environment(env, std::nullopt).dnsmasq_leases);
}

TEST(LeaseFiles, DefaultsToTheUsualDnsmasqLocations) {
  EXPECT_THAT(lease_files_for(nullptr),
              ElementsAre("/var/lib/misc/dnsmasq.leases", "/var/lib/dnsmasq/dnsmasq.leases"));
}

TEST(LeaseFiles, EmptyVariableMeansTheDefaults) {
  EXPECT_THAT(lease_files_for(""), ElementsAre("/var/lib/misc/dnsmasq.leases", "/var/lib/dnsmasq/dnsmasq.leases"));
}

TEST(LeaseFiles, HonoursTheVariable) { EXPECT_THAT(lease_files_for("/run/my.leases"), ElementsAre("/run/my.leases")); }

TEST(LeaseFiles, VariableIsColonSeparatedAndSkipsEmptyParts) {
  EXPECT_THAT(lease_files_for(":/a/one.leases::/b/two.leases:"), ElementsAre("/a/one.leases", "/b/two.leases"));
}

TEST(LeaseFiles, TheProcessEnvironmentIsNotRead) {
  ::setenv("VMCTL_DNSMASQ_LEASES", "/from/the/process", 1);
  EXPECT_THAT(lease_files_for(nullptr),
              ElementsAre("/var/lib/misc/dnsmasq.leases", "/var/lib/dnsmasq/dnsmasq.leases"));
  ::unsetenv("VMCTL_DNSMASQ_LEASES");
}

}  // namespace
}  // namespace vm_manager::qemu
