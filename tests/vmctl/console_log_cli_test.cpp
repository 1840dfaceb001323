// vmctl console and vmctl log through the real binary, with the noop backend
// (which has neither a console nor a log, until the test gives it one).
#include <chrono>
#include <filesystem>
#include <fstream>

#include "vmctl/cli_fixture.hpp"

namespace vmctl::test {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

class ConsoleLogCliTest : public VmctlTest {
 protected:
  // Exit 1 with the given stable code, a one-line message and a help line.
  static void expect_error(const ProcessResult& r, const std::string& code, const std::string& message_part = "") {
    EXPECT_EQ(r.exit_code, 1) << r.err;
    EXPECT_EQ(r.out, "");
    std::string prefix = "error[" + code + "]: ";
    ASSERT_EQ(r.err.rfind(prefix, 0), 0u) << r.err;
    auto first_newline = r.err.find('\n');
    ASSERT_NE(first_newline, std::string::npos);
    EXPECT_NE(r.err.substr(0, first_newline).find(message_part), std::string::npos) << r.err;
    EXPECT_EQ(r.err.substr(first_newline + 1, 8), "  help: ") << r.err;
  }

  fs::path vm_file(const std::string& name) { return data_ / "vms" / name / "vm.json"; }
  fs::path work_dir(const std::string& name) { return data_ / "vms" / name; }

  // Gives the VM a console log, as the qemu backend would.
  void set_console_log(const std::string& name, const fs::path& log) {
    std::ifstream in(vm_file(name));
    nlohmann::json record = nlohmann::json::parse(in);
    record.at("handle")["console_log"] = log.string();
    std::ofstream(vm_file(name), std::ios::trunc) << record.dump(2);
  }

  static void write_file(const fs::path& path, const std::string& content) {
    std::ofstream(path, std::ios::binary) << content;
  }
};

TEST_F(ConsoleLogCliTest, ConsoleOfANoopVmIsUnavailable) {
  ok({"create", "--name", "web", "--backend", "noop"});
  expect_error(vmctl({"console", "web"}), "vm_manager::console::unavailable",
               "VM 'web' has no serial console (backend noop)");
  ok({"start", "web"});
  expect_error(vmctl({"console", "web"}), "vm_manager::console::unavailable", "has no serial console");
}

TEST_F(ConsoleLogCliTest, ConsoleOfAnUnknownVmIsNotFound) {
  expect_error(vmctl({"console", "nope"}), "vm_manager::vm::not_found");
}

TEST_F(ConsoleLogCliTest, LogOfANoopVmIsNoLog) {
  ok({"create", "--name", "web", "--backend", "noop", "--start"});
  expect_error(vmctl({"log", "web"}), "vm_manager::console::no_log", "VM 'web' keeps no console log (backend noop)");
  expect_error(vmctl({"log", "web", "-f"}), "vm_manager::console::no_log", "keeps no console log");
}

TEST_F(ConsoleLogCliTest, LogOfAnUnknownVmIsNotFound) {
  expect_error(vmctl({"log", "nope"}), "vm_manager::vm::not_found");
}

TEST_F(ConsoleLogCliTest, LogShowsTheLastLines) {
  ok({"create", "--name", "web", "--backend", "noop"});
  fs::path log = work_dir("web") / "console.log";
  write_file(log, "SeaBIOS\nbooting\nlogin: \x1b[0m\nguest login:\n");
  set_console_log("web", log);
  EXPECT_EQ(ok({"log", "web", "-n", "2"}), "login: \x1b[0m\nguest login:\n");
  EXPECT_EQ(ok({"log", "web", "--lines", "1"}), "guest login:\n");
  EXPECT_EQ(ok({"log", "web", "--lines=0"}), "");
  EXPECT_EQ(ok({"log", "web"}), "SeaBIOS\nbooting\nlogin: \x1b[0m\nguest login:\n");
  EXPECT_EQ(ok({"log", "web", "-n", "100"}), "SeaBIOS\nbooting\nlogin: \x1b[0m\nguest login:\n");
}

TEST_F(ConsoleLogCliTest, LogWithoutOutputYetSaysSo) {
  ok({"create", "--name", "web", "--backend", "noop"});
  set_console_log("web", work_dir("web") / "console.log");
  expect_error(vmctl({"log", "web"}), "vm_manager::console::no_log", "VM 'web' has no console output yet");
}

TEST_F(ConsoleLogCliTest, LogRefusesANegativeLineCount) {
  ProcessResult r = vmctl({"log", "web", "-n", "-1"});
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_EQ(r.err.rfind("error[vmctl::usage]: ", 0), 0u) << r.err;
}

TEST_F(ConsoleLogCliTest, LogFollowShowsNewOutputAndEndsWhenTheVmIsDestroyed) {
  ok({"create", "--name", "web", "--backend", "noop", "--start"});
  fs::path log = work_dir("web") / "console.log";
  write_file(log, "first\n");
  set_console_log("web", log);
  RunningProcess follow(vmctl_argv(data_.str(), {"log", "web", "-f"}), ProcessOptions{{}, 120s});
  // Each step waits for the follower to show what is there so far: "second"
  // is appended once it follows, and the VM destroyed once it showed it.
  using Stream = RunningProcess::Stream;
  ASSERT_TRUE(follow.wait_for_output(Stream::out, "first\n")) << follow.output(Stream::err);
  std::ofstream(log, std::ios::app) << "second\n";
  ASSERT_TRUE(follow.wait_for_output(Stream::out, "first\nsecond\n")) << follow.output(Stream::err);
  ok({"destroy", "web"});
  ProcessResult r = follow.finish();
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "first\nsecond\n");
}

