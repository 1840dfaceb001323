// vmctl create --vnc and vmctl vnc on the noop backend (the qemu side is in
// qemu_vnc_cli_test.cpp).
#include <filesystem>
#include <fstream>

#include <gmock/gmock.h>

#include "vmctl/cli_fixture.hpp"

namespace vmctl::test {
namespace {

using ::testing::HasSubstr;

nlohmann::json saved_spec(const std::filesystem::path& data_dir, const std::string& name) {
  return nlohmann::json::parse(std::ifstream(data_dir / "vms" / name / "vm.json")).at("spec");
}

TEST_F(VmctlTest, CreateKeepsTheVncModeInTheRecordUnixByDefault) {
  ok({"create", "--name", "plain", "--backend", "noop"});
  ok({"create", "--name", "tcp", "--backend", "noop", "--vnc", "tcp"});
  ok({"create", "--name", "unix", "--backend", "noop", "--vnc", "unix"});
  EXPECT_EQ(saved_spec(data_.path(), "plain").at("vnc"), "unix");
  EXPECT_EQ(saved_spec(data_.path(), "tcp").at("vnc"), "tcp");
  EXPECT_EQ(saved_spec(data_.path(), "unix").at("vnc"), "unix");
}

TEST_F(VmctlTest, CreateRefusesAnUnknownVncMode) {
  ProcessResult r = vmctl({"create", "--name", "web", "--backend", "noop", "--vnc", "udp"});
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_THAT(r.err, HasSubstr("--vnc")) << r.err;
  EXPECT_FALSE(std::filesystem::exists(data_ / "vms" / "web"));
}

TEST_F(VmctlTest, VncOfAVmThatIsNotRunningSaysSoAndHowToStartIt) {
  ok({"create", "--name", "web", "--backend", "noop"});
  ProcessResult r = vmctl({"vnc", "web"});
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_EQ(r.out, "");
  EXPECT_EQ(r.err.rfind("error[vm_manager::vm::invalid_state]: ", 0), 0u) << r.err;
  EXPECT_THAT(r.err, HasSubstr("'vmctl start web'")) << r.err;

  ProcessResult missing = vmctl({"vnc", "nope"});
  EXPECT_EQ(missing.exit_code, 1) << missing.err;
  EXPECT_EQ(missing.err.rfind("error[vm_manager::vm::not_found]: ", 0), 0u) << missing.err;
}

TEST_F(VmctlTest, VncOfABackendWithoutOneIsConsoleUnavailable) {
  ok({"create", "--name", "web", "--backend", "noop", "--start"});
  ProcessResult r = vmctl({"vnc", "web", "--json"});
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_EQ(r.out, "");
  EXPECT_EQ(r.err.rfind("error[vm_manager::console::unavailable]: VM 'web' has no VNC console", 0), 0u) << r.err;
}

TEST_F(VmctlTest, StartingANoopVmPrintsNoVncPassword) {
  ok({"create", "--name", "web", "--backend", "noop", "--vnc", "tcp"});
  std::string out = ok({"start", "web"});
  EXPECT_EQ(out.find("password"), std::string::npos) << out;
}

}  // namespace
}  // namespace vmctl::test
