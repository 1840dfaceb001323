// The OpenSSH config `vmctl ssh-config` prints and `vmctl ssh` hands to ssh
// (-F) for a VM behind a jump host: its text, and the system's OpenSSH client
// logging in with it through two real sshd on 127.0.0.1 (jump and "guest").
#include "vmctl/guest_access.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>

#include "os/files.hpp"
#include "ssh/keys.hpp"
#include "support/process.hpp"
#include "support/sshd.hpp"

namespace vmctl {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using vm_manager::SshAccess;
using vm_manager::SshJumpHost;

const SshJumpHost kJump{"ci", "build1.example", 2222, "/keys/ci key", "/keys/known_hosts"};

TEST(OpensshConfig, WithoutAJumpHostItIsTheVmsBlockAlone) {
  EXPECT_EQ(openssh_config("web", {"HostName 127.0.0.1", "Port 2200"}, std::nullopt),
            "Host web\n  HostName 127.0.0.1\n  Port 2200\n");
}

TEST(OpensshConfig, AJumpHostGetsItsOwnBlockAndTheVmAProxyJump) {
  EXPECT_EQ(openssh_config("web", {"HostName 192.168.122.5", "Port 22"}, kJump),
            "Host web\n"
            "  HostName 192.168.122.5\n"
            "  Port 22\n"
            "  ProxyJump web+jump\n"
            "\n"
            "Host web+jump\n"
            "  HostName build1.example\n"
            "  Port 2222\n"
            "  User ci\n"
            "  IdentityFile \"/keys/ci key\"\n"
            "  IdentitiesOnly yes\n"
            "  UserKnownHostsFile /keys/known_hosts\n"
            "  StrictHostKeyChecking yes\n"
            "  LogLevel ERROR\n");
}

TEST(OpensshConfig, UnsetJumpSettingsAreLeftToOpensshsDefaults) {
  const std::string text = openssh_config("web", {}, SshJumpHost{"", "build1", 22, "", ""});
  EXPECT_THAT(text, HasSubstr("Host web+jump\n  HostName build1\n  Port 22\n  StrictHostKeyChecking yes\n"));
  for (const char* absent : {"User", "IdentityFile", "UserKnownHostsFile"}) {
    EXPECT_THAT(text, ::testing::Not(HasSubstr(absent))) << text;
  }
}

// The real thing: OpenSSH's ssh reads the config and logs into the "guest"
// through the jump host; with another key pinned for the jump host, it refuses.
class OpensshThroughJumpTest : public ::testing::Test {
 protected:
  OpensshThroughJumpTest() {
    vm_manager::ssh::write_known_hosts(jump_known_hosts_, "127.0.0.1", jump_sshd_.port(), jump_sshd_.host_key());
    // The VM's known_hosts files its key under an alias, as vmctl's do.
    vm_manager::os::write_file_atomic(guest_known_hosts_, "vm-alias " + guest_sshd_.host_key().line() + "\n", 0600);
  }

  std::vector<std::string> vm_settings() const {
    SshAccess access;
    access.host = "127.0.0.1";
    access.port = guest_sshd_.port();
    access.user = guest_sshd_.user();
    access.identity_file = guest_sshd_.identity_file().string();
    access.known_hosts = guest_known_hosts_.string();
    access.host_key_alias = "vm-alias";
    return openssh_settings(access);
  }

  SshJumpHost jump() const {
    return {jump_sshd_.user(), "127.0.0.1", jump_sshd_.port(), jump_sshd_.identity_file().string(),
            jump_known_hosts_.string()};
  }

  test::ProcessResult ssh(const SshJumpHost& jump, const std::string& command) {
    std::ofstream(config_) << openssh_config("vm", vm_settings(), jump);
    return test::run_process({"ssh", "-F", config_.string(), "-o", "BatchMode=yes", "--", "vm", command},
                             {{}, std::chrono::seconds(60)});
  }

  test::Sshd jump_sshd_;
  test::Sshd guest_sshd_;
  fs::path jump_known_hosts_ = jump_sshd_.scratch() / "known_hosts";
  fs::path guest_known_hosts_ = guest_sshd_.scratch() / "known_hosts";
  fs::path config_ = jump_sshd_.scratch() / "ssh_config";
};

TEST_F(OpensshThroughJumpTest, SshLogsInThroughTheJumpHost) {
  const test::ProcessResult r = ssh(jump(), "echo through; exit 3");
  EXPECT_EQ(r.exit_code, 3) << r.err;
  EXPECT_EQ(r.out, "through\n");
  // The jump host relayed it (its sshd logs the login of the ProxyJump's ssh).
  EXPECT_THAT(jump_sshd_.log(), HasSubstr("Accepted publickey")) << jump_sshd_.log();
}

TEST_F(OpensshThroughJumpTest, AnotherJumpHostKeyIsRefused) {
  vm_manager::ssh::write_known_hosts(jump_known_hosts_, "127.0.0.1", jump_sshd_.port(),
                                     vm_manager::ssh::generate_ed25519("impostor").public_key);
  const test::ProcessResult r = ssh(jump(), "echo through");
  EXPECT_EQ(r.exit_code, 255);
  EXPECT_EQ(r.out, "");
  EXPECT_THAT(jump_sshd_.log(), ::testing::Not(HasSubstr("Accepted publickey")));
}

}  // namespace
}  // namespace vmctl