TEST_F(ConsoleLogCliTest, LogHelpDocumentsFollowAndLines) {
  std::string help = ok({"log", "--help"});
  EXPECT_NE(help.find("-f,--follow"), std::string::npos) << help;
  EXPECT_NE(help.find("-n,--lines"), std::string::npos) << help;
  EXPECT_NE(help.find("--tail"), std::string::npos) << help;
  EXPECT_NE(help.find("--provision"), std::string::npos) << help;
}

// provision.log is where VmManager::provision appends its steps' output,
// in the VM's work dir; the noop VM gets one written as it would.
TEST_F(ConsoleLogCliTest, LogProvisionShowsTheProvisionLogAndTailIsLines) {
  ok({"create", "--name", "web", "--backend", "noop", "--start"});
  ProcessResult never = vmctl({"log", "web", "--provision"});
  expect_error(never, "vm_manager::provision::no_log", "VM 'web' has no provision log");
  EXPECT_NE(never.err.find("  try: 'vmctl provision --name web'"), std::string::npos) << never.err;

  write_file(work_dir("web") / "provision.log", "==> step 1\nhello\n==> step 2\ndone\n");
  fs::path console = work_dir("web") / "console.log";
  write_file(console, "booting\nlogin:\n");
  set_console_log("web", console);
  EXPECT_EQ(ok({"log", "web", "--provision"}), "==> step 1\nhello\n==> step 2\ndone\n");
  EXPECT_EQ(ok({"log", "web", "--provision", "--tail", "2"}), "==> step 2\ndone\n");
  EXPECT_EQ(ok({"log", "web", "--provision", "-n", "1"}), "done\n");
  EXPECT_EQ(ok({"log", "web", "--tail", "1"}), "login:\n") << "--tail is -n for the console too";
  EXPECT_EQ(ok({"log", "web", "--tail=1"}), "login:\n");
  expect_error(vmctl({"log", "web", "--provision", "--console"}), "vm_manager::spec::invalid",
               "--provision and --console");
  ProcessResult negative = vmctl({"log", "web", "--tail", "-1"});
  EXPECT_EQ(negative.exit_code, 2) << negative.err;
}

TEST_F(ConsoleLogCliTest, LogProvisionFollowWaitsForTheLogAndEndsWithTheVm) {
  ok({"create", "--name", "web", "--backend", "noop", "--start"});
  RunningProcess follow(vmctl_argv(data_.str(), {"log", "web", "--provision", "-f"}), ProcessOptions{{}, 120s});
  using Stream = RunningProcess::Stream;
  write_file(work_dir("web") / "provision.log", "first\n");
  ASSERT_TRUE(follow.wait_for_output(Stream::out, "first\n")) << follow.output(Stream::err);
  ok({"destroy", "web"});
  ProcessResult r = follow.finish();
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "first\n");
}

TEST_F(ConsoleLogCliTest, ConsoleHelpTellsHowToDetach) {
  std::string help = ok({"console", "--help"});
  EXPECT_NE(help.find("Ctrl-]"), std::string::npos) << help;
}

}  // namespace
}  // namespace vmctl::test
