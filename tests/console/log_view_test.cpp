// show_log: the last lines of a console log, and following it as it grows,
// is truncated or replaced.
#include "console/log_view.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <exception>
#include <fstream>
#include <string>
#include <thread>

#include <gtest/gtest.h>

#include "support/temp_dir.hpp"
#include "support/terminal.hpp"
#include "vm_manager/error.hpp"

namespace vm_manager::console {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using vmctl::test::TempDir;
using vmctl::test::Watchdog;
namespace fs = std::filesystem;

class LogViewTest : public ::testing::Test {
 protected:
  fs::path log() const { return dir_ / "console.log"; }

  void write(const std::string& content, std::ios::openmode mode = std::ios::trunc) {
    std::ofstream out(log(), std::ios::binary | mode);
    out << content;
  }
  void append(const std::string& content) { write(content, std::ios::app); }

  // What show_log writes without following.
  std::string shown(std::optional<std::size_t> last_lines) {
    TempDir out_dir;
    fs::path out_path = out_dir / "out";
    int fd = ::open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    EXPECT_GE(fd, 0);
    LogViewOptions options;
    options.last_lines = last_lines;
    try {
      show_log(log(), fd, options);
    } catch (...) {
      ::close(fd);
      throw;
    }
    ::close(fd);
    std::ifstream in(out_path, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), {});
  }

  Watchdog watchdog_{30};
  TempDir dir_;
};

// Runs show_log with follow in a thread that writes into a pipe, and reads
// that pipe with timeouts.
class Follower {
 public:
  Follower(const fs::path& log, std::optional<std::size_t> last_lines = std::nullopt) {
    if (::pipe2(pipe_, O_CLOEXEC) != 0) throw std::runtime_error("pipe2 failed");
    LogViewOptions options;
    options.follow = true;
    options.last_lines = last_lines;
    options.poll_interval = 10ms;
    options.keep_following = [this] {
      ++polls_;
      return keep_.load();
    };
    thread_ = std::thread([this, log, options] {
      try {
        show_log(log, pipe_[1], options);
      } catch (...) {
        error_ = std::current_exception();
      }
      finished_at_ = Clock::now();
      done_ = true;
    });
  }
  Follower(const Follower&) = delete;
  Follower& operator=(const Follower&) = delete;
  ~Follower() {
    stop();
    ::close(pipe_[0]);
    ::close(pipe_[1]);
  }

  // Reads until `expected` has been received in total (or a minute passed) and
  // returns everything received so far.
  std::string read_until(const std::string& expected) {
    Clock::time_point deadline = Clock::now() + 60s;
    while (received_.find(expected) == std::string::npos && Clock::now() < deadline) {
      pollfd p{pipe_[0], POLLIN, 0};
      if (::poll(&p, 1, 50) <= 0) continue;
      char buffer[4096];
      ssize_t n = ::read(pipe_[0], buffer, sizeof(buffer));
      if (n > 0) received_.append(buffer, std::size_t(n));
    }
    return received_;
  }

  // Waits until keep_following was asked `count` times in all (false after
  // a minute: a hang).
  bool wait_for_polls(int count) {
    for (auto deadline = Clock::now() + 60s; polls_ < count; std::this_thread::sleep_for(1ms)) {
      if (Clock::now() > deadline) return false;
    }
    return true;
  }

  // Asks the follow to end and returns how long it took.
  Clock::duration stop() {
    Clock::time_point asked = Clock::now();
    keep_ = false;
    if (thread_.joinable()) thread_.join();
    return finished_at_ - asked;
  }

  int polls() const { return polls_; }
  std::exception_ptr error() const { return error_; }

 private:
  int pipe_[2] = {-1, -1};
  std::atomic<bool> keep_{true};
  std::atomic<bool> done_{false};
  std::atomic<int> polls_{0};
  Clock::time_point finished_at_{};
  std::exception_ptr error_;
  std::string received_;
  std::thread thread_;
};

std::string numbered_lines(int from, int to) {
  std::string out;
  for (int i = from; i < to; ++i) out += "line " + std::to_string(i) + "\n";
  return out;
}

// ---- last lines -------------------------------------------------------------

TEST_F(LogViewTest, LastLinesWithTrailingNewline) {
  write("one\ntwo\nthree\n");
  EXPECT_EQ(shown(2), "two\nthree\n");
  EXPECT_EQ(shown(1), "three\n");
}

TEST_F(LogViewTest, LastLinesWithoutTrailingNewline) {
  write("one\ntwo\nthree");
  EXPECT_EQ(shown(2), "two\nthree");
  EXPECT_EQ(shown(1), "three");
}

TEST_F(LogViewTest, MoreLinesThanTheFileHasShowsAll) {
  write("one\ntwo\n");
  EXPECT_EQ(shown(10), "one\ntwo\n");
  EXPECT_EQ(shown(2), "one\ntwo\n");
}

TEST_F(LogViewTest, ZeroLinesShowsNothing) {
  write("one\ntwo\n");
  EXPECT_EQ(shown(0), "");
}

TEST_F(LogViewTest, UnsetShowsEverything) {
  write("one\ntwo\nthree");
  EXPECT_EQ(shown(std::nullopt), "one\ntwo\nthree");
}

TEST_F(LogViewTest, EmptyFileShowsNothing) {
  write("");
  EXPECT_EQ(shown(3), "");
  EXPECT_EQ(shown(std::nullopt), "");
}

TEST_F(LogViewTest, EmptyLinesCount) {
  write("a\n\n\n");
  EXPECT_EQ(shown(2), "\n\n");
  EXPECT_EQ(shown(3), "a\n\n\n");
}

