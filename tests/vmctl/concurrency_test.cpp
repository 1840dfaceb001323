// Many vmctl processes at once leave a consistent, parseable store.
#include <filesystem>
#include <set>

#include "vm_manager/store.hpp"
#include "vmctl/cli_fixture.hpp"

namespace vmctl::test {
namespace {

TEST_F(VmctlTest, ConcurrentCreatesAndStartStopsKeepTheStoreConsistent) {
  ok({"create", "--name", "shared", "--backend", "noop"});

  std::vector<RunningProcess> running;
  for (int i = 0; i < 20; ++i) {
    running.emplace_back(vmctl_argv(data_.str(), {"create", "--name", "vm" + std::to_string(i), "--backend", "noop"}));
    running.emplace_back(vmctl_argv(data_.str(), {i % 2 == 0 ? "start" : "stop", "shared"}));
  }
  for (auto& process : running) {
    ProcessResult r = process.finish();
    EXPECT_EQ(r.exit_code, 0) << r.err;
  }

  nlohmann::json all = list();
  ASSERT_EQ(all.size(), 21u);
  std::set<std::string> names;
  for (const auto& vm : all) {
    names.insert(vm.at("name").get<std::string>());
    EXPECT_TRUE(vm.at("problem").is_null()) << vm.dump();
  }
  for (int i = 0; i < 20; ++i) EXPECT_TRUE(names.contains("vm" + std::to_string(i)));
  std::string shared = state_of("shared");
  EXPECT_TRUE(shared == "running" || shared == "stopped") << shared;

  // No temp file of an atomic write survives a clean run.
  for (const auto& entry : std::filesystem::recursive_directory_iterator(data_.path())) {
    EXPECT_EQ(entry.path().filename().string().find(".tmp-"), std::string::npos) << entry.path();
  }
}

TEST_F(VmctlTest, ConcurrentCreatesOfOneNameLetExactlyOneWin) {
  std::vector<RunningProcess> running;
  for (int i = 0; i < 10; ++i) {
    running.emplace_back(vmctl_argv(data_.str(), {"create", "--name", "same", "--backend", "noop"}));
  }
  int winners = 0;
  for (auto& process : running) {
    ProcessResult r = process.finish();
    if (r.exit_code == 0) {
      ++winners;
    } else {
      EXPECT_NE(r.err.find("error[vm_manager::vm::already_exists]: "), std::string::npos) << r.err;
    }
  }
  EXPECT_EQ(winners, 1);
  EXPECT_EQ(list().size(), 1u);
}

TEST_F(VmctlTest, ACommandWaitsForTheLockAndSaysSo) {
  ok({"create", "--name", "web", "--backend", "noop"});
  vm_manager::VmStore store{vm_manager::DataDir(data_.path())};
  auto lock = std::make_unique<vm_manager::VmLock>(store.lock("web"));
  RunningProcess waiter(vmctl_argv(data_.str(), {"start", "web"}));
  // The waiter says it waits once it found the lock taken: from then on it
  // must not run until the lock is released.
  const std::string says_it_waits = "waiting for another vmctl command (pid " + std::to_string(::getpid()) + ")";
  ASSERT_TRUE(waiter.wait_for_output(RunningProcess::Stream::err, says_it_waits))
      << waiter.output(RunningProcess::Stream::err);
  EXPECT_EQ(state_of("web"), "prepared") << "start must not run while another command holds the lock";
  lock.reset();
  ProcessResult r = waiter.finish();
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(state_of("web"), "running");
}

TEST_F(VmctlTest, AWaitThatOutlastsTheTimeoutFailsClearly) {
  ok({"create", "--name", "web", "--backend", "noop"});
  vm_manager::VmStore store{vm_manager::DataDir(data_.path())};
  vm_manager::VmLock lock = store.lock("web");
  ProcessOptions options;
  options.env["VMCTL_LOCK_TIMEOUT"] = "1";
  ProcessResult r = run_vmctl(data_.str(), {"start", "web"}, options);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("error[vm_manager::vm::locked]"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("  help: "), std::string::npos) << r.err;
}

}  // namespace
}  // namespace vmctl::test
