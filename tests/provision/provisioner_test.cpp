// Provisioners against a real sshd on 127.0.0.1 (tests/support/sshd.hpp);
// sshd runs on this host, so the "remote" side is checked in our own files.
#include "provision/provisioner.hpp"

#include <sys/stat.h>

#include <chrono>
#include <fstream>
#include <mutex>
#include <set>
#include <sstream>
#include <thread>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "support/sshd.hpp"
#include "vm_manager/error.hpp"

namespace {

namespace fs = std::filesystem;
namespace provision = vm_manager::provision;
using namespace std::chrono_literals;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;
using ::testing::UnorderedElementsAre;

std::string read_all(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream content;
  content << in.rdbuf();
  return content.str();
}

void write_all(const fs::path& path, const std::string& data) { std::ofstream(path, std::ios::binary) << data; }

class ProvisionerTest : public ::testing::Test {
 protected:
  ProvisionerTest() : session(connect(sshd)) {
    options.vm_name = "web";
    options.log_path = sshd.scratch() / "provision.log";
    options.print = [this](std::string_view line) { printed.emplace_back(line); };
  }
  static vm_manager::ssh::Session connect(const vmctl::test::Sshd& server) {
    vm_manager::ssh::ConnectOptions connect_options;
    connect_options.timeout = 20s;
    return vm_manager::ssh::Session::connect(server.target(), connect_options);
  }
  // Runs the steps, expecting provision::failed; returns its message.
  std::string run_failing(const std::vector<provision::Step>& steps) {
    try {
      provision::run(session, steps, options);
    } catch (const vm_manager::Error& error) {
      EXPECT_EQ(error.code(), vm_manager::errc::provision_failed);
      EXPECT_FALSE(error.help().empty());
      return error.message();
    }
    ADD_FAILURE() << "provisioning did not fail";
    return {};
  }
  fs::path scratch(const std::string& name) const { return sshd.scratch() / name; }

