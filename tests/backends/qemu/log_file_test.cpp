// open_log: the logs QEMU writes are opened by vmctl, never through a
// symlink, a FIFO, a hard link or a file of someone else's.
#include "backends/qemu/log_file.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>

#include "backends/qemu/decoy.hpp"
#include "support/temp_dir.hpp"
#include "vm_manager/error.hpp"

namespace vm_manager::qemu {
namespace {

namespace fs = std::filesystem;
using vmctl::test::Decoy;
using vmctl::test::TempDir;

std::string content_of(const fs::path& file) {
  std::ifstream in(file);
  return std::string((std::istreambuf_iterator<char>(in)), {});
}

mode_t mode_of(const fs::path& file) {
  struct stat st {};
  ::lstat(file.c_str(), &st);
  return st.st_mode & 07777;
}

void write_all(int fd, std::string_view text) {
  ASSERT_EQ(::write(fd, text.data(), text.size()), static_cast<ssize_t>(text.size()));
}

std::string unsafe_error(const fs::path& path) {
  try {
    open_log(path);
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), errc::vm_unsafe_log) << e.message();
    EXPECT_NE(e.message().find(path.string()), std::string::npos) << e.message();
    EXPECT_FALSE(e.help().empty());
    return e.message();
  }
  ADD_FAILURE() << path << " was opened";
  return "";
}

TEST(OpenLog, CreatesAPrivateFileAndAppends) {
  TempDir dir;
  fs::path log = dir / "console.log";
  {
    os::UniqueFd fd = open_log(log);
    write_all(fd.get(), "one\n");
  }
  EXPECT_EQ(mode_of(log), 0600u);
  os::UniqueFd fd = open_log(log);
  write_all(fd.get(), "two\n");
  EXPECT_EQ(content_of(log), "one\ntwo\n");
  EXPECT_EQ(::fcntl(fd.get(), F_GETFL) & (O_ACCMODE | O_APPEND | O_NONBLOCK), O_WRONLY | O_APPEND)
      << "QEMU's fdset takes a write-only fd for a write-only open";
  EXPECT_NE(::fcntl(fd.get(), F_GETFD) & FD_CLOEXEC, 0);
}

TEST(OpenLog, AnExistingLogIsMadePrivate) {
  TempDir dir;
  fs::path log = dir / "console.log";
  std::ofstream(log) << "old\n";
  ::chmod(log.c_str(), 0644);
  open_log(log);
  EXPECT_EQ(mode_of(log), 0600u);
  EXPECT_EQ(content_of(log), "old\n");
}

TEST(OpenLog, ASymlinkIsRefusedAndItsTargetUntouched) {
  TempDir dir;
  TempDir elsewhere;
  Decoy decoy(elsewhere / "decoy");
  fs::create_symlink(decoy.path(), dir / "console.log");
  EXPECT_NE(unsafe_error(dir / "console.log").find("symbolic link"), std::string::npos);
  EXPECT_TRUE(decoy.untouched());
  // A dangling one would have created its target.
  fs::create_symlink(elsewhere / "created", dir / "qemu.log");
  unsafe_error(dir / "qemu.log");
  EXPECT_FALSE(fs::exists(elsewhere / "created"));
}

TEST(OpenLog, AFifoIsRefusedWithoutWaitingForAReader) {
  TempDir dir;
  ASSERT_EQ(::mkfifo((dir / "qemu.log").c_str(), 0600), 0);
  auto start = std::chrono::steady_clock::now();
  EXPECT_NE(unsafe_error(dir / "qemu.log").find("not a regular file"), std::string::npos);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(2));
  // With a reader, the open succeeds, and the file's type is what refuses it.
  int reader = ::open((dir / "qemu.log").c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  ASSERT_GE(reader, 0);
  EXPECT_NE(unsafe_error(dir / "qemu.log").find("not a regular file"), std::string::npos);
  ::close(reader);
}

TEST(OpenLog, AHardLinkIsRefusedAndItsOtherNameUntouched) {
  TempDir dir;
  Decoy decoy(dir / "elsewhere");  // a hard link needs the same file system
  fs::create_hard_link(decoy.path(), dir / "console.log");
  EXPECT_NE(unsafe_error(dir / "console.log").find("hard links"), std::string::npos);
  EXPECT_TRUE(decoy.untouched());
}

TEST(OpenLog, SomeoneElsesFileIsRefused) {
  if (::geteuid() != 0) GTEST_SKIP() << "giving a file to another user needs root (CI runs as root)";
  TempDir dir;
  fs::path log = dir / "console.log";
  std::ofstream(log) << "theirs\n";
  ::chmod(log.c_str(), 0644);
  ASSERT_EQ(::chown(log.c_str(), 65534, 65534), 0);
  EXPECT_NE(unsafe_error(log).find("uid 65534"), std::string::npos);
  EXPECT_EQ(mode_of(log), 0644u) << "refused, yet changed";
  EXPECT_EQ(content_of(log), "theirs\n");
}

TEST(ReadLogFrom, ReadsFromTheOffsetThroughTheFd) {
  TempDir dir;
  os::UniqueFd fd = open_log(dir / "qemu.log");
  write_all(fd.get(), "earlier run\n");
  off_t offset = log_size(fd.get());
  EXPECT_EQ(offset, 12);
  write_all(fd.get(), "qemu-system-x86_64: this run failed\n");
  EXPECT_EQ(read_log_from(fd.get(), offset), "qemu-system-x86_64: this run failed\n");
  EXPECT_EQ(read_log_from(fd.get(), 0), "earlier run\nqemu-system-x86_64: this run failed\n");
}

TEST(ReadLogFrom, ReadsAtMostTheLast64KiB) {
  TempDir dir;
  os::UniqueFd fd = open_log(dir / "qemu.log");
  write_all(fd.get(), std::string(200 * 1024, 'x') + "the end\n");
  std::string text = read_log_from(fd.get(), 0);
  EXPECT_EQ(text.size(), 64u * 1024);
  EXPECT_TRUE(text.ends_with("the end\n"));
}

}  // namespace
}  // namespace vm_manager::qemu
