// attach_unix_console against a fake console: a unix socket the test itself
// serves, with pipes or a pseudo-terminal as the user's side.
#include "console/attach.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <future>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>

#include <gtest/gtest.h>

#include "support/temp_dir.hpp"
#include "support/terminal.hpp"
#include "vm_manager/error.hpp"

namespace vm_manager::console {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using vmctl::test::expect_same_settings;
using vmctl::test::Fd;
using vmctl::test::Pipe;
using vmctl::test::Pty;
using vmctl::test::read_fd_until;
using vmctl::test::TempDir;
using vmctl::test::wait_for_raw;
using vmctl::test::Watchdog;
using vmctl::test::write_all;
namespace fs = std::filesystem;

std::string read_to_eof(int fd) { return read_fd_until(fd, "", 5s); }

// The fake console: a listening unix socket whose one client is the attach.
class FakeConsole {
 public:
  explicit FakeConsole(fs::path path) : path_(std::move(path)) {
    listener_ = Fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::string bind_path = path_.string();
    Fd folder;
    if (bind_path.size() >= sizeof(addr.sun_path)) {  // bind deep paths relative to their folder
      folder = Fd(::open(path_.parent_path().c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
      bind_path = "/proc/self/fd/" + std::to_string(folder.get()) + "/" + path_.filename().string();
    }
    std::memcpy(addr.sun_path, bind_path.data(), bind_path.size());
    if (::bind(listener_.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
        ::listen(listener_.get(), 1) != 0) {
      throw std::runtime_error("cannot listen on " + path_.string() + ": " + std::strerror(errno));
    }
  }

  const fs::path& path() const { return path_; }

  // The attach's connection; -1 when it does not come within 5 s.
  int client() {
    if (client_.get() >= 0) return client_.get();
    pollfd p{listener_.get(), POLLIN, 0};
    if (::poll(&p, 1, 5000) == 1) client_ = Fd(::accept4(listener_.get(), nullptr, nullptr, SOCK_CLOEXEC));
    return client_.get();
  }

  void close_client() { client_.reset(); }

 private:
  fs::path path_;
  Fd listener_;
  Fd client_;
};

// Runs the attach in a thread; result() waits at most 5 s for its end.
class Attach {
 public:
  Attach(FakeConsole& console, int in_fd, int out_fd, AttachOptions options = {})
      : console_(console),
        future_(std::async(std::launch::async, [socket = console.path(), in_fd, out_fd, options] {
          return attach_unix_console(socket, in_fd, out_fd, options);
        })) {}
  Attach(const Attach&) = delete;
  Attach& operator=(const Attach&) = delete;
  // A test that failed half-way leaves the attach running: hang up on it, so
  // the test ends with its failure instead of waiting for the watchdog.
  ~Attach() {
    if (future_.valid() && !ended_within(0ms)) hang_up();
  }

  bool ended_within(std::chrono::milliseconds timeout) {
    return future_.wait_for(timeout) == std::future_status::ready;
  }
  AttachEnd result() {
    if (!ended_within(60s)) {
      ADD_FAILURE() << "attach did not end";
      hang_up();
    }
    return future_.get();  // a hang here is caught by the watchdog
  }

 private:
  void hang_up() {
    if (console_.client() >= 0) console_.close_client();
  }

  FakeConsole& console_;
  std::future<AttachEnd> future_;
};

class AttachTest : public ::testing::Test {
 protected:
  Watchdog watchdog_{30};
  TempDir dir_;
  FakeConsole console_{dir_ / "console.sock"};
};

// ---- with pipes --------------------------------------------------------------

TEST_F(AttachTest, RelaysBothWays) {
  Pipe in, out;
  Attach attach(console_, in.read_end.get(), out.write_end.get());
  ASSERT_GE(console_.client(), 0);
  write_all(in.write_end.get(), "uname -a\n");
  EXPECT_EQ(read_fd_until(console_.client(), "uname -a\n"), "uname -a\n");
  write_all(console_.client(), "Linux guest\r\n");
  EXPECT_EQ(read_fd_until(out.read_end.get(), "Linux guest\r\n"), "Linux guest\r\n");
  write_all(in.write_end.get(), std::string(1, char(kDetachKey)));
  EXPECT_EQ(attach.result(), AttachEnd::detached);
}

TEST_F(AttachTest, CtrlBracketDetachesAndIsNotForwarded) {
  Pipe in, out;
  Attach attach(console_, in.read_end.get(), out.write_end.get());
  ASSERT_GE(console_.client(), 0);
  // In one write, so the detach key arrives in the same read as the bytes
  // around it: those before it still go out, those after it do not.
  write_all(in.write_end.get(), "ab" + std::string(1, char(kDetachKey)) + "cd");
  EXPECT_EQ(attach.result(), AttachEnd::detached);
  EXPECT_EQ(read_to_eof(console_.client()), "ab") << "the attach closes its socket when it ends";
}

TEST_F(AttachTest, BinaryBytesPassUnchanged) {
  Pipe in, out;
  Attach attach(console_, in.read_end.get(), out.write_end.get());
  ASSERT_GE(console_.client(), 0);
  std::string all_but_detach;
  for (int c = 0; c < 256; ++c) {
    if (c != kDetachKey) all_but_detach += char(c);
  }
  write_all(in.write_end.get(), all_but_detach);
  EXPECT_EQ(read_fd_until(console_.client(), all_but_detach), all_but_detach);
  std::string from_guest = "\x1b[2J\x1b[H" + std::string(1, '\0') + "\x1d\xff";
  write_all(console_.client(), from_guest);
  EXPECT_EQ(read_fd_until(out.read_end.get(), from_guest), from_guest) << "Ctrl-] from the guest is just output";
  write_all(in.write_end.get(), "\x1d");
  EXPECT_EQ(attach.result(), AttachEnd::detached);
}

TEST_F(AttachTest, LargeOutputArrivesWhole) {
  Pipe in, out;
  Attach attach(console_, in.read_end.get(), out.write_end.get());
  ASSERT_GE(console_.client(), 0);
  std::string big;
  for (int i = 0; big.size() < 1'000'000; ++i) big += "dmesg line " + std::to_string(i) + "\r\n";
  std::thread guest([&] { write_all(console_.client(), big); });
  EXPECT_EQ(read_fd_until(out.read_end.get(), big, 10s).size(), big.size());
  guest.join();
  write_all(in.write_end.get(), "\x1d");
  EXPECT_EQ(attach.result(), AttachEnd::detached);
}

TEST_F(AttachTest, ConsoleClosingEndsTheAttach) {
  Pipe in, out;
  Attach attach(console_, in.read_end.get(), out.write_end.get());
  ASSERT_GE(console_.client(), 0);
  write_all(console_.client(), "reboot: Power down\r\n");
  console_.close_client();
  EXPECT_EQ(attach.result(), AttachEnd::console_closed);
  out.write_end.reset();
  EXPECT_EQ(read_to_eof(out.read_end.get()), "reboot: Power down\r\n") << "output before the close is kept";
}

// The quiet period is long here, so that no delay of a loaded machine
// between the line and the reply can end the attach before the reply.
TEST_F(AttachTest, PipedInputWaitsBrieflyForTheReply) {
  Pipe in, out;
  AttachOptions options;
  options.eof_quiet_period = 3s;
  options.eof_max_wait = 1h;
  Attach attach(console_, in.read_end.get(), out.write_end.get(), options);
  ASSERT_GE(console_.client(), 0);
  write_all(in.write_end.get(), "hostname\n");
  in.write_end.reset();  // EOF: the script is done
  EXPECT_EQ(read_fd_until(console_.client(), "hostname\n"), "hostname\n");
  write_all(console_.client(), "guest-1\r\n");
  EXPECT_EQ(attach.result(), AttachEnd::input_closed);
  out.write_end.reset();
  EXPECT_EQ(read_to_eof(out.read_end.get()), "guest-1\r\n");
}

// With no maximum wait to speak of, only the quiet period can end it.
TEST_F(AttachTest, PipedInputEndsOnceTheConsoleIsQuiet) {
  Pipe in, out;
  AttachOptions options;
  options.eof_max_wait = 1h;
  Attach attach(console_, in.read_end.get(), out.write_end.get(), options);
  ASSERT_GE(console_.client(), 0);
  in.write_end.reset();
  EXPECT_EQ(attach.result(), AttachEnd::input_closed);
}

TEST_F(AttachTest, PipedInputEndsEvenWhileTheConsoleKeepsTalking) {
  Pipe in, out;
  Attach attach(console_, in.read_end.get(), out.write_end.get());
  ASSERT_GE(console_.client(), 0);
  std::atomic<bool> talking{true};
  std::thread chatty([&] {
    while (talking) {
      if (::send(console_.client(), "tick\n", 5, MSG_NOSIGNAL) < 0) break;
      std::this_thread::sleep_for(20ms);
    }
  });
  std::thread drain([&] { read_to_eof(out.read_end.get()); });
  in.write_end.reset();
  EXPECT_TRUE(attach.ended_within(60s)) << "the grace period after EOF has an upper bound";
  EXPECT_EQ(attach.result(), AttachEnd::input_closed);
  talking = false;
  chatty.join();
  out.write_end.reset();
  drain.join();
}

TEST_F(AttachTest, AttachesThroughASocketPathLongerThanSunPath) {
  fs::path deep = dir_.path();
  while (deep.string().size() < 150) deep /= "a-rather-long-folder-name";
  fs::create_directories(deep);
  FakeConsole console(deep / "console.sock");
  Pipe in, out;
  Attach attach(console, in.read_end.get(), out.write_end.get());
  ASSERT_GE(console.client(), 0);
  write_all(in.write_end.get(), "hi\x1d");
  EXPECT_EQ(attach.result(), AttachEnd::detached);
  EXPECT_EQ(read_to_eof(console.client()), "hi");
}

TEST_F(AttachTest, OnConnectedIsCalledOnceAfterConnecting) {
  Pipe in, out;
  int calls = 0;
  AttachOptions options;
  options.on_connected = [&] { ++calls; };
  write_all(in.write_end.get(), "x\x1d");
  EXPECT_EQ(attach_unix_console(console_.path(), in.read_end.get(), out.write_end.get(), options),
            AttachEnd::detached);
  EXPECT_EQ(calls, 1);
  EXPECT_THROW(attach_unix_console(dir_ / "missing.sock", in.read_end.get(), out.write_end.get(), options), Error);
  EXPECT_EQ(calls, 1) << "not called when the connect fails";
}

TEST_F(AttachTest, ClosedInputCountsAsEndOfInput) {
  Pipe out;
  int closed_fd = 1000;  // high, so no fd the attach opens can take the number
  ASSERT_EQ(::fcntl(closed_fd, F_GETFD), -1);
  Attach attach(console_, closed_fd, out.write_end.get());
  ASSERT_GE(console_.client(), 0);
  EXPECT_EQ(attach.result(), AttachEnd::input_closed);
}

// ---- failures --------------------------------------------------------------

void expect_unavailable(const fs::path& socket) {
  Pipe in, out;
  try {
    attach_unix_console(socket, in.read_end.get(), out.write_end.get());
    ADD_FAILURE() << "expected console::unavailable";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), errc::console_unavailable);
    EXPECT_NE(e.message().find(socket.string()), std::string::npos) << e.message();
    EXPECT_FALSE(e.help().empty());
  }
}

TEST_F(AttachTest, MissingSocketIsUnavailable) {
  expect_unavailable(dir_ / "no-such.sock");
  expect_unavailable(dir_ / "no-such-folder" / std::string(120, 'x') / "console.sock");
}

TEST_F(AttachTest, SocketWithoutListenerIsUnavailable) {
  fs::path stale = dir_ / "stale.sock";
  { FakeConsole gone(stale); }  // the socket file stays; nobody listens
  ASSERT_TRUE(fs::exists(stale));
  try {
    Pipe in, out;
    attach_unix_console(stale, in.read_end.get(), out.write_end.get());
    ADD_FAILURE() << "expected console::unavailable";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), errc::console_unavailable);
    EXPECT_NE(e.message().find(std::strerror(ECONNREFUSED)), std::string::npos) << e.message();
  }
}

