// The whole noop lifecycle through the vmctl binary, with --json parsed back.
#include <filesystem>

#include "vmctl/cli_fixture.hpp"

namespace vmctl::test {
namespace {

TEST_F(VmctlTest, FullNoopLifecycle) {
  ok({"create", "--name", "web", "--backend", "noop", "--vcpus", "2", "--memory", "512"});
  EXPECT_EQ(state_of("web"), "prepared");
  ok({"start", "web"});
  EXPECT_EQ(state_of("web"), "running");
  ok({"suspend", "web"});
  EXPECT_EQ(state_of("web"), "suspended");
  ok({"resume", "web"});
  EXPECT_EQ(state_of("web"), "running");
  ok({"stop", "web", "--timeout", "5"});
  EXPECT_EQ(state_of("web"), "stopped");
  ok({"start", "web"});
  ok({"stop", "web", "--force"});
  EXPECT_EQ(state_of("web"), "stopped");
  ok({"destroy", "web"});
  EXPECT_TRUE(list().empty());
  EXPECT_FALSE(std::filesystem::exists(data_ / "vms" / "web"));
}

TEST_F(VmctlTest, StatusJsonHasTheDocumentedFields) {
  ok({"create", "--name", "web", "--backend", "noop", "--vcpus", "2", "--memory", "512", "--start"});
  nlohmann::json j = status("web");
  EXPECT_EQ(j.at("name"), "web");
  EXPECT_EQ(j.at("backend"), "noop");
  EXPECT_EQ(j.at("state"), "running");
  EXPECT_EQ(j.at("vcpus"), 2);
  EXPECT_EQ(j.at("memory_mb"), 512);
  for (const char* absent : {"ssh_host", "ssh_port", "pid", "vnc"}) {
    ASSERT_TRUE(j.contains(absent)) << absent;
    EXPECT_TRUE(j.at(absent).is_null()) << absent;
  }
  EXPECT_EQ(j.at("work_dir"), (data_ / "vms" / "web").string());
}

TEST_F(VmctlTest, ListShowsLiveStatesOfEveryVm) {
  ok({"create", "--name", "b", "--backend", "noop", "--start"});
  ok({"create", "--name", "a", "--backend", "noop"});
  ok({"create", "--name", "c", "--backend", "noop", "--start"});
  ok({"suspend", "c"});
  nlohmann::json all = list();
  ASSERT_EQ(all.size(), 3u);
  EXPECT_EQ(all[0].at("name"), "a");
  EXPECT_EQ(all[0].at("state"), "prepared");
  EXPECT_EQ(all[1].at("state"), "running");
  EXPECT_EQ(all[2].at("state"), "suspended");
}

TEST_F(VmctlTest, ListTableIsAligned) {
  ok({"create", "--name", "a-long-vm-name", "--backend", "noop"});
  ok({"create", "--name", "b", "--backend", "noop", "--start"});
  std::string table = ok({"list"});
  std::vector<std::string> lines;
  std::size_t start = 0;
  for (std::size_t nl; (nl = table.find('\n', start)) != std::string::npos; start = nl + 1) {
    lines.push_back(table.substr(start, nl - start));
  }
  ASSERT_EQ(lines.size(), 3u) << table;
  auto column_of = [](const std::string& line, const std::string& word) { return line.find(word); };
  std::size_t state_column = column_of(lines[0], "STATE");
  EXPECT_EQ(column_of(lines[1], "prepared"), state_column) << table;
  EXPECT_EQ(column_of(lines[2], "running"), state_column) << table;
  for (const auto& line : lines) EXPECT_NE(line.back(), ' ') << "trailing blank: '" << line << "'";
}

TEST_F(VmctlTest, StartOfRunningVmIsANoOpAndSaysSo) {
  ok({"create", "--name", "web", "--backend", "noop", "--start"});
  EXPECT_NE(ok({"start", "web"}).find("already running"), std::string::npos);
  EXPECT_EQ(state_of("web"), "running");
}

TEST_F(VmctlTest, StopOfStoppedVmSucceeds) {
  ok({"create", "--name", "web", "--backend", "noop"});
  ok({"stop", "web"});
  EXPECT_EQ(state_of("web"), "prepared");
}

TEST_F(VmctlTest, QuietPrintsNothingOnSuccess) {
  ProcessResult r = vmctl({"-q", "create", "--name", "web", "--backend", "noop", "--start"});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(r.out, "");
  EXPECT_EQ(r.err, "");
}

TEST_F(VmctlTest, DataDirComesFromTheEnvironment) {
  TempDir other;
  ProcessOptions options;
  options.env["VMCTL_DATA_DIR"] = other.str();
  ProcessResult r = run_process({VMCTL_BINARY, "create", "--name", "envvm", "--backend", "noop"}, options);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(std::filesystem::exists(other / "vms" / "envvm" / "vm.json"));
}

TEST_F(VmctlTest, GlobalOptionsMayFollowTheCommand) {
  ProcessResult r = run_process({VMCTL_BINARY, "create", "--name", "web", "--backend", "noop", "--data-dir",
                                 data_.str()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(state_of("web"), "prepared");
}

TEST_F(VmctlTest, HelpAndVersionSucceed) {
  EXPECT_NE(ok({"--help"}).find("create"), std::string::npos);
  EXPECT_NE(ok({"stop", "--help"}).find("--timeout"), std::string::npos);
  EXPECT_NE(ok({"--version"}).find("vmctl "), std::string::npos);
}

TEST_F(VmctlTest, WorkDirIsPrivate) {
  ok({"create", "--name", "web", "--backend", "noop"});
  auto perms = std::filesystem::status(data_ / "vms" / "web").permissions();
  EXPECT_EQ(perms & std::filesystem::perms::all, std::filesystem::perms::owner_all);
}

}  // namespace
}  // namespace vmctl::test
