// Data disks and restart with the tiny guest under TCG. The guest sees each
// data disk as a virtio disk whose serial is its name, of its size, linked
// as /dev/disk/by-id/virtio-NAME (tests/guest/init makes the links udev
// makes elsewhere); what it writes there survives a stop and start; destroy
// leaves nothing. restart and restart --hard each boot the guest again: its
// first console marker appears twice.
#include <filesystem>
#include <thread>

#include "os/files.hpp"
#include "vmctl/qemu_cli_fixture.hpp"

namespace vmctl::test {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

constexpr const char* kBootMarker = "TINY-GUEST: init started";

class DisksRestartCliTest : public QemuCliTest {
 protected:
  std::string console(const std::string& name) {
    return vm_manager::os::read_file(data_ / "vms" / name / "console.log").value_or("");
  }

  std::size_t boots(const std::string& name) {
    const std::string log = console(name);
    std::size_t n = 0;
    for (auto at = log.find(kBootMarker); at != std::string::npos; at = log.find(kBootMarker, at + 1)) ++n;
    return n;
  }

  // Waits for the guest's `count`th boot to be ready; the deadline only
  // catches a hang.
  bool wait_for_boots(const std::string& name, std::size_t count) {
    const std::string ready = "TINY-GUEST: ready";
    const auto deadline = std::chrono::steady_clock::now() + 240s;
    while (std::chrono::steady_clock::now() < deadline) {
      const std::string log = console(name);
      const auto last_boot = log.rfind(kBootMarker);
      if (boots(name) >= count && last_boot != std::string::npos && log.find(ready, last_boot) != std::string::npos) {
        return true;
      }
      std::this_thread::sleep_for(250ms);
    }
    return false;
  }

  // Runs a shell script as root in the guest; its stdout.
  std::string in_guest(const std::string& name, const std::string& script) {
    ProcessResult r = slow({"ssh", name, "--", "sudo", "-n", "sh", "-c", "'" + script + "'"});
    EXPECT_EQ(r.exit_code, 0) << script << "\n" << r.out << r.err;
    return r.out;
  }

  std::int64_t pid_of(const std::string& name) { return status(name).at("pid").get<std::int64_t>(); }
};

// What the guest sees of each disk with a serial: "vdX SERIAL SECTORS LINK".
constexpr const char* kListDisks =
    "for b in /sys/block/vd*; do s=$(cat $b/serial); [ -n \"$s\" ] || continue; "
    "echo ${b##*/} $s $(cat $b/size) $(readlink -f /dev/disk/by-id/virtio-$s); done";

TEST_F(DisksRestartCliTest, TheGuestSeesItsDataDisksWhichKeepTheirDataUntilDestroy) {
  std::vector<std::string> args = create_args("disks");
  args.insert(args.end(), {"--data-disk", "2G:scratch", "--data-disk", "1", "--start", "--wait", "--wait-timeout",
                           "240"});
  ProcessResult created = slow(args);
  ASSERT_EQ(created.exit_code, 0) << created.out << created.err << "\nconsole:\n" << console("disks");
  const fs::path work_dir = data_ / "vms" / "disks";
  EXPECT_TRUE(fs::is_regular_file(work_dir / "data-scratch.qcow2"));
  EXPECT_TRUE(fs::is_regular_file(work_dir / "data-data2.qcow2"));
  EXPECT_EQ(fs::status(work_dir / "data-scratch.qcow2").permissions() & (fs::perms::group_all | fs::perms::others_all),
            fs::perms::none);

  // After the root disk (vda) and the seed (vdb), in the order given.
  EXPECT_EQ(in_guest("disks", kListDisks), "vdc scratch 4194304 /dev/vdc\nvdd data2 2097152 /dev/vdd\n")
      << console("disks");

  in_guest("disks", "printf kept-across-boots | dd of=/dev/disk/by-id/virtio-scratch conv=fsync 2>/dev/null");
  ASSERT_EQ(slow({"stop", "disks"}).exit_code, 0);
  ASSERT_EQ(slow({"start", "disks", "--wait", "--wait-timeout", "240"}).exit_code, 0) << console("disks");
  EXPECT_EQ(in_guest("disks", "dd if=/dev/disk/by-id/virtio-scratch bs=17 count=1 2>/dev/null"), "kept-across-boots");

  ASSERT_EQ(slow({"destroy", "disks"}).exit_code, 0);
  EXPECT_FALSE(fs::exists(work_dir));
}

TEST_F(DisksRestartCliTest, RestartBootsTheGuestAgainGracefullyOrByReset) {
  std::vector<std::string> args = create_args("again");
  args.insert(args.end(), {"--start", "--wait", "--wait-timeout", "240"});
  ASSERT_EQ(slow(args).exit_code, 0) << console("again");
  ASSERT_EQ(boots("again"), 1u);

  // --hard: the same QEMU, the machine reset.
  const std::int64_t pid = pid_of("again");
  ProcessResult hard = slow({"restart", "again", "--hard"});
  ASSERT_EQ(hard.exit_code, 0) << hard.err;
  EXPECT_EQ(hard.out, "Reset VM 'again'\n");
  ASSERT_TRUE(wait_for_boots("again", 2)) << console("again");
  EXPECT_EQ(boots("again"), 2u) << console("again");
  EXPECT_EQ(pid_of("again"), pid) << "a reset keeps the QEMU process";
  EXPECT_EQ(console("again").find("TINY-GUEST: powering off"), std::string::npos) << "a reset shuts nothing down";

  // Without --hard: the guest powers off on ACPI, a new QEMU boots it.
  ProcessResult soft = slow({"restart", "again", "--timeout", "120"});
  ASSERT_EQ(soft.exit_code, 0) << soft.err;
  EXPECT_EQ(soft.out, "Restarted VM 'again'\n");
  ASSERT_TRUE(wait_for_boots("again", 3)) << console("again");
  EXPECT_EQ(boots("again"), 3u) << console("again");
  EXPECT_NE(console("again").find("TINY-GUEST: powering off"), std::string::npos) << console("again");
  EXPECT_NE(pid_of("again"), pid);
  EXPECT_EQ(state_of("again"), "running");

  // --hard needs a running VM: QEMU would reset a paused one and leave it paused.
  ok({"suspend", "again"});
  ProcessResult paused = vmctl({"restart", "again", "--hard"});
  EXPECT_EQ(paused.exit_code, 1);
  EXPECT_NE(paused.err.find("error[vm_manager::vm::invalid_state]"), std::string::npos) << paused.err;
  EXPECT_NE(paused.err.find("vmctl resume again"), std::string::npos) << paused.err;
  EXPECT_EQ(state_of("again"), "suspended");
  ok({"resume", "again"});
  ASSERT_EQ(slow({"stop", "again"}).exit_code, 0);
  ProcessResult stopped = vmctl({"restart", "again", "--hard"});
  EXPECT_EQ(stopped.exit_code, 1);
  EXPECT_NE(stopped.err.find("error[vm_manager::vm::invalid_state]"), std::string::npos) << stopped.err;
  EXPECT_EQ(state_of("again"), "stopped");
}

}  // namespace
}  // namespace vmctl::test