// ---- with a terminal -------------------------------------------------------

TEST_F(AttachTest, TerminalIsRawWhileAttachedAndRestoredAfter) {
  Pty pty;
  termios before = pty.settings();
  ASSERT_NE(before.c_lflag & ICANON, 0u) << "a fresh pty starts in canonical mode";
  Pipe out;
  Attach attach(console_, pty.slave.get(), out.write_end.get());
  ASSERT_GE(console_.client(), 0);
  ASSERT_TRUE(wait_for_raw(pty));
  EXPECT_EQ(pty.settings().c_oflag, before.c_oflag) << "output processing is kept";
  // Raw: no line buffering (no newline needed), and Ctrl-C is a byte for the guest.
  write_all(pty.master.get(), "ab\x03");
  EXPECT_EQ(read_fd_until(console_.client(), "ab\x03"), "ab\x03");
  write_all(pty.master.get(), "\x1d");
  EXPECT_EQ(attach.result(), AttachEnd::detached);
  expect_same_settings(pty.settings(), before);
}

TEST_F(AttachTest, TerminalIsRestoredWhenTheConsoleCloses) {
  Pty pty;
  termios before = pty.settings();
  Pipe out;
  Attach attach(console_, pty.slave.get(), out.write_end.get());
  ASSERT_GE(console_.client(), 0);
  ASSERT_TRUE(wait_for_raw(pty));
  console_.close_client();
  EXPECT_EQ(attach.result(), AttachEnd::console_closed);
  expect_same_settings(pty.settings(), before);
}