  vmctl::test::Sshd sshd;
  vm_manager::ssh::Session session;
  provision::RunOptions options;
  std::vector<std::string> printed;
};

TEST(ProvisionDescribe, NamesEachKindOfStep) {
  EXPECT_EQ(provision::describe(provision::ShellInline{"apt-get update"}), "shell inline: apt-get update");
  EXPECT_EQ(provision::describe(provision::ShellScript{"setup.sh"}), "shell script: setup.sh");
  EXPECT_EQ(provision::describe(provision::FileCopy{"a.txt", "/etc/a.txt"}), "file: a.txt -> /etc/a.txt");
  EXPECT_EQ(provision::describe(provision::ShellInline{"one\ntwo"}), "shell inline: one …");
}

TEST_F(ProvisionerTest, InlineOutputIsPrefixedLineByLine) {
  provision::run(session, {provision::ShellInline{"echo hello; echo oops >&2; printf 'a\\nb\\r\\nno newline'"}},
                 options);
  // The two streams interleave as they arrive; within one the order holds.
  EXPECT_THAT(printed,
              UnorderedElementsAre("web | hello", "web | oops", "web | a", "web | b", "web | no newline"));
  std::vector<std::string> out_lines;
  for (const auto& line : printed) {
    if (line != "web | oops") out_lines.push_back(line);
  }
  EXPECT_THAT(out_lines, ElementsAre("web | hello", "web | a", "web | b", "web | no newline"));
}

TEST_F(ProvisionerTest, LogRecordsStepsOutputAndStatus) {
  provision::run(session, {provision::ShellInline{"echo first"}, provision::ShellInline{"echo second >&2"}}, options);
  const std::string log = read_all(options.log_path);
  EXPECT_THAT(log, HasSubstr("step 1/2 start: shell inline: echo first"));
  EXPECT_THAT(log, HasSubstr("step 1/2 out: first"));
  EXPECT_THAT(log, HasSubstr("step 1/2 exit status 0"));
  EXPECT_THAT(log, HasSubstr("step 2/2 err: second"));
  EXPECT_THAT(log, HasSubstr("step 2/2 exit status 0"));
  // Every line starts with a UTC timestamp.
  std::istringstream lines(log);
  for (std::string line; std::getline(lines, line);) {
    EXPECT_THAT(line, ::testing::MatchesRegex("[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]+Z .*")) << line;
  }
  // Appended to, not replaced.
  provision::run(session, {provision::ShellInline{"echo third"}}, options);
  EXPECT_THAT(read_all(options.log_path), HasSubstr("step 1/2 out: first"));
  EXPECT_THAT(read_all(options.log_path), HasSubstr("step 1/1 out: third"));
}

TEST_F(ProvisionerTest, ScriptRunsFromAUniquePathAndIsRemoved) {
  const fs::path script = scratch("setup.sh");
  const fs::path marker = scratch("script-path");
  write_all(script, "#!/bin/sh\necho \"$0\" >> " + marker.string() + "\nstat -c %a \"$0\"\necho from script\n");
  provision::run(session, {provision::ShellScript{script}, provision::ShellScript{script}}, options);
  std::istringstream paths(read_all(marker));
  std::string first, second;
  std::getline(paths, first);
  std::getline(paths, second);
  // A private folder made by the guest's mktemp, the script under its own name.
  EXPECT_THAT(first, ::testing::MatchesRegex("/tmp/vmctl-provision\\.[A-Za-z0-9]{8}/setup\\.sh"));
  EXPECT_NE(first, second);
  EXPECT_FALSE(fs::exists(fs::path(first).parent_path()));
  EXPECT_FALSE(fs::exists(fs::path(second).parent_path()));
  EXPECT_THAT(printed, ElementsAre("web | 700", "web | from script", "web | 700", "web | from script"));
}

// The step prints a line, then waits until that line was printed here (the
// print callback makes a file it waits for; sshd runs on this host), then
// prints another: buffering until the step ends would never let it end
// (the step gives up after a minute, a hang, and "late" is then missing).
TEST_F(ProvisionerTest, OutputIsPrintedWhileTheStepRuns) {
  const fs::path seen = scratch("early-was-printed");
  options.print = [&](std::string_view line) {
    printed.emplace_back(line);
    if (line == "web | early") std::ofstream(seen).close();
  };
  const std::string step = "echo early; i=0; while [ ! -e '" + seen.string() +
                           "' ] && [ $i -lt 1200 ]; do sleep 0.05; i=$((i+1)); done; "
                           "[ -e '" + seen.string() + "' ] && echo late";
  provision::run(session, {provision::ShellInline{step}}, options);
  EXPECT_THAT(printed, ElementsAre("web | early", "web | late")) << "the first line waited for the step to end";
}

// The folders for scripts in the (here: local) guest's /tmp.
std::set<fs::path> script_folders() {
  std::set<fs::path> found;
  for (const auto& entry : fs::directory_iterator("/tmp")) {
    if (entry.path().filename().string().rfind("vmctl-provision.", 0) == 0) found.insert(entry.path());
  }
  return found;
}

TEST_F(ProvisionerTest, AScriptThatCannotBeUploadedLeavesNothingBehind) {
  const auto before = script_folders();
  const std::string message = run_failing({provision::ShellScript{scratch("no-such-script.sh")}});
  EXPECT_THAT(message, HasSubstr("step 1"));
  EXPECT_THAT(message, HasSubstr("no-such-script.sh"));
  // Other tests that provision at the same time make folders of their own
  // and remove them when they are done; one of ours would stay.
  auto new_folders = [&] {
    std::vector<fs::path> added;
    for (const auto& folder : script_folders()) {
      if (before.count(folder) == 0) added.push_back(folder);
    }
    return added;
  };
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (!new_folders().empty() && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_THAT(new_folders(), IsEmpty());
}

TEST_F(ProvisionerTest, FailingScriptIsRemovedToo) {
  const fs::path script = scratch("fail.sh");
  const fs::path marker = scratch("script-path");
  write_all(script, "#!/bin/sh\necho \"$0\" > " + marker.string() + "\nexit 4\n");
  const std::string message = run_failing({provision::ShellScript{script}});
  EXPECT_THAT(message, HasSubstr("step 1"));
  EXPECT_THAT(message, HasSubstr("shell script: " + script.string()));
  EXPECT_THAT(message, HasSubstr("exit status 4"));
  const std::string remote = read_all(marker).substr(0, read_all(marker).find('\n'));
  ASSERT_FALSE(remote.empty());
  EXPECT_FALSE(fs::exists(remote));
}

TEST_F(ProvisionerTest, FileStepCopiesSourceToDestination) {
  const fs::path source = scratch("a.txt");
  write_all(source, "payload\n");
  const fs::path destination = scratch("etc") / "deep" / "a.txt";
  provision::run(session, {provision::FileCopy{source, destination.string()}}, options);
  EXPECT_EQ(read_all(destination), "payload\n");
  EXPECT_THAT(read_all(options.log_path), HasSubstr("step 1/1 start: file: " + source.string() + " -> "));

  const std::string message = run_failing({provision::FileCopy{scratch("missing.txt"), scratch("x").string()}});
  EXPECT_THAT(message, HasSubstr("step 1 (file: "));
  EXPECT_THAT(message, HasSubstr("missing.txt"));
}

TEST_F(ProvisionerTest, FirstFailureStopsTheRest) {
  const fs::path marker = scratch("should-not-exist");
  const std::string message = run_failing({provision::ShellInline{"echo ok"},
                                           provision::ShellInline{"echo broken >&2; exit 7"},
                                           provision::ShellInline{"touch " + marker.string()}});
  EXPECT_THAT(message, HasSubstr("step 2 (shell inline: echo broken >&2; exit 7)"));
  EXPECT_THAT(message, HasSubstr("exit status 7"));
  EXPECT_FALSE(fs::exists(marker));
  EXPECT_THAT(printed, ElementsAre("web | ok", "web | broken"));
  const std::string log = read_all(options.log_path);
  EXPECT_THAT(log, HasSubstr("step 2/3 exit status 7"));
  EXPECT_THAT(log, Not(HasSubstr("step 3/3")));
}

}  // namespace
