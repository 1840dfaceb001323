// Running programs from tests: argv vectors through posix_spawn, with
// stdout and stderr captured concurrently (no deadlock on full pipes).
#pragma once

#include <sys/types.h>

#include <chrono>
#include <map>
#include <string>
#include <vector>

namespace vmctl::test {

struct ProcessResult {
  int exit_code = -1;  // -1 when killed by a signal
  int signal = 0;
  std::string out;
  std::string err;
};

struct ProcessOptions {
  std::map<std::string, std::string> env;  // added to (or replacing in) the test's environment
  std::chrono::milliseconds timeout = std::chrono::seconds(60);
  std::string stdin_path = "/dev/null";  // a file the child reads as its input
  std::string cwd = {};                   // the child's working folder; empty: the test's
  std::string stderr_path = {};           // a file (a terminal) for the child's stderr; empty: captured
};

// Runs argv to completion (killing it at the timeout) and returns what it printed.
ProcessResult run_process(const std::vector<std::string>& argv, const ProcessOptions& options = {});

// A process started in the background; finish() waits for it and collects its output.
class RunningProcess {
 public:
  RunningProcess(const std::vector<std::string>& argv, const ProcessOptions& options = {});
  RunningProcess(RunningProcess&& other) noexcept;
  RunningProcess(const RunningProcess&) = delete;
  RunningProcess& operator=(const RunningProcess&) = delete;
  RunningProcess& operator=(RunningProcess&&) = delete;
  ~RunningProcess();  // kills and reaps a process that was never finished

  pid_t pid() const { return pid_; }
  ProcessResult finish();

  enum class Stream { out, err };
  // Reads the child's output until `stream` holds `text`: the event a test
  // waits for ("it printed that it waits", "it showed the new line"). What
  // was read stays part of finish()'s result. False when the child closed
  // the stream first or `limit` passed (a hang).
  bool wait_for_output(Stream stream, const std::string& text,
                       std::chrono::milliseconds limit = std::chrono::seconds(60));
  const std::string& output(Stream stream) const { return stream == Stream::out ? out_ : err_; }

 private:
  // Reads whatever arrives within `wait_ms` (once); false when both streams are closed.
  bool read_some(int wait_ms);

  pid_t pid_ = -1;
  int out_fd_ = -1;
  int err_fd_ = -1;
  std::string out_;
  std::string err_;
  std::chrono::steady_clock::time_point deadline_;
};

// Runs the vmctl binary under test with --data-dir prepended.
ProcessResult run_vmctl(const std::string& data_dir, const std::vector<std::string>& args,
                        const ProcessOptions& options = {});
std::vector<std::string> vmctl_argv(const std::string& data_dir, const std::vector<std::string>& args);

}  // namespace vmctl::test