TEST_F(AttachTest, TerminalIsRestoredWhenAttachFails) {
  Pty pty;
  termios before = pty.settings();
  Pipe out;
  struct sigaction ignore {}, previous {};
  ignore.sa_handler = SIG_IGN;
  ::sigaction(SIGPIPE, &ignore, &previous);
  Attach attach(console_, pty.slave.get(), out.write_end.get());
  ASSERT_GE(console_.client(), 0);
  ASSERT_TRUE(wait_for_raw(pty));
  out.read_end.reset();  // nobody reads the output any more: writing it fails
  write_all(console_.client(), "output nobody reads\r\n");
  ASSERT_TRUE(attach.ended_within(60s));
  try {
    attach.result();
    ADD_FAILURE() << "expected an error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), errc::console_unavailable);
  }
  expect_same_settings(pty.settings(), before);
  ::sigaction(SIGPIPE, &previous, nullptr);
}

// The child's wait status; a child still alive after a minute is killed (and
// reported as such) rather than hanging the test.
int wait_or_kill(pid_t child) {
  int status = 0;
  Clock::time_point deadline = Clock::now() + 60s;
  while (::waitpid(child, &status, WNOHANG) == 0) {
    if (Clock::now() > deadline) {
      ADD_FAILURE() << "the child survived the signal";
      ::kill(child, SIGKILL);
      ::waitpid(child, &status, 0);
      break;
    }
    std::this_thread::sleep_for(5ms);
  }
  return status;
}

