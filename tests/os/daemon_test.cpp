// os::start_daemon: a daemon that is not our child, with its output in a
// log, optionally in a mount namespace where one folder is read-only.
#include "os/daemon.hpp"

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include "os/files.hpp"
#include "support/temp_dir.hpp"
#include "vm_manager/error.hpp"

namespace vm_manager::os {
namespace {
namespace fs = std::filesystem;
using namespace std::chrono_literals;

class DaemonTest : public ::testing::Test {
 protected:
  void SetUp() override {
    fs::create_directories(dir_ / "rw");
    fs::create_directories(dir_ / "ro");
    log_ = ::open((dir_ / "log").c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    ASSERT_GE(log_, 0);
  }
  void TearDown() override { ::close(log_); }

  // Waits (bounded, only against hangs) for the daemon's last file.
  bool appears(const fs::path& path) {
    auto deadline = std::chrono::steady_clock::now() + 30s;
    while (!fs::exists(path)) {
      if (std::chrono::steady_clock::now() > deadline) return false;
      std::this_thread::sleep_for(10ms);
    }
    return true;
  }

  std::string log() { return read_file(dir_ / "log").value_or(""); }

  vmctl::test::TempDir dir_;
  int log_ = -1;
};

TEST_F(DaemonTest, RunsDetachedWithItsOutputInTheLog) {
  const std::string done = (dir_ / "rw" / "done").string();
  pid_t pid = start_daemon({{"/bin/sh", "-c", "echo to the log; echo ok > " + done}, log_, std::nullopt});
  EXPECT_GT(pid, 0);
  ASSERT_TRUE(appears(done));
  int status = 0;
  EXPECT_EQ(::waitpid(pid, &status, WNOHANG), -1) << "the daemon is not our child";
  EXPECT_EQ(errno, ECHILD);
  std::this_thread::sleep_for(50ms);
  EXPECT_NE(log().find("to the log"), std::string::npos) << log();
}

// The folder is read-only for the daemon (the kernel says EROFS), while the
// rest of the file system, and the folder for everyone else, stays writable.
TEST_F(DaemonTest, AReadOnlyPathRefusesTheDaemonsWrites) {
  const fs::path ro = dir_ / "ro";
  const std::string script = "echo no > " + (ro / "new").string() + "; echo rw > " + (dir_ / "rw" / "a").string() +
                             "; echo done > " + (dir_ / "rw" / "done").string();
  start_daemon({{"/bin/sh", "-c", script}, log_, ro.string()});
  ASSERT_TRUE(appears(dir_ / "rw" / "done")) << log();
  EXPECT_FALSE(fs::exists(ro / "new"));
  EXPECT_NE(log().find("Read-only file system"), std::string::npos) << log();
  EXPECT_EQ(read_file(dir_ / "rw" / "a").value_or(""), "rw\n");
  std::ofstream(ro / "ours") << "we still write here\n";
  EXPECT_TRUE(fs::exists(ro / "ours"));
}

TEST_F(DaemonTest, AProgramThatCannotRunIsAnError) {
  try {
    start_daemon({{(dir_ / "no-such-program").string()}, log_, std::nullopt});
    ADD_FAILURE() << "started a missing program";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), errc::process_spawn_failed);
    EXPECT_NE(e.message().find("no-such-program"), std::string::npos) << e.message();
    EXPECT_NE(e.message().find("No such file"), std::string::npos) << e.message();
  }
  EXPECT_THROW(start_daemon({{"relative/program"}, log_, std::nullopt}), Error);
}

}  // namespace
}  // namespace vm_manager::os
