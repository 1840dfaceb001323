// vmctl snapshot create|list|restore|rm on the noop backend, which records
// snapshots with the qemu backend's rules: the CLI's parsing, messages,
// JSON and refusals. tests/vmctl/snapshot_qemu_cli_test.cpp takes real
// snapshots of the tiny guest.
#include "vmctl/cli_fixture.hpp"

namespace vmctl::test {
namespace {

using nlohmann::json;

TEST_F(VmctlTest, SnapshotsOfAStoppedVmHoldTheDisksOnly) {
  ok({"create", "--name", "web", "--backend", "noop", "--disk", "10", "--memory", "512"});
  EXPECT_EQ(ok({"snapshot", "create", "web", "clean"}), "Created snapshot 'clean' of VM 'web' (disks only)\n");
  json all = json::parse(ok({"snapshot", "list", "web", "--json"}));
  ASSERT_EQ(all.size(), 1u);
  EXPECT_EQ(all[0].at("name"), "clean");
  EXPECT_EQ(all[0].at("has_ram"), false);
  EXPECT_EQ(all[0].at("ram_bytes"), 0);
  EXPECT_EQ(all[0].at("disk_bytes"), 10ull << 30);
  EXPECT_GT(all[0].at("created_unix").get<std::int64_t>(), 1600000000);
  std::string table = ok({"snapshot", "list", "web"});
  EXPECT_EQ(table.substr(0, table.find('\n')), "NAME   CREATED                  DISK      RAM  VM CLOCK");
  EXPECT_NE(table.find("clean  "), std::string::npos) << table;
  EXPECT_NE(table.find(" UTC  10.0 GiB  no   -\n"), std::string::npos) << table;
  EXPECT_EQ(ok({"snapshot", "restore", "web", "clean"}), "Restored VM 'web' to snapshot 'clean'; it is prepared\n");
  EXPECT_EQ(state_of("web"), "prepared");
}

TEST_F(VmctlTest, SnapshotsOfARunningVmHoldItsRamUnlessToldNot) {
  ok({"create", "--name", "web", "--backend", "noop", "--memory", "512"});
  ok({"start", "web"});
  EXPECT_EQ(ok({"snapshot", "create", "web", "live"}),
            "Created snapshot 'live' of VM 'web' (disks, RAM and device state)\n");
  EXPECT_EQ(ok({"snapshot", "create", "web", "disk-only", "--no-memory"}),
            "Created snapshot 'disk-only' of VM 'web' (disks only)\n");
  json all = json::parse(ok({"snapshot", "list", "web", "--json"}));
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[0].at("name"), "live");  // oldest first
  EXPECT_EQ(all[0].at("has_ram"), true);
  EXPECT_EQ(all[0].at("ram_bytes"), 512ull << 20);
  EXPECT_EQ(all[1].at("has_ram"), false);
  EXPECT_NE(ok({"snapshot", "list", "web"}).find("yes (512.0 MiB)"), std::string::npos);

  // One without RAM cannot go into a running VM; stopped, it can.
  ProcessResult refused = vmctl({"snapshot", "restore", "web", "disk-only"});
  EXPECT_EQ(refused.exit_code, 1);
  EXPECT_NE(refused.err.find("snapshot::needs_stopped"), std::string::npos) << refused.err;
  EXPECT_NE(refused.err.find("'vmctl stop web'"), std::string::npos) << refused.err;
  ok({"stop", "web"});
  EXPECT_EQ(ok({"snapshot", "restore", "web", "disk-only"}),
            "Restored VM 'web' to snapshot 'disk-only'; it is stopped\n");
  // One with RAM resumes the VM where it was, so it runs afterwards.
  EXPECT_EQ(ok({"snapshot", "restore", "web", "live"}), "Restored VM 'web' to snapshot 'live'; it is running\n");
  EXPECT_EQ(state_of("web"), "running");

  EXPECT_EQ(ok({"snapshot", "rm", "web", "live"}), "Deleted snapshot 'live' of VM 'web'\n");
  all = json::parse(ok({"snapshot", "list", "web", "--json"}));
  ASSERT_EQ(all.size(), 1u);
  EXPECT_EQ(all[0].at("name"), "disk-only");
}

TEST_F(VmctlTest, SnapshotMistakesAreClearErrors) {
  ok({"create", "--name", "web", "--backend", "noop"});
  ok({"snapshot", "create", "web", "s1"});
  struct Case {
    std::vector<std::string> args;
    std::string code;
    std::string text;
  };
  for (const Case& c : std::vector<Case>{
           {{"snapshot", "create", "web", "s1"}, "snapshot::already_exists", "'s1'"},
           {{"snapshot", "create", "web", "bad/name"}, "snapshot::invalid_name", "bad/name"},
           {{"snapshot", "create", "web", "-x"}, "", ""},
           {{"snapshot", "restore", "web", "s2"}, "snapshot::not_found", "no snapshot 's2'"},
           {{"snapshot", "rm", "web", "s2"}, "snapshot::not_found", "no snapshot 's2'"},
           {{"snapshot", "restore", "web", "../s1"}, "snapshot::invalid_name", "../s1"},
           {{"snapshot", "list", "nope"}, "vm::not_found", "nope"},
       }) {
    ProcessResult r = vmctl(c.args);
    EXPECT_NE(r.exit_code, 0) << join(c.args) << r.err;
    EXPECT_NE(r.err.find(c.code), std::string::npos) << join(c.args) << r.err;
    EXPECT_NE(r.err.find(c.text), std::string::npos) << join(c.args) << r.err;
  }
  ProcessResult not_found = vmctl({"snapshot", "rm", "web", "s2"});
  EXPECT_NE(not_found.err.find("'vmctl snapshot list web'"), std::string::npos) << not_found.err;
  ProcessResult exists = vmctl({"snapshot", "create", "web", "s1"});
  EXPECT_NE(exists.err.find("'vmctl snapshot rm web SNAP'"), std::string::npos) << exists.err;
  EXPECT_EQ(json::parse(ok({"snapshot", "list", "web", "--json"})).size(), 1u);
}

TEST_F(VmctlTest, SnapshotsGoWithTheVm) {
  ok({"create", "--name", "web", "--backend", "noop"});
  ok({"snapshot", "create", "web", "s1"});
  ok({"destroy", "web"});
  ok({"create", "--name", "web", "--backend", "noop"});
  EXPECT_EQ(json::parse(ok({"snapshot", "list", "web", "--json"})), json::array());
}

}  // namespace
}  // namespace vmctl::test