// A signal that ends vmctl mid-attach must not leave the terminal raw. The
// attach runs in a forked child (the signal kills it); the pty's settings
// outlive it, so the parent can check them.
class AttachSignalTest : public AttachTest, public ::testing::WithParamInterface<int> {};

TEST_P(AttachSignalTest, TerminalIsRestoredWhenASignalEndsTheProcess) {
  Pty pty;
  termios before = pty.settings();
  Pipe out;
  pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);  // never outlive a test that died
    // Shells start background jobs with SIGINT ignored, and an ignored signal
    // rightly stays ignored; the case under test is a terminal's vmctl.
    ::signal(GetParam(), SIG_DFL);
    try {
      attach_unix_console(console_.path(), pty.slave.get(), out.write_end.get());
    } catch (...) {
    }
    ::_exit(3);  // the attach ended by itself: not what the test expects
  }
  bool raw = wait_for_raw(pty);
  ::kill(child, GetParam());
  int status = wait_or_kill(child);
  EXPECT_TRUE(raw);
  ASSERT_TRUE(WIFSIGNALED(status)) << "status " << status;
  EXPECT_EQ(WTERMSIG(status), GetParam()) << "the signal's default action still ends the process";
  expect_same_settings(pty.settings(), before);
}

INSTANTIATE_TEST_SUITE_P(Signals, AttachSignalTest, ::testing::Values(SIGINT, SIGTERM, SIGHUP),
                         [](const ::testing::TestParamInfo<int>& row) {
                           return std::string(sigabbrev_np(row.param));
                         });

}  // namespace
}  // namespace vm_manager::console
