#include "os/process.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <fstream>

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
  ProcessOutput r = run_process({"sleep", "30"}, 200ms);
  EXPECT_TRUE(r.timed_out);
  EXPECT_EQ(r.exit_code, -1);
  EXPECT_LT(std::chrono::steady_clock::now() - start, 5s);
}

TEST(RunProcess, EnvironmentOverrides) {
  ProcessSpec spec;
  spec.argv = {"sh", "-c", "echo \"$VMCTL_TEST_VALUE\""};
  spec.env_overrides["VMCTL_TEST_VALUE"] = "a b;c";
  EXPECT_EQ(run_process(spec, 10s).out, "a b;c\n");
}

TEST(RunProcess, StderrCanGoToAFile) {
  vmctl::test::TempDir dir;
  ProcessSpec spec;
  spec.argv = {"sh", "-c", "echo one >&2"};
  spec.stderr_file = dir / "log";
  run_process(spec, 10s);
  run_process(spec, 10s);
  std::ifstream in(dir / "log");
  std::string content((std::istreambuf_iterator<char>(in)), {});
  EXPECT_EQ(content, "one\none\n");
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
