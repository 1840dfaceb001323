// `vmctl create --data-disk` and `vmctl restart [--hard]` on the noop
// backend: disks recorded as given and shown by status and list, refused
// with spec::invalid; restart's two forms and their refusals.
#include "vmctl/cli_fixture.hpp"

namespace vmctl::test {
namespace {

TEST_F(VmctlTest, DataDisksAreRecordedAndShownByStatusAndList) {
  ok({"create", "--name", "web", "--backend", "noop", "--data-disk", "20G:scratch", "--data-disk", "5",
      "--data-disk", "1"});
  nlohmann::json disks = status("web").at("data_disks");
  EXPECT_EQ(disks, nlohmann::json::parse(R"([{"name":"scratch","size_gb":20},{"name":"data2","size_gb":5},
                                             {"name":"data3","size_gb":1}])"));
  EXPECT_EQ(list().at(0).at("data_disks"), disks);
  std::string human = ok({"status", "web"});
  EXPECT_NE(human.find("data disks: scratch (20 GB), data2 (5 GB), data3 (1 GB)\n"), std::string::npos) << human;
  // Kept across stop and start.
  ok({"start", "web"});
  ok({"stop", "web"});
  EXPECT_EQ(status("web").at("data_disks"), disks);
}

TEST_F(VmctlTest, AVmWithoutDataDisksHasNoDataDiskLine) {
  ok({"create", "--name", "web", "--backend", "noop"});
  EXPECT_TRUE(status("web").at("data_disks").is_null());
  EXPECT_EQ(ok({"status", "web"}).find("data disks:"), std::string::npos);
}

TEST_F(VmctlTest, BadDataDisksAreRefusedBeforeAnythingIsCreated) {
  for (const std::vector<std::string>& flags :
       {std::vector<std::string>{"--data-disk", "20M"}, {"--data-disk", "0"}, {"--data-disk", "1:bad,name"},
        {"--data-disk", "1:a-name-longer-than-20"}, {"--data-disk", "1:x", "--data-disk", "2:x"},
        {"--data-disk", "1", "--data-disk", "2:data1"}}) {
    std::vector<std::string> args{"create", "--name", "web", "--backend", "noop"};
    args.insert(args.end(), flags.begin(), flags.end());
    ProcessResult r = vmctl(args);
    EXPECT_EQ(r.exit_code, 1) << flags.back() << ": " << r.err;
    EXPECT_NE(r.err.find("error[vm_manager::spec::invalid]"), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("help:"), std::string::npos) << r.err;
  }
  EXPECT_TRUE(list().empty());
}

TEST_F(VmctlTest, RestartStopsAndStartsAndHardResetsOnlyARunningVm) {
  ok({"create", "--name", "web", "--backend", "noop"});
  EXPECT_EQ(ok({"restart", "web"}), "Restarted VM 'web'\n");  // a prepared VM is just started
  EXPECT_EQ(state_of("web"), "running");
  EXPECT_EQ(ok({"restart", "web", "--timeout", "5"}), "Restarted VM 'web'\n");
  EXPECT_EQ(state_of("web"), "running");
  EXPECT_EQ(ok({"restart", "web", "--hard"}), "Reset VM 'web'\n");
  EXPECT_EQ(state_of("web"), "running");

  ok({"suspend", "web"});
  ProcessResult suspended = vmctl({"restart", "web", "--hard"});
  EXPECT_EQ(suspended.exit_code, 1);
  EXPECT_NE(suspended.err.find("error[vm_manager::vm::invalid_state]"), std::string::npos) << suspended.err;
  EXPECT_NE(suspended.err.find("vmctl resume web"), std::string::npos) << suspended.err;
  ok({"resume", "web"});
  ok({"stop", "web"});
  ProcessResult stopped = vmctl({"restart", "web", "--hard"});
  EXPECT_EQ(stopped.exit_code, 1);
  EXPECT_NE(stopped.err.find("error[vm_manager::vm::invalid_state]"), std::string::npos) << stopped.err;
  EXPECT_NE(stopped.err.find("vmctl start web"), std::string::npos) << stopped.err;
  EXPECT_EQ(state_of("web"), "stopped");

  ProcessResult both = vmctl({"restart", "web", "--hard", "--timeout", "5"});
  EXPECT_EQ(both.exit_code, 2) << both.err;  // a usage error
  EXPECT_NE(vmctl({"restart", "nope"}).exit_code, 0);
}

}  // namespace
}  // namespace vmctl::test
