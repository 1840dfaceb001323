#include "os/proc.hpp"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <thread>

namespace vm_manager::os {
namespace {

using namespace std::chrono_literals;

// A child that sleeps until killed; reaped by the destructor.
struct Sleeper {
  pid_t pid = ::fork();
  Sleeper() {
    if (pid == 0) {
      ::pause();
      ::_exit(0);
    }
  }
  ~Sleeper() {
    ::kill(pid, SIGKILL);
    ::waitpid(pid, nullptr, 0);
  }
};

TEST(ProcStat, ReadsOurOwnProcess) {
  auto stat = read_proc_stat(::getpid());
  ASSERT_TRUE(stat);
  EXPECT_EQ(stat->state, 'R');
  EXPECT_GT(stat->start_time, 0u);
}

TEST(ProcStat, MissingProcess) { EXPECT_FALSE(read_proc_stat(0x3fffffff)); }

TEST(ProcStat, StartTimeTellsProcessesApart) {
  Sleeper child;
  auto stat = read_proc_stat(child.pid);
  ASSERT_TRUE(stat);
  EXPECT_TRUE(is_running_process(child.pid, stat->start_time));
  EXPECT_FALSE(is_running_process(child.pid, stat->start_time + 1)) << "a reused pid is another process";
}

TEST(ProcStat, ZombieCountsAsGone) {
  Sleeper child;
  auto stat = read_proc_stat(child.pid);
  ASSERT_TRUE(stat);
  ::kill(child.pid, SIGKILL);
  // Not reaped yet: a zombie, which must not count as running.
  const auto deadline = std::chrono::steady_clock::now() + 60s;  // only a hang takes this long
  while (read_proc_stat(child.pid)->state != 'Z' && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(5ms);
  }
  EXPECT_EQ(read_proc_stat(child.pid)->state, 'Z');
  EXPECT_FALSE(is_running_process(child.pid, stat->start_time));
}

TEST(SignalProcess, OnlySignalsTheProcessThatStartedThen) {
  Sleeper child;
  auto stat = read_proc_stat(child.pid);
  ASSERT_TRUE(stat);
  auto anything = [](const ProcessIdentity&) { return true; };
  EXPECT_FALSE(signal_process(child.pid, stat->start_time + 1, anything, SIGKILL));
  EXPECT_TRUE(is_running_process(child.pid, stat->start_time)) << "the wrong start time must not be signalled";
  EXPECT_TRUE(signal_process(child.pid, stat->start_time, anything, SIGTERM));
  EXPECT_TRUE(wait_for_exit(child.pid, stat->start_time, 60s));
}

TEST(SignalProcess, OnlySignalsAProcessThatRunsWhatIsExpected) {
  Sleeper child;
  auto stat = read_proc_stat(child.pid);
  ASSERT_TRUE(stat);
  std::optional<ProcessIdentity> seen;
  auto not_it = [&](const ProcessIdentity& identity) {
    seen = identity;
    return false;
  };
  EXPECT_FALSE(signal_process(child.pid, stat->start_time, not_it, SIGKILL));
  EXPECT_TRUE(is_running_process(child.pid, stat->start_time)) << "a process the check refused was signalled";
  // The check saw what the process runs: the test binary (a fork of it).
  ASSERT_TRUE(seen);
  EXPECT_EQ(seen->executable, read_process_identity(::getpid())->executable);
  EXPECT_FALSE(seen->argv.empty());
  auto it = [&](const ProcessIdentity& identity) { return identity.executable == seen->executable; };
  EXPECT_TRUE(signal_process(child.pid, stat->start_time, it, SIGKILL));
  EXPECT_TRUE(wait_for_exit(child.pid, stat->start_time, 60s));
}

TEST(SignalProcess, AMissingProcessIsNotSignalled) {
  EXPECT_FALSE(signal_process(0x3fffffff, 1, [](const ProcessIdentity&) { return true; }, SIGKILL));
  EXPECT_FALSE(signal_process(0, 1, [](const ProcessIdentity&) { return true; }, SIGKILL));
  EXPECT_FALSE(signal_process(-1, 1, [](const ProcessIdentity&) { return true; }, SIGKILL));
}

TEST(WaitForExit, ReturnsAtExitBeforeTheReaper) {
  Sleeper child;
  auto stat = read_proc_stat(child.pid);
  ASSERT_TRUE(stat);
  std::thread killer([&] {
    std::this_thread::sleep_for(100ms);
    ::kill(child.pid, SIGKILL);
  });
  // Nobody reaps the child before the Sleeper's end: only a wait that counts
  // the zombie as an exit returns true.
  EXPECT_TRUE(wait_for_exit(child.pid, stat->start_time, 60s))
      << "the exit of a zombie-to-be must be seen, not only after the reaper";
  killer.join();
}

TEST(WaitForExit, TimesOutWhileRunning) {
  Sleeper child;
  auto stat = read_proc_stat(child.pid);
  ASSERT_TRUE(stat);
  EXPECT_FALSE(wait_for_exit(child.pid, stat->start_time, 100ms));
}

}  // namespace
}  // namespace vm_manager::os
