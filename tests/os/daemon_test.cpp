// os::start_daemon: a daemon that is not our child, with its output in a
// log, optionally in a mount namespace where one folder is read-only, in a
// user namespace, and with one descriptor of ours.
#include "os/daemon.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <thread>

#include "os/files.hpp"
#include "support/child.hpp"
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

// For an ordinary user: a user namespace where it is uid 0, whose files are
// the user's outside; the read-only folder still refuses writes there; and
// the one descriptor handed over stays open across exec.
TEST_F(DaemonTest, AUserNamespaceMapsRootToTheCallerAndKeepsTheHandedDescriptor) {
  ASSERT_EQ(user_namespace_error(), 0) << "user namespaces are disabled on this host";
  for (const fs::path& path : {dir_.path(), dir_ / "rw", dir_ / "ro"}) ASSERT_EQ(::chown(path.c_str(), 65534, 65534), 0);
  int pipe_fds[2];
  ASSERT_EQ(::pipe2(pipe_fds, O_CLOEXEC), 0);
  const fs::path ro = dir_ / "ro";
  const std::string script = "/usr/bin/id -u > " + (dir_ / "rw" / "uid").string() + "; echo no > " +
                             (ro / "new").string() + "; echo handed >&" + std::to_string(pipe_fds[1]);
  vmctl::test::Child child([&] {
    if (::setgid(65534) != 0 || ::setuid(65534) != 0) return 2;
    DaemonSpec spec{{"/bin/sh", "-c", script}, log_, ro.string()};
    spec.user_namespace = true;
    spec.inherited_fd = pipe_fds[1];
    try {
      start_daemon(spec);
    } catch (const Error& e) {
      std::fprintf(stderr, "%s\n", e.message().c_str());
      return 3;
    }
    return 0;
  });
  ASSERT_EQ(child.wait(), 0);
  ::close(pipe_fds[1]);
  std::string handed;
  char buffer[64];
  for (ssize_t n; (n = ::read(pipe_fds[0], buffer, sizeof buffer)) > 0;) handed.append(buffer, static_cast<std::size_t>(n));
  ::close(pipe_fds[0]);
  EXPECT_EQ(handed, "handed\n") << log();  // EOF: the daemon has exited
  EXPECT_EQ(read_file(dir_ / "rw" / "uid").value_or(""), "0\n") << log();
  struct stat st {};
  ASSERT_EQ(::stat((dir_ / "rw" / "uid").c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, 65534u);
  EXPECT_EQ(st.st_gid, 65534u);
  EXPECT_FALSE(fs::exists(ro / "new"));
  EXPECT_NE(log().find("Read-only file system"), std::string::npos) << log();
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
