// vmctl ssh's habits from the first vmctl that need no guest: which VM it
// picks without a NAME, and its options. The logins themselves are in
// ssh_cli_test.cpp (the tiny guest).
#include <fmt/format.h>
#include <gmock/gmock.h>

#include <filesystem>
#include <fstream>

#include "os/files.hpp"
#include "ssh/keys.hpp"
#include "support/sshd.hpp"
#include "vmctl/cli_fixture.hpp"

namespace vmctl::test {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

class SshHabitsCliTest : public VmctlTest {
 protected:
  ProcessResult ssh_in(const fs::path& folder, const std::vector<std::string>& args) {
    std::vector<std::string> all{"ssh"};
    all.insert(all.end(), args.begin(), args.end());
    ProcessOptions options;
    options.cwd = folder.string();
    return run_vmctl(data_.str(), all, options);
  }

  static std::string noop_vm(const std::string& name) {
    return "vm \"" + name + "\" {\n    image \"disk.img\"\n    backend \"noop\"\n}\n";
  }

  void SetUp() override {
    fs::create_directories(project_);
    std::ofstream(project_ / "disk.img") << "a disk image the noop backend never reads";
  }

  fs::path project_ = data_ / "project";
};

TEST_F(SshHabitsCliTest, WithoutANameTheOneVmOfTheVmfileIsUsed) {
  std::ofstream(project_ / "VMFile.kdl") << noop_vm("only");
  ProcessResult missing = ssh_in(project_, {});
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_THAT(missing.err, HasSubstr("error[vm_manager::vm::not_found]: ")) << missing.err;
  EXPECT_THAT(missing.err, HasSubstr("'only'")) << "the VMFile's VM was looked for: " << missing.err;

  ok({"create", "--name", "only", "--backend", "noop", "--start"});
  ProcessResult noop = ssh_in(project_, {});
  EXPECT_EQ(noop.exit_code, 1);
  EXPECT_THAT(noop.err, HasSubstr("error[vm_manager::ssh::not_configured]: VM 'only' has no SSH access")) << noop.err;

  // --file names the VMFile from anywhere.
  ProcessResult by_file = ssh_in(data_.path(), {"--file", (project_ / "VMFile.kdl").string()});
  EXPECT_THAT(by_file.err, HasSubstr("VM 'only' has no SSH access")) << by_file.err;
}

TEST_F(SshHabitsCliTest, SeveralVmsInTheVmfileAreListed) {
  std::ofstream(project_ / "VMFile.kdl") << noop_vm("web") << noop_vm("db") << noop_vm("cache");
  ProcessResult r = ssh_in(project_, {});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.out, "");
  EXPECT_THAT(r.err, HasSubstr("error[vm_manager::ssh::which_vm]: " + (project_ / "VMFile.kdl").string() +
                               " defines 3 VMs: web, db, cache\n"))
      << r.err;
  EXPECT_THAT(r.err, HasSubstr("  help: name the one to log into, e.g. 'vmctl ssh web'\n")) << r.err;
}

TEST_F(SshHabitsCliTest, NoNameAndNoVmfileSaysWhatToDo) {
  ProcessResult r = ssh_in(project_, {});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("error[vm_manager::vmfile::not_found]: no VM named and no VMFile.kdl in " +
                               project_.string()))
      << r.err;
  EXPECT_THAT(r.err, HasSubstr("vmctl ssh NAME")) << r.err;
}

// A VM whose record names a jump host (as a libvirt VM on another host's
// does; here a noop VM's record, edited): ssh-config shows the jump host's
// block and the ProxyJump, and `vmctl ssh` logs in through two real sshd
// with the system's OpenSSH client.
TEST_F(SshHabitsCliTest, AVmBehindAJumpHostIsReachedThroughIt) {
  Sshd jump;
  Sshd guest;
  ok({"create", "--name", "far", "--backend", "noop", "--start"});
  const fs::path record = data_ / "vms" / "far" / "vm.json";
  nlohmann::json vm = nlohmann::json::parse(*vm_manager::os::read_file(record));
  nlohmann::json& handle = vm["handle"];
  const fs::path guest_known_hosts = guest.scratch() / "known_hosts";
  const fs::path jump_known_hosts = jump.scratch() / "known_hosts";
  vm_manager::os::write_file_atomic(guest_known_hosts, "far-alias " + guest.host_key().line() + "\n", 0600);
  vm_manager::ssh::write_known_hosts(jump_known_hosts, "127.0.0.1", jump.port(), jump.host_key());
  handle["ssh_host"] = "127.0.0.1";
  handle["ssh_port"] = guest.port();
  handle["ssh_user"] = guest.user();
  handle["ssh_identity_file"] = guest.identity_file().string();
  handle["ssh_host_key_alias"] = "far-alias";
  handle["ssh_known_hosts"] = guest_known_hosts.string();
  handle["ssh_jump"] = {{"user", jump.user()},
                        {"host", "127.0.0.1"},
                        {"port", jump.port()},
                        {"identity_file", jump.identity_file().string()},
                        {"known_hosts", jump_known_hosts.string()}};
  vm_manager::os::write_file_atomic(record, vm.dump(2), 0600);

  const std::string config = ok({"ssh-config", "far"});
  EXPECT_THAT(config, HasSubstr("  ProxyJump far+jump\n")) << config;
  EXPECT_THAT(config, HasSubstr(fmt::format("Host far+jump\n  HostName 127.0.0.1\n  Port {}\n", jump.port())))
      << config;
  EXPECT_THAT(config, HasSubstr("UserKnownHostsFile " + jump_known_hosts.string())) << config;

  ProcessResult r = vmctl({"ssh", "far", "--", "echo", "far", "away;", "exit", "4"});
  EXPECT_EQ(r.exit_code, 4) << r.err;
  EXPECT_EQ(r.out, "far away\n") << r.err;
  EXPECT_THAT(jump.log(), HasSubstr("Accepted publickey")) << "the jump host was not used";
  EXPECT_EQ(*vm_manager::os::read_file(data_ / "vms" / "far" / "ssh_config"), config);
}

TEST_F(SshHabitsCliTest, OptionsAreDocumentedAndChecked) {
  std::string help = ok({"ssh", "--help"});
  for (const char* option : {"--user", "--key", "--timeout", "--file"}) EXPECT_THAT(help, HasSubstr(option));
  EXPECT_THAT(help, HasSubstr("30")) << "--timeout's default shows";
  EXPECT_THAT(help, HasSubstr("id_ed25519"));
  ProcessResult negative = vmctl({"ssh", "web", "--timeout", "-1"});
  EXPECT_EQ(negative.exit_code, 2) << negative.err;

  ok({"create", "--name", "web", "--backend", "noop", "--start"});
  ProcessResult key = vmctl({"ssh", "web", "--key", (data_ / "no-such-key").string()});
  EXPECT_EQ(key.exit_code, 1);
  // Access is checked first: a noop VM has none, whatever the key.
  EXPECT_THAT(key.err, HasSubstr("ssh::not_configured")) << key.err;
}

}  // namespace
}  // namespace vmctl::test
