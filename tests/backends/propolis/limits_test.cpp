// What the Propolis backend checks before any tool runs: the VM's size
// against propolis-server's limits, its settings, and propolis-server and
// the bootrom as the zone will see them through propolis_dir.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>

#include "backends/propolis/config.hpp"
#include "backends/propolis/instance_spec.hpp"
#include "backends/propolis/zone_tools.hpp"
#include "support/temp_dir.hpp"
#include "vm_manager/error.hpp"

namespace vm_manager::propolis {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using Values = std::map<std::string, std::string, std::less<>>;

template <typename Fn>
Error expect_invalid(Fn fn) {
  try {
    fn();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), errc::spec_invalid) << e.message();
    EXPECT_FALSE(e.help().empty());
    EXPECT_EQ(e.message().find('\n'), std::string::npos);
    return e;
  }
  ADD_FAILURE() << "no error";
  return Error(errc::spec_invalid, "");
}

TEST(PropolisLimits, VcpusUpToBhyvesMaxcpuOrTheConfiguredLimit) {
  EXPECT_NO_THROW(check_board(1, 1024, kDefaultMaxVcpus));
  EXPECT_NO_THROW(check_board(32, 1024, kDefaultMaxVcpus));
  Error e = expect_invalid([] { check_board(33, 1024, kDefaultMaxVcpus); });
  EXPECT_EQ(e.message(), "vcpus must be between 1 and 32 for a Propolis VM, not 33");
  EXPECT_THAT(e.help(), HasSubstr("VMCTL_PROPOLIS_MAX_VCPUS"));
  expect_invalid([] { check_board(0, 1024, kDefaultMaxVcpus); });
  // An omicron-build server: 254, never more (Board.cpus is a u8, and
  // propolis' own MAXCPU for that build is 254).
  EXPECT_NO_THROW(check_board(254, 1024, kOmicronBuildMaxVcpus));
  expect_invalid([] { check_board(255, 1024, kOmicronBuildMaxVcpus); });
  expect_invalid([] { check_board(255, 1024, 1000); });
}

TEST(PropolisLimits, MemoryFitsBelowPropolisAddressSpace) {
  EXPECT_NO_THROW(check_board(1, 1, kDefaultMaxVcpus));
  // 4 GiB + (memory - 3 GiB) must leave dev64 at least a byte below 16 TiB.
  EXPECT_NO_THROW(check_board(1, 16ull * 1024 * 1024 - 1024 - 1, kDefaultMaxVcpus));
  Error e = expect_invalid([] { check_board(1, 16ull * 1024 * 1024 - 1024, kDefaultMaxVcpus); });
  EXPECT_THAT(e.message(), HasSubstr("memory must be between 1 and 16776191 MB"));
  expect_invalid([] { check_board(1, 0, kDefaultMaxVcpus); });
}

TEST(PropolisLimits, TheEnsureRequestChecksTheBoardToo) {
  InstanceParams p;
  p.id = "5a1e5c0d-6b1f-4c47-9e0f-1d2c3b4a5f60";
  p.disk_path = "/dev/zvol/rdsk/rpool/vms/web";
  p.memory_mb = 1024;
  p.vcpus = 33;
  expect_invalid([&] { make_ensure_request(p); });
  p.max_vcpus = 64;
  EXPECT_EQ(make_ensure_request(p)["init"]["value"]["spec"]["board"]["cpus"], 33);
}

TEST(PropolisConfigTest, BootromAndMaxVcpusComeFromTheEnvironment) {
  PropolisConfig defaults = PropolisConfig::from_environment(Environment(), std::nullopt);
  EXPECT_EQ(defaults.bootrom, "/opt/oxide/propolis-server/firmware/OVMF_CODE.fd");
  EXPECT_EQ(defaults.max_vcpus, 32u);
  PropolisConfig set = PropolisConfig::from_environment(
      Environment(Values{{"VMCTL_PROPOLIS_BOOTROM", "/opt/fw/OVMF.fd"}, {"VMCTL_PROPOLIS_MAX_VCPUS", "254"}}),
      std::nullopt);
  EXPECT_EQ(set.bootrom, "/opt/fw/OVMF.fd");
  EXPECT_EQ(set.max_vcpus, 254u);
  for (const char* bad : {"0", "255", "x", "32x"}) {
    Error e = expect_invalid(
        [&] { PropolisConfig::from_environment(Environment(Values{{"VMCTL_PROPOLIS_MAX_VCPUS", bad}}), std::nullopt); });
    EXPECT_THAT(e.message(), HasSubstr("VMCTL_PROPOLIS_MAX_VCPUS")) << bad;
  }
}

class PropolisFilesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    fs::create_directories(tmp_ / "propolis/bin");
    fs::create_directories(tmp_ / "propolis/firmware");
    std::ofstream(server()) << "#!/bin/sh\n";
    fs::permissions(server(), fs::perms::owner_all);
    std::ofstream(tmp_ / "propolis/firmware/OVMF_CODE.fd") << "rom";
  }

  fs::path server() const { return tmp_ / "propolis/bin/propolis-server"; }

  ZoneLayout layout() const {
    ZoneOptions o;
    o.snapshot = "base";
    o.physical_link = "net0";
    o.api_address = "10.0.0.5/8";
    o.propolis_dir = (tmp_ / "propolis").string();
    return make_zone_layout("web", "rpool", "debian", o);
  }

  vmctl::test::TempDir tmp_;
};

TEST_F(PropolisFilesTest, PathsUnderTheMountAreFoundInPropolisDir) {
  ZoneLayout l = layout();
  EXPECT_EQ(host_path_in_zone(l, "/opt/oxide/propolis-server/firmware/a.fd"), tmp_ / "propolis/firmware/a.fd");
  EXPECT_EQ(host_path_in_zone(l, "/opt/oxide/propolis-server"), tmp_ / "propolis");
  EXPECT_EQ(host_path_in_zone(l, "/opt/oxide/propolis-server/x/../bin/p"), tmp_ / "propolis/bin/p");
  EXPECT_EQ(host_path_in_zone(l, "/opt/oxide/propolis-server/../fw.fd"), std::nullopt);
  EXPECT_EQ(host_path_in_zone(l, "/opt/oxide/propolis-server-2/fw.fd"), std::nullopt);
  EXPECT_EQ(host_path_in_zone(l, "/opt/fw.fd"), std::nullopt);
  l.propolis_dir.clear();
  EXPECT_EQ(host_path_in_zone(l, "/opt/oxide/propolis-server/firmware/a.fd"), std::nullopt);
}

TEST_F(PropolisFilesTest, ServerAndBootromMustBeThere) {
  EXPECT_NO_THROW(check_propolis_files(layout()));

  fs::permissions(server(), fs::perms::owner_read | fs::perms::owner_write);
  Error e = expect_invalid([&] { check_propolis_files(layout()); });
  EXPECT_EQ(e.message(), "propolis-server /opt/oxide/propolis-server/bin/propolis-server would be missing in the "
                         "zone: " + server().string() + " is not an executable file on this host");
  fs::remove(server());
  fs::create_directories(server());  // a folder is no server either
  expect_invalid([&] { check_propolis_files(layout()); });
  fs::remove(server());
  std::ofstream(server()) << "#!/bin/sh\n";
  fs::permissions(server(), fs::perms::owner_all);

  ZoneLayout l = layout();
  l.bootrom = "/opt/oxide/propolis-server/firmware/OTHER.fd";
  e = expect_invalid([&] { check_propolis_files(l); });
  EXPECT_EQ(e.message(), "bootrom /opt/oxide/propolis-server/firmware/OTHER.fd would be missing in the zone: " +
                             (tmp_ / "propolis/firmware/OTHER.fd").string() + " is not a file on this host");
  EXPECT_THAT(e.help(), HasSubstr("VMCTL_PROPOLIS_BOOTROM"));
  // Outside the mount the bootrom is in the zone root, which the brand's
  // boot hook checks: nothing to look at from here.
  l.bootrom = "/usr/share/ovmf/OVMF_CODE.fd";
  EXPECT_NO_THROW(check_propolis_files(l));
  // Without propolis_dir, both are the zone root's business.
  l.propolis_dir.clear();
  fs::remove(server());
  EXPECT_NO_THROW(check_propolis_files(l));
}

}  // namespace
}  // namespace vm_manager::propolis
