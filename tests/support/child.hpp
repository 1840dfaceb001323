// A forked child process for tests of what happens across processes (locks,
// concurrent stores); killed (if still running) and reaped on destruction.
#pragma once

#include <signal.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

namespace vmctl::test {

class Child {
 public:
  // Runs `body` in a child process, which exits with what it returns (98 if
  // it throws). Only async-signal-safe work is sure to be safe in `body`
  // when the test has threads.
  template <typename F>
  explicit Child(F&& body) {
    pid_ = ::fork();
    if (pid_ < 0) throw std::runtime_error(std::strerror(errno));
    if (pid_ == 0) {
      int code = 99;
      try {
        code = body();
      } catch (...) {
        code = 98;
      }
      ::_exit(code);
    }
  }
  ~Child() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      wait();
    }
  }
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;

  pid_t pid() const { return pid_; }
  // The exit code, or -signal.
  int wait() {
    int status = 0;
    while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
    }
    pid_ = -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -WTERMSIG(status);
  }

 private:
  pid_t pid_ = -1;
};

}  // namespace vmctl::test
