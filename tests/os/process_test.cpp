#include "os/process.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>

#include <chrono>
#include <fstream>
#include <set>
#include <sstream>

#include "os/unique_fd.hpp"

#include "support/temp_dir.hpp"
#include "vm_manager/error.hpp"

namespace vm_manager::os {
namespace {

using namespace std::chrono_literals;

TEST(RunProcess, CapturesStdoutStderrAndExitCode) {
  ProcessOutput r = run_process({"sh", "-c", "echo out; echo err >&2; exit 3"}, 10s);
  EXPECT_EQ(r.exit_code, 3);
  EXPECT_EQ(r.out, "out\n");
  EXPECT_EQ(r.err, "err\n");
  EXPECT_FALSE(r.timed_out);
}

TEST(RunProcess, ArgumentsAreNotInterpretedByAShell) {
  ProcessOutput r = run_process({"echo", "$HOME; rm -rf /", "`id`"}, 10s);
  EXPECT_EQ(r.out, "$HOME; rm -rf / `id`\n");
}

TEST(RunProcess, LargeOutputOnBothStreamsDoesNotDeadlock) {
  ProcessOutput r = run_process({"sh", "-c", "head -c 1000000 /dev/zero; head -c 1000000 /dev/zero >&2; head -c 1000000 /dev/zero"}, 30s);
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(r.out.size(), 2000000u);
  EXPECT_EQ(r.err.size(), 1000000u);
}

TEST(RunProcess, FeedsStdin) {
  ProcessSpec spec;
  spec.argv = {"cat"};
  spec.stdin_data = std::string(300000, 'x');
  ProcessOutput r = run_process(spec, 10s);
  EXPECT_EQ(r.out, *spec.stdin_data);
}

TEST(RunProcess, TimeoutKillsTheProcess) {
  auto start = std::chrono::steady_clock::now();
  ProcessOutput r = run_process({"sleep", "300"}, 200ms);
  EXPECT_TRUE(r.timed_out);
  EXPECT_EQ(r.exit_code, -1);
  EXPECT_LT(std::chrono::steady_clock::now() - start, 120s) << "killed at the timeout, not at the end of sleep";
}

TEST(RunProcess, EnvironmentOverrides) {
  ProcessSpec spec;
  spec.argv = {"sh", "-c", "echo \"$VMCTL_TEST_VALUE\""};
  spec.env_overrides["VMCTL_TEST_VALUE"] = "a b;c";
  EXPECT_EQ(run_process(spec, 10s).out, "a b;c\n");
}

std::string content_of(const std::filesystem::path& file) {
  std::ifstream in(file);
  return std::string((std::istreambuf_iterator<char>(in)), {});
}

// An fd of ours on `file`, opened for appending.
UniqueFd append_to(const std::filesystem::path& file) {
  return UniqueFd(::open(file.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600));
}

TEST(RunProcess, StderrCanGoToAnFdOfOurs) {
  vmctl::test::TempDir dir;
  UniqueFd log = append_to(dir / "log");
  ASSERT_GE(log.get(), 0);
  ProcessSpec spec;
  spec.argv = {"sh", "-c", "echo one >&2"};
  spec.child_fds = {{2, log.get()}};
  EXPECT_EQ(run_process(spec, 10s).err, "");
  run_process(spec, 10s);
  EXPECT_EQ(content_of(dir / "log"), "one\none\n");
  EXPECT_NE(::fcntl(log.get(), F_GETFD), -1) << "our fd must stay open";
}

TEST(RunProcess, TheChildGetsFdsAtTheNumbersAsked) {
  vmctl::test::TempDir dir;
  UniqueFd a = append_to(dir / "a");
  UniqueFd b = append_to(dir / "b");
  // Our fds at the numbers the child is to get, crosswise, and close-on-exec:
  // a naive dup2 would hand the child one file twice, or none.
  // (sh takes fd numbers up to 9.)
  UniqueFd at_8(::fcntl(a.get(), F_DUPFD_CLOEXEC, 8));
  ASSERT_EQ(at_8.get(), 8);
  UniqueFd at_9(::fcntl(b.get(), F_DUPFD_CLOEXEC, 9));
  ASSERT_EQ(at_9.get(), 9);
  ProcessSpec spec;
  spec.argv = {"sh", "-c", "echo to-8 >&8; echo to-9 >&9; echo to-7 >&7"};
  spec.child_fds = {{8, at_9.get()}, {9, at_8.get()}, {7, at_8.get()}};
  ProcessOutput r = run_process(spec, 10s);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(content_of(dir / "a"), "to-9\nto-7\n");
  EXPECT_EQ(content_of(dir / "b"), "to-8\n");
}

TEST(RunProcess, OurFdIsGivenOnlyAtTheNumberAsked) {
  vmctl::test::TempDir dir;
  UniqueFd opened = append_to(dir / "a");
  // Far above the fds ls opens itself.
  UniqueFd a(::fcntl(opened.get(), F_DUPFD_CLOEXEC, 200));
  ASSERT_GE(a.get(), 200);
  ProcessSpec spec;
  spec.argv = {"sh", "-c", "ls /proc/self/fd"};
  spec.child_fds = {{5, a.get()}};
  ProcessOutput r = run_process(spec, 10s);
  std::set<std::string> fds;
  std::istringstream lines(r.out);
  for (std::string line; std::getline(lines, line);) fds.insert(line);
  EXPECT_TRUE(fds.contains("5")) << r.out;
  EXPECT_FALSE(fds.contains(std::to_string(a.get()))) << "the staged copies and our fd are close-on-exec";
}

TEST(RunProcess, StdinAndStdoutCannotBeReplaced) {
  vmctl::test::TempDir dir;
  UniqueFd a = append_to(dir / "a");
  ProcessSpec spec;
  spec.argv = {"true"};
  spec.child_fds = {{1, a.get()}};
  EXPECT_THROW(run_process(spec, 10s), Error);
  spec.child_fds = {{3, -1}};
  EXPECT_THROW(run_process(spec, 10s), Error);
}

TEST(RunProcess, MissingProgramIsAnError) {
  try {
    run_process({"/nonexistent/program"}, 10s);
    FAIL() << "expected an Error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), errc::process_spawn_failed);
    EXPECT_FALSE(e.help().empty());
  }
}

TEST(Describe, QuotesWhatAShellWouldSplit) {
  EXPECT_EQ(describe({"qemu-img", "create", "a b", "x;y", ""}), "qemu-img create 'a b' 'x;y' ''");
}

}  // namespace
}  // namespace vm_manager::os
