// Shared folders with the tiny guest: its init mounts the seed's virtiofs
// mounts (tests/guest/init), so `vmctl create --mount` is seen end to end
// under TCG: one virtiofsd per folder while the VM runs and none after, what
// either side writes is seen by the other, a read-only folder refuses
// writes, and a start whose folder has gone fails before QEMU runs, leaving
// nothing behind. (The Debian e2e test does the same with cloud-init.)
#include <signal.h>
#include <sys/stat.h>

#include <fstream>
#include <set>
#include <sstream>
#include <thread>

#include "os/files.hpp"
#include "vmctl/qemu_cli_fixture.hpp"

namespace vmctl::test {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

class MountCliTest : public QemuCliTest {
 protected:
  std::string console(const std::string& name) {
    return vm_manager::os::read_file(data_ / "vms" / name / "console.log").value_or("");
  }
};

TEST_F(MountCliTest, FoldersAreSharedBothWaysAndReadOnlyOnesRefuseWrites) {
  const fs::path shared = data_ / "shared";
  const fs::path readonly = data_ / "readonly";
  fs::create_directories(shared);
  fs::create_directories(readonly);
  // The guest's login user (uid 1000) writes: virtiofsd keeps guest uids.
  fs::permissions(shared, fs::perms::all);
  fs::permissions(readonly, fs::perms::all);
  std::ofstream(shared / "from-host.txt") << "hello guest\n";
  std::ofstream(readonly / "kept.txt") << "read me\n";

  std::vector<std::string> args = create_args("box");
  args.insert(args.end(), {"--mount", shared.string() + ":/mnt/shared", "--mount", readonly.string() + ":/mnt/ro:ro",
                           "--start", "--wait", "--wait-timeout", "240"});
  ProcessResult created = slow(args);
  ASSERT_EQ(created.exit_code, 0) << created.out << created.err << "\nconsole:\n" << console("box");
  EXPECT_NE(console("box").find("TINY-GUEST: mount vmctl:0 /mnt/shared rw"), std::string::npos) << console("box");
  EXPECT_NE(console("box").find("TINY-GUEST: mount vmctl:1 /mnt/ro ro"), std::string::npos) << console("box");
  EXPECT_EQ(virtiofsd_sockets(data_.path()).size(), 2u);

  ProcessResult read = vmctl({"ssh", "box", "--", "cat", "/mnt/shared/from-host.txt", "/mnt/ro/kept.txt"});
  EXPECT_EQ(read.out, "hello guest\nread me\n") << read.err;
  ProcessResult wrote = vmctl({"ssh", "box", "--", "sh", "-c", "'echo hello host > /mnt/shared/from-guest.txt'"});
  EXPECT_EQ(wrote.exit_code, 0) << wrote.err;
  EXPECT_EQ(vm_manager::os::read_file(shared / "from-guest.txt").value_or(""), "hello host\n");
  struct stat st {};
  ASSERT_EQ(::stat((shared / "from-guest.txt").c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, 1000u) << "the guest user's uid, as QEMU 7.2's virtiofsd keeps it";

  ProcessResult refused = vmctl({"ssh", "box", "--", "sh", "-c", "'echo no > /mnt/ro/new.txt'"});
  EXPECT_NE(refused.exit_code, 0);
  EXPECT_NE(refused.err.find("Read-only file system"), std::string::npos) << refused.err;
  EXPECT_FALSE(fs::exists(readonly / "new.txt"));

  ASSERT_EQ(slow({"stop", "box"}).exit_code, 0);
  EXPECT_EQ(virtiofsd_sockets(data_.path()), std::set<std::string>{});

  // The folder is gone: start refuses before anything runs.
  fs::remove_all(readonly);
  ProcessResult restarted = slow({"start", "box"});
  EXPECT_EQ(restarted.exit_code, 1);
  EXPECT_NE(restarted.err.find("error[vm_manager::mount::host_dir_missing]"), std::string::npos) << restarted.err;
  EXPECT_EQ(virtiofsd_sockets(data_.path()), std::set<std::string>{});
  EXPECT_EQ(status("box").at("state"), "stopped");
}

// A QEMU that dies (SIGKILL: no clean-up of its own) takes its virtiofsd
// with it: each exits once its vhost-user connection closes.
TEST_F(MountCliTest, AVirtiofsdDoesNotOutliveACrashedQemu) {
  fs::create_directories(data_ / "shared");
  std::vector<std::string> args = create_args("crash");
  args.insert(args.end(), {"--mount", (data_ / "shared").string() + ":/mnt/shared", "--start"});
  ProcessResult created = slow(args);
  ASSERT_EQ(created.exit_code, 0) << created.out << created.err;
  ASSERT_EQ(virtiofsd_sockets(data_.path()).size(), 1u);
  const vm_manager::qemu::QemuVm qemu(vm_manager::VmStore(vm_manager::DataDir(data_.path())).load("crash").handle);
  ASSERT_TRUE(qemu.pid);
  ASSERT_EQ(::kill(static_cast<pid_t>(*qemu.pid), SIGKILL), 0);
  const auto deadline = std::chrono::steady_clock::now() + 60s;  // only against a hang
  while (!virtiofsd_sockets(data_.path()).empty() && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(50ms);
  }
  EXPECT_EQ(virtiofsd_sockets(data_.path()), std::set<std::string>{});
  EXPECT_EQ(status("crash").at("state"), "stopped");
}

}  // namespace
}  // namespace vmctl::test
