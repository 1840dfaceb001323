// vmctl set on the noop backend, which records the new size: the CLI's
// parsing, messages, refusals and what status and the record show after.
// tests/vmctl/resize_qemu_cli_test.cpp shows a real guest seeing the size.
#include <fstream>

#include "vmctl/cli_fixture.hpp"

namespace vmctl::test {
namespace {

using nlohmann::json;

class SetCliTest : public VmctlTest {
 protected:
  // The spec vm.json keeps: what a VMFile's drift is measured against.
  json recorded_spec(const std::string& name) {
    std::ifstream in(data_.path() / "vms" / name / "vm.json");
    return json::parse(in).at("spec");
  }
};

TEST_F(SetCliTest, ChangesAStoppedVmForItsNextStart) {
  ok({"create", "--name", "web", "--backend", "noop", "--disk", "10"});
  EXPECT_EQ(ok({"set", "web", "--vcpus", "2", "--memory", "2048", "--disk", "20"}),
            "Resized VM 'web': vcpus 1 -> 2, memory 1024 MB -> 2048 MB, disk 10 GB -> 20 GB (from its next start)\n");
  json shown = status("web");
  EXPECT_EQ(shown.at("vcpus"), 2);
  EXPECT_EQ(shown.at("memory_mb"), 2048);
  EXPECT_EQ(shown.at("disk_gb"), 20);
  json spec = recorded_spec("web");
  EXPECT_EQ(spec.at("vcpus"), 2);
  EXPECT_EQ(spec.at("memory_mb"), 2048);
  EXPECT_EQ(spec.at("disk_gb"), 20);

  // Unset options stay; the same size again changes nothing.
  EXPECT_EQ(ok({"set", "web", "--memory", "512"}), "Resized VM 'web': memory 2048 MB -> 512 MB (from its next start)\n");
  EXPECT_EQ(ok({"set", "web", "--vcpus", "2", "--disk", "20"}), "VM 'web' already has that size\n");
  EXPECT_EQ(status("web").at("vcpus"), 2);

  ok({"start", "web"});
  ok({"stop", "web"});
  EXPECT_EQ(ok({"set", "web", "--disk", "30"}), "Resized VM 'web': disk 20 GB -> 30 GB (from its next start)\n");
  EXPECT_EQ(status("web").at("disk_gb"), 30);
}

TEST_F(SetCliTest, ADiskOfTheImagesSizeGrowsToAGivenSize) {
  ok({"create", "--name", "web", "--backend", "noop"});
  EXPECT_EQ(ok({"set", "web", "--disk", "8"}), "Resized VM 'web': disk image size -> 8 GB (from its next start)\n");
  EXPECT_EQ(status("web").at("disk_gb"), 8);
}

// A snapshot keeps the disk size it was taken at; restoring it brings that
// size back into status and the record's spec (qemu does the same to the
// disk itself: resize_qemu_cli_test.cpp).
TEST_F(SetCliTest, RestoringASnapshotFromBeforeAGrowBringsItsDiskSizeBack) {
  ok({"create", "--name", "web", "--backend", "noop", "--disk", "10"});
  ok({"snapshot", "create", "web", "small"});
  ok({"set", "web", "--disk", "20"});
  ok({"snapshot", "create", "web", "big"});
  json all = json::parse(ok({"snapshot", "list", "web", "--json"}));
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[0].at("disk_bytes"), 10ull << 30);
  EXPECT_EQ(all[1].at("disk_bytes"), 20ull << 30);
  ok({"snapshot", "restore", "web", "small"});
  EXPECT_EQ(status("web").at("disk_gb"), 10);
  EXPECT_EQ(recorded_spec("web").at("disk_gb"), 10);
  ok({"snapshot", "restore", "web", "big"});
  EXPECT_EQ(status("web").at("disk_gb"), 20);
  EXPECT_EQ(recorded_spec("web").at("disk_gb"), 20);
}

TEST_F(SetCliTest, ARunningOrSuspendedVmIsRefused) {
  ok({"create", "--name", "web", "--backend", "noop", "--start"});
  ProcessResult running = vmctl({"set", "web", "--vcpus", "2"});
  EXPECT_EQ(running.exit_code, 1);
  EXPECT_EQ(running.err,
            "error[vm_manager::resize::running]: cannot resize VM 'web': it is running; its size changes only while "
            "it is stopped\n"
            "  help: stop the VM, change its size, then start it again\n"
            "  try: stop it with 'vmctl stop web', then 'vmctl set web' again\n");
  ok({"suspend", "web"});
  EXPECT_EQ(vmctl({"set", "web", "--memory", "2048"}).exit_code, 1);
  EXPECT_EQ(status("web").at("vcpus"), 1);
  EXPECT_EQ(status("web").at("memory_mb"), 1024);
  EXPECT_EQ(recorded_spec("web").at("vcpus"), 1);
}

TEST_F(SetCliTest, AShrinkIsRefusedAndChangesNothing) {
  ok({"create", "--name", "web", "--backend", "noop", "--disk", "20"});
  ProcessResult shrink = vmctl({"set", "web", "--vcpus", "4", "--disk", "10"});
  EXPECT_EQ(shrink.exit_code, 1);
  EXPECT_EQ(shrink.err,
            "error[vm_manager::resize::shrink]: cannot shrink the disk of VM 'web' from 20 to 10 GB: a disk only "
            "grows\n"
            "  help: give at least 20 GB; for a smaller disk, create the VM again\n"
            "  try: pass a --disk at least that large; for a smaller disk, 'vmctl destroy web' and create it again\n");
  EXPECT_EQ(status("web").at("vcpus"), 1);
  EXPECT_EQ(status("web").at("disk_gb"), 20);
}

TEST_F(SetCliTest, CommandLineMistakesAreUsageErrors) {
  ok({"create", "--name", "web", "--backend", "noop"});
  ProcessResult none = vmctl({"set", "web"});
  EXPECT_EQ(none.exit_code, 2);
  EXPECT_NE(none.err.find("error[vmctl::usage]: vmctl set needs at least one of --vcpus, --memory, --disk"),
            std::string::npos)
      << none.err;
  for (const std::vector<std::string>& args : std::vector<std::vector<std::string>>{
           {"set", "web", "--vcpus", "0"},
           {"set", "web", "--memory", "8"},
           {"set", "web", "--disk", "0"},
           {"set", "web", "--disk", "20G"},
           {"set", "--vcpus", "2"}}) {
    ProcessResult r = vmctl(args);
    EXPECT_EQ(r.exit_code, 2) << join(args) << "\n" << r.err;
    EXPECT_NE(r.err.find("error[vmctl::usage]"), std::string::npos) << join(args) << "\n" << r.err;
  }
  ProcessResult missing = vmctl({"set", "nope", "--vcpus", "2"});
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_NE(missing.err.find("error[vm_manager::vm::not_found]"), std::string::npos) << missing.err;
}

}  // namespace
}  // namespace vmctl::test