TEST_F(LogViewTest, BytesPassThroughUnchanged) {
  using namespace std::string_literals;
  std::string colourful = "\x1b[1;32mOK\x1b[0m\r\n\0raw\xff\n\0binary\n"s;
  write(colourful);
  EXPECT_EQ(shown(std::nullopt), colourful);
  EXPECT_EQ(shown(1), "\0binary\n"s);
}

TEST_F(LogViewTest, LinesLongerThanAReadBlock) {
  std::string long_line(200 * 1024, 'x');
  write("first\n" + long_line + "\n" + long_line + "y\nlast\n");
  EXPECT_EQ(shown(2), long_line + "y\nlast\n");
  EXPECT_EQ(shown(3), long_line + "\n" + long_line + "y\nlast\n");
}

TEST_F(LogViewTest, LastLinesOfALargeFileAreFoundFast) {
  {
    std::ofstream out(log(), std::ios::binary);
    std::string line(99, 'a');
    line += '\n';
    for (int i = 0; i < 200'000; ++i) out << line;  // 20 MB
    out << numbered_lines(0, 5);
  }
  Clock::time_point start = Clock::now();
  EXPECT_EQ(shown(5), numbered_lines(0, 5));
  EXPECT_LT(Clock::now() - start, 60s) << "only a hang takes this long; the test below proves reading from the end";
}

// A log far too big to read whole in the time allowed (1 TiB: minutes even
// from holes): only reading from the end passes. Sparse, so it costs no disk.
TEST_F(LogViewTest, LastLinesOfAHugeSparseFileReadOnlyTheEnd) {
  {
    int fd = ::open(log().c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    ASSERT_GE(fd, 0);
    bool sparse = ::ftruncate(fd, off_t(1) << 40) == 0;  // 1 TiB of holes
    ::close(fd);
    if (!sparse) GTEST_SKIP() << "the file system cannot hold a sparse 1 TiB file";
  }
  append(numbered_lines(0, 5));
  Clock::time_point start = Clock::now();
  EXPECT_EQ(shown(3), numbered_lines(2, 5));
  EXPECT_LT(Clock::now() - start, 30s);
}

TEST_F(LogViewTest, MissingFileIsNoLog) {
  try {
    shown(std::nullopt);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), errc::console_no_log);
    EXPECT_NE(e.message().find(log().string()), std::string::npos) << e.message();
    EXPECT_FALSE(e.help().empty());
  }
  EXPECT_THROW(shown(3), Error);
}

TEST_F(LogViewTest, AFolderIsNotALog) {
  fs::create_directory(log());
  try {
    shown(std::nullopt);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), errc::console_no_log);
  }
}

// ---- following --------------------------------------------------------------

TEST_F(LogViewTest, FollowShowsAppendedLinesInOrder) {
  write("boot\n");
  Follower follower(log());
  EXPECT_EQ(follower.read_until("boot\n"), "boot\n");
  std::thread writer([this] {
    for (int i = 0; i < 200; ++i) {
      append(numbered_lines(i, i + 1));
      if (i % 20 == 0) std::this_thread::sleep_for(5ms);
    }
  });
  writer.join();
  std::string expected = "boot\n" + numbered_lines(0, 200);
  EXPECT_EQ(follower.read_until(expected), expected);
  follower.stop();
  EXPECT_FALSE(follower.error());
}

TEST_F(LogViewTest, FollowStartsWithTheLastLines) {
  write(numbered_lines(0, 10));
  Follower follower(log(), 2);
  EXPECT_EQ(follower.read_until(numbered_lines(8, 10)), numbered_lines(8, 10));
  append("more\n");
  EXPECT_EQ(follower.read_until("more\n"), numbered_lines(8, 10) + "more\n");
}

TEST_F(LogViewTest, FollowStartsAgainAfterTruncation) {
  write(numbered_lines(0, 50));
  Follower follower(log());
  follower.read_until(numbered_lines(0, 50));
  write("");  // truncates, as a restarted VM's new log would
  // The follower looks at the truncated file (two polls later) before the
  // new output comes; the new output alone is shorter than the old, so it
  // must be found either way.
  ASSERT_TRUE(follower.wait_for_polls(follower.polls() + 2));
  append("after restart\n");
  std::string expected = numbered_lines(0, 50) + "after restart\n";
  EXPECT_EQ(follower.read_until(expected), expected);
}

TEST_F(LogViewTest, FollowSwitchesToAReplacedFile) {
  write("old\n");
  Follower follower(log());
  follower.read_until("old\n");
  fs::path fresh = dir_ / "console.log.new";
  std::ofstream(fresh) << "new one\n";
  fs::rename(fresh, log());
  EXPECT_EQ(follower.read_until("new one\n"), "old\nnew one\n");
  append("and more\n");
  EXPECT_EQ(follower.read_until("and more\n"), "old\nnew one\nand more\n");
}

TEST_F(LogViewTest, FollowWaitsForAMissingFile) {
  Follower follower(log());
  ASSERT_TRUE(follower.wait_for_polls(1)) << "the follower waits for the file, asking whether to go on";
  write("finally\n");
  EXPECT_EQ(follower.read_until("finally\n"), "finally\n");
  follower.stop();
  EXPECT_FALSE(follower.error()) << "a missing file is no error while following";
}

TEST_F(LogViewTest, KeepFollowingFalseEndsPromptly) {
  write("x\n");
  Follower follower(log());
  follower.read_until("x\n");
  // It ends at the next poll (10 ms); a minute is only a hang.
  EXPECT_LT(follower.stop(), 60s);
  EXPECT_FALSE(follower.error());
}

TEST_F(LogViewTest, KeepFollowingIsAskedRepeatedly) {
  write("x\n");
  Follower follower(log());
  EXPECT_TRUE(follower.wait_for_polls(3)) << follower.polls();
}

}  // namespace
}  // namespace vm_manager::console
