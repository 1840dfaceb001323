// File descriptors, pipes and pseudo-terminals for tests that play the
// user's side of a console, and a watchdog for tests that could hang.
#pragma once

#include <termios.h>

#include <chrono>
#include <string>

#include "os/unique_fd.hpp"

namespace vmctl::test {

// The library's own owned descriptor.
using Fd = vm_manager::os::UniqueFd;

struct Pipe {
  Pipe();
  Fd read_end;
  Fd write_end;
};

// A pseudo-terminal: the test types on the master; the code under test
// reads the slave.
struct Pty {
  Pty();
  termios settings() const;
  bool is_raw() const;
  Fd master;
  Fd slave;
};

// Waits for the pty to be put in raw mode (false after a minute: a hang).
bool wait_for_raw(const Pty& pty);
void expect_same_settings(const termios& a, const termios& b);

// Writes all of data (to a socket with MSG_NOSIGNAL: code under test that
// closed too early must fail the test, not kill it with SIGPIPE).
void write_all(int fd, const std::string& data);
// Reads until `expected` is contained in what arrived, EOF, or the timeout;
// an empty `expected` reads to EOF.
std::string read_fd_until(int fd, const std::string& expected,
                          std::chrono::milliseconds timeout = std::chrono::seconds(5));

// Ends the whole test binary if a test hangs, so ctest reports a failure
// instead of waiting forever. alarm() rather than a thread, so that tests
// which fork stay single-threaded.
class Watchdog {
 public:
  explicit Watchdog(unsigned seconds);
  ~Watchdog();
  Watchdog(const Watchdog&) = delete;
  Watchdog& operator=(const Watchdog&) = delete;
};

}  // namespace vmctl::test
