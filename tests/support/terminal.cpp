#include "support/terminal.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <thread>

#include <gtest/gtest.h>

namespace vmctl::test {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

Pipe::Pipe() {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) throw std::runtime_error("pipe2 failed");
  read_end = Fd(fds[0]);
  write_end = Fd(fds[1]);
}

Pty::Pty() {
  master = Fd(::posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC));
  if (master.get() < 0 || ::grantpt(master.get()) != 0 || ::unlockpt(master.get()) != 0) {
    throw std::runtime_error("no pseudo-terminal");
  }
  slave = Fd(::open(::ptsname(master.get()), O_RDWR | O_NOCTTY | O_CLOEXEC));
  if (slave.get() < 0) throw std::runtime_error("cannot open the pty slave");
}

termios Pty::settings() const {
  termios t{};
  ::tcgetattr(slave.get(), &t);
  return t;
}

bool Pty::is_raw() const { return (settings().c_lflag & (ICANON | ECHO | ISIG)) == 0; }

bool wait_for_raw(const Pty& pty) {
  Clock::time_point deadline = Clock::now() + 60s;
  while (!pty.is_raw() && Clock::now() < deadline) std::this_thread::sleep_for(5ms);
  return pty.is_raw();
}

void expect_same_settings(const termios& a, const termios& b) {
  EXPECT_EQ(a.c_iflag, b.c_iflag);
  EXPECT_EQ(a.c_oflag, b.c_oflag);
  EXPECT_EQ(a.c_cflag, b.c_cflag);
  EXPECT_EQ(a.c_lflag, b.c_lflag);
  EXPECT_EQ(0, std::memcmp(a.c_cc, b.c_cc, sizeof(a.c_cc)));
}

void write_all(int fd, const std::string& data) {
  std::size_t done = 0;
  while (done < data.size()) {
    ssize_t n = ::send(fd, data.data() + done, data.size() - done, MSG_NOSIGNAL);
    if (n < 0 && errno == ENOTSOCK) n = ::write(fd, data.data() + done, data.size() - done);
    if (n < 0 && errno == EINTR) continue;
    ASSERT_GT(n, 0) << std::strerror(errno);
    done += std::size_t(n);
  }
}

std::string read_fd_until(int fd, const std::string& expected, std::chrono::milliseconds timeout) {
  std::string got;
  Clock::time_point deadline = Clock::now() + timeout;
  while ((expected.empty() || got.find(expected) == std::string::npos) && Clock::now() < deadline) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 20) <= 0) continue;
    char buffer[4096];
    ssize_t n = ::read(fd, buffer, sizeof(buffer));
    if (n <= 0) break;  // EOF (or EIO from a pty whose other side closed)
    got.append(buffer, std::size_t(n));
  }
  return got;
}

Watchdog::Watchdog(unsigned seconds) {
  ::signal(SIGALRM, [](int) {
    const char message[] = "\ntest timed out (watchdog)\n";
    (void)!::write(STDERR_FILENO, message, sizeof(message) - 1);
    ::_exit(124);
  });
  ::alarm(seconds);
}

Watchdog::~Watchdog() { ::alarm(0); }

}  // namespace vmctl::test
