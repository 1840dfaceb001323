#include "os/files.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <thread>

#include "support/child.hpp"
#include "support/error_from.hpp"
#include "support/temp_dir.hpp"
#include "vm_manager/error.hpp"

namespace vm_manager::os {
namespace {

using namespace std::chrono_literals;
using vmctl::test::Child;
using vmctl::test::error_from;
using vmctl::test::TempDir;

constexpr std::size_t kLimit = 4096;

void write(const std::filesystem::path& path, const std::string& data) {
  std::ofstream(path, std::ios::binary) << data;
}

// The child's exit code, or -1 when it has not finished within `limit`
// (the Child's destructor then kills it).
int exit_code_within(Child& child, std::chrono::milliseconds limit) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < deadline) {
    int status = 0;
    if (::waitpid(child.pid(), &status, WNOHANG) == child.pid()) return WIFEXITED(status) ? WEXITSTATUS(status) : -2;
    std::this_thread::sleep_for(10ms);
  }
  return -1;
}

TEST(ReadRegularFile, ReadsAWholeFile) {
  TempDir dir;
  write(dir / "f", std::string("a\0b", 3));
  EXPECT_EQ(read_regular_file(dir / "f", kLimit, "file"), std::string("a\0b", 3));
  write(dir / "empty", "");
  EXPECT_EQ(read_regular_file(dir / "empty", kLimit, "file"), "");
}

TEST(ReadRegularFile, ExactlyTheLimitIsReadOneMoreIsRefused) {
  TempDir dir;
  write(dir / "max", std::string(kLimit, 'x'));
  EXPECT_EQ(read_regular_file(dir / "max", kLimit, "file").size(), kLimit);
  write(dir / "over", std::string(kLimit + 1, 'x'));
  Error e = error_from([&] { read_regular_file(dir / "over", kLimit, "user-data"); });
  EXPECT_EQ(e.code(), errc::input_too_large);
  EXPECT_EQ(e.message(), "user-data " + (dir / "over").string() + " is larger than 4 KiB");
  EXPECT_EQ(e.help(), "keep it to 4 KiB at most");
}

// A sparse file of 1 TiB costs no disk; reading it would exhaust memory.
// fstat refuses it before anything is read.
TEST(ReadRegularFile, HugeSparseFileIsRefusedBeforeReading) {
  TempDir dir;
  {
    std::ofstream(dir / "sparse").close();
  }
  std::filesystem::resize_file(dir / "sparse", 1ull << 40);
  const auto started = std::chrono::steady_clock::now();
  EXPECT_EQ(error_from([&] { read_regular_file(dir / "sparse", kLimit, "file"); }).code(), errc::input_too_large);
  EXPECT_LT(std::chrono::steady_clock::now() - started, 60s) << "reading 1 TiB would take far longer";
}

// A FIFO with no writer would block open() and read() forever; the reader
// must come back at once with an error. It runs in a child so that a hang
// fails the test instead of stalling it.
TEST(ReadRegularFile, FifoReturnsPromptlyWithAnError) {
  TempDir dir;
  ASSERT_EQ(::mkfifo((dir / "fifo").c_str(), 0600), 0);
  Child reader([&] {
    try {
      read_regular_file(dir / "fifo", kLimit, "file");
      return 1;
    } catch (const Error& e) {
      return e.code() == errc::input_not_regular && e.message().ends_with("is a FIFO") ? 0 : 2;
    }
  });
  EXPECT_EQ(exit_code_within(reader, 5s), 0);
}

// /dev/zero never ends; it is refused by its type, before any read.
TEST(ReadRegularFile, DevZeroIsRefused) {
  Error e = error_from([] { read_regular_file("/dev/zero", kLimit, "user-data"); });
  EXPECT_EQ(e.code(), errc::input_not_regular);
  EXPECT_EQ(e.message(), "user-data /dev/zero is a character device");
  EXPECT_EQ(e.help(), "give the path of a regular file");
}

TEST(ReadRegularFile, FolderAndMissingFileAreRefused) {
  TempDir dir;
  EXPECT_EQ(error_from([&] { read_regular_file(dir.path(), kLimit, "file"); }).code(), errc::input_not_regular);
  Error missing = error_from([&] { read_regular_file(dir / "missing", kLimit, "key"); });
  EXPECT_EQ(missing.code(), errc::input_not_found);
  EXPECT_EQ(missing.message(), "key " + (dir / "missing").string() + " does not exist");
}

// A symlink to a regular file is followed (users link their configs); one
// to a FIFO is refused like the FIFO.
TEST(ReadRegularFile, SymlinksAreJudgedByTheirTarget) {
  TempDir dir;
  write(dir / "real", "data");
  std::filesystem::create_symlink(dir / "real", dir / "link");
  EXPECT_EQ(read_regular_file(dir / "link", kLimit, "file"), "data");
  std::filesystem::create_symlink("/dev/zero", dir / "zero");
  EXPECT_EQ(error_from([&] { read_regular_file(dir / "zero", kLimit, "file"); }).code(), errc::input_not_regular);
}

}  // namespace
}  // namespace vm_manager::os
