// vmctl ssh, ssh-config, cp and --wait against the tiny guest's real sshd
// (dropbear), through the system's OpenSSH client and vmctl's libssh client.
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <random>
#include <sstream>
#include <thread>

#include "os/files.hpp"
#include "ssh/keys.hpp"
#include "support/file_tree.hpp"
#include "support/terminal.hpp"
#include "vmctl/qemu_cli_fixture.hpp"

namespace vmctl::test {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

class SshCliTest : public QemuCliTest {
 protected:
  // create --start --wait: returns when SSH lets vmctl in.
  void create_ready(const std::string& name, std::vector<std::string> extra = {}) {
    auto args = create_args(name);
    args.insert(args.end(), {"--start", "--wait", "--wait-timeout", "240"});
    args.insert(args.end(), extra.begin(), extra.end());
    ProcessResult r = slow(args);
    ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
    EXPECT_NE(r.out.find("is ready"), std::string::npos) << r.out;
    EXPECT_NE(r.err.find("Waiting for SSH"), std::string::npos) << r.err;
  }

  fs::path vm_file(const std::string& name, const std::string& file) { return data_ / "vms" / name / file; }

  // Files a different host key under the VM's alias: a guest presenting
  // its real key now looks like an impostor.
  void forge_known_hosts(const std::string& name) {
    vm_manager::ssh::PublicKey other = vm_manager::ssh::generate_ed25519().public_key;
    std::ofstream(vm_file(name, "known_hosts"), std::ios::trunc)
        << "vmctl-" << name << " " << other.type << " " << other.base64 << "\n";
  }
};

TEST_F(SshCliTest, CreateStartWaitThenSshRunsCommandsWithTheirExitStatus) {
  create_ready("sshy");
  ProcessResult host = vmctl({"ssh", "sshy", "--", "hostname"});
  EXPECT_EQ(host.exit_code, 0) << host.err;
  EXPECT_EQ(host.out, "sshy\n");
  ProcessResult status = vmctl({"ssh", "sshy", "--", "sh", "-c", "'echo out; echo err >&2; exit 7'"});
  EXPECT_EQ(status.exit_code, 7) << status.err;
  EXPECT_EQ(status.out, "out\n");
  EXPECT_NE(status.err.find("err"), std::string::npos);
  ProcessResult root = vmctl({"ssh", "sshy", "--", "sudo", "-n", "id", "-u"});
  EXPECT_EQ(root.out, "0\n") << root.err;

  // The interactive login a user types: a terminal, a shell, its exit status.
  Pty pty;
  ProcessOptions on_terminal;
  on_terminal.stdin_path = ::ttyname(pty.slave.get());
  RunningProcess login(vmctl_argv(data_.str(), {"ssh", "sshy"}), on_terminal);
  ASSERT_TRUE(wait_for_raw(pty)) << "ssh never took the terminal";
  write_all(pty.master.get(), "echo \"logged in as $(id -un) on $(hostname)\"; exit 3\n");
  ProcessResult interactive = login.finish();
  EXPECT_EQ(interactive.exit_code, 3) << interactive.out << interactive.err;
  EXPECT_NE(interactive.out.find("logged in as vm on sshy"), std::string::npos) << interactive.out;

  // A second `start --wait` of the running VM only waits.
  ProcessResult again = slow({"start", "sshy", "--wait"});
  EXPECT_EQ(again.exit_code, 0) << again.err;
  EXPECT_NE(again.out.find("already running"), std::string::npos);
}

TEST_F(SshCliTest, SshConfigWorksWithPlainOpenSsh) {
  create_ready("cfg");
  std::string config = ok({"ssh-config", "cfg"});
  EXPECT_EQ(config.rfind("Host cfg\n", 0), 0u) << config;
  EXPECT_NE(config.find("  StrictHostKeyChecking yes\n"), std::string::npos) << config;
  EXPECT_NE(config.find("  UserKnownHostsFile " + vm_file("cfg", "known_hosts").string()), std::string::npos);
  EXPECT_EQ(config.find("StrictHostKeyChecking no"), std::string::npos);
  fs::path file = data_ / "ssh_config";
  std::ofstream(file) << config;
  ProcessResult r = run_process({"ssh", "-F", file.string(), "cfg", "echo", "via-config"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "via-config\n");
}

TEST_F(SshCliTest, CpRoundTripsAFileWithItsModeAndCreatesFolders) {
  create_ready("cp1");
  std::string payload(3 * 1024 * 1024 + 17, '\0');
  std::mt19937 random(42);
  for (char& c : payload) c = static_cast<char>(random());
  fs::path local = data_ / "payload.bin";
  std::ofstream(local, std::ios::binary) << payload;
  fs::permissions(local, fs::perms::owner_read | fs::perms::owner_write | fs::perms::group_read);

  ok({"cp", local.string(), "cp1:/tmp/deep/er/payload.bin"});
  ProcessResult listed = vmctl({"ssh", "cp1", "--", "stat", "-c", "%a:%s", "/tmp/deep/er/payload.bin"});
  EXPECT_EQ(listed.out, "640:" + std::to_string(payload.size()) + "\n") << listed.err;

  fs::path back = data_ / "back" / "copy.bin";
  fs::create_directories(back.parent_path());
  ok({"cp", "cp1:/tmp/deep/er/payload.bin", back.string()});
  EXPECT_EQ(vm_manager::os::read_file(back).value_or(""), payload);
  ok({"cp", "cp1:/tmp/deep/er/payload.bin", (data_ / "back").string()});  // into a folder
  EXPECT_TRUE(fs::exists(data_ / "back" / "payload.bin"));

  ProcessResult missing = vmctl({"cp", "cp1:/no/such/file", back.string()});
  EXPECT_NE(missing.exit_code, 0);
  EXPECT_NE(missing.err.find("error[vm_manager::ssh::sftp_failed]"), std::string::npos) << missing.err;
  ProcessResult neither = vmctl({"cp", local.string(), back.string()});
  EXPECT_NE(neither.err.find("error[vm_manager::spec::invalid]"), std::string::npos) << neither.err;
}

// cp -r both ways through the guest's Dropbear and OpenSSH's sftp-server
// (whose SSH_FXP_SYMLINK takes its paths in OpenSSH's order while the
// banner says Dropbear): nested folders, an empty one, 0700 entries and
// symlinks inside, out of and above the tree, copied as symlinks.
TEST_F(SshCliTest, CpRecursiveCopiesATreeBothWaysKeepingModesAndSymlinks) {
  create_ready("cpr");
  const fs::path tree = data_ / "tree";
  make_sample_tree(tree);

  ok({"cp", "-r", tree.string(), "cpr:/tmp/up"});
  auto in_guest = [&](const std::string& command) {
    ProcessResult r = vmctl({"ssh", "cpr", "--", command});
    EXPECT_EQ(r.exit_code, 0) << command << ": " << r.err;
    return r.out;
  };
  EXPECT_EQ(in_guest("stat -c '%F %a' /tmp/up/secret.txt /tmp/up/private /tmp/up/empty"),
            "regular file 700\ndirectory 700\ndirectory 755\n");
  EXPECT_EQ(in_guest("ls -A /tmp/up/empty | wc -l"), "0\n");
  EXPECT_EQ(in_guest("cat /tmp/up/a/b/c/deep.txt"), "deep down\n");
  EXPECT_EQ(in_guest("for l in /tmp/up/link-out /tmp/up/link-in /tmp/up/a/link-up; do readlink $l; done"),
            "/etc/hostname\na/b/c/deep.txt\n../../outside\n");
  EXPECT_EQ(in_guest("stat -c %F /tmp/up/link-out /tmp/up/a/link-to-folder"), "symbolic link\nsymbolic link\n");

  // Into an existing folder, under the source's name, as cp -r does.
  ok({"cp", "-r", tree.string(), "cpr:/tmp"});
  EXPECT_EQ(in_guest("readlink /tmp/tree/dangling"), "nowhere\n");

  ok({"cp", "-r", "cpr:/tmp/up", (data_ / "back").string()});
  EXPECT_EQ(describe_tree(data_ / "back"), describe_tree(tree));
  fs::create_directories(data_ / "into");
  ok({"cp", "--recursive", "cpr:/tmp/tree", (data_ / "into").string()});
  EXPECT_EQ(describe_tree(data_ / "into" / "tree"), describe_tree(tree));

  // Without -r a folder is refused with the way to copy it.
  ProcessResult folder = vmctl({"cp", tree.string(), "cpr:/tmp/x"});
  EXPECT_EQ(folder.exit_code, 1);
  EXPECT_NE(folder.err.find("add -r to copy a folder"), std::string::npos) << folder.err;
  ProcessResult file = vmctl({"cp", "-r", (tree / "secret.txt").string(), "cpr:/tmp/x"});
  EXPECT_NE(file.err.find("error[vm_manager::cp::not_a_folder]"), std::string::npos) << file.err;
  EXPECT_NE(file.err.find("try: copy a single file without -r"), std::string::npos) << file.err;
}

TEST_F(SshCliTest, AGuestPresentingADifferentHostKeyIsRefused) {
  create_ready("spoof");
  forge_known_hosts("spoof");
  ProcessResult openssh = vmctl({"ssh", "spoof", "--", "echo", "should-not-run"});
  EXPECT_EQ(openssh.exit_code, 255);
  EXPECT_EQ(openssh.out.find("should-not-run"), std::string::npos);
  EXPECT_NE(openssh.err.find("Host key verification failed"), std::string::npos) << openssh.err;

  ProcessResult libssh = vmctl({"cp", "spoof:/etc/hostname", (data_ / "h").string()});
  EXPECT_NE(libssh.exit_code, 0);
  EXPECT_NE(libssh.err.find("error[vm_manager::ssh::host_key_mismatch]"), std::string::npos) << libssh.err;
  EXPECT_FALSE(fs::exists(data_ / "h"));
  ProcessResult wait = slow({"start", "spoof", "--wait", "--wait-timeout", "30"});
  EXPECT_NE(wait.err.find("error[vm_manager::ssh::host_key_mismatch]"), std::string::npos) << wait.err;
}

TEST_F(SshCliTest, TheUsersOwnKeyAndUserName) {
  fs::path key = data_ / "mykey";
  vm_manager::ssh::generate_key_files(key, "me@test");
  create_ready("own", {"--ssh-key", key.string() + ".pub", "--ssh-user", "alice"});
  EXPECT_FALSE(fs::exists(vm_file("own", "id_ed25519"))) << "no key is generated when the user brings one";
  ProcessResult who = vmctl({"ssh", "own", "--", "id", "-un"});
  EXPECT_EQ(who.out, "alice\n") << who.err;
  EXPECT_EQ(status("own").at("ssh_user"), "alice");
}

// The tiny guest's stand-in for cloud-init authorizes keys only where
// cloud-init reads them (the top-level ssh_authorized_keys and the login
// user's entry): a key elsewhere in the user's own user-data grants no login,
// while the rightly placed key of the same user-data does.
TEST_F(SshCliTest, AKeyInTheWrongPlaceGrantsNoLogin) {
  const fs::path right = data_ / "right";
  const fs::path wrong = data_ / "wrong";
  vm_manager::ssh::generate_key_files(right, "right@test");
  vm_manager::ssh::generate_key_files(wrong, "wrong@test");
  const std::string right_key = vm_manager::ssh::read_public_key_file(right.string() + ".pub").line();
  const std::string wrong_key = vm_manager::ssh::read_public_key_file(wrong.string() + ".pub").line();
  const fs::path user_data = data_ / "user-data";
  std::ofstream(user_data) << "#cloud-config\n"
                           << "ssh_authorized_keys:\n  - " << right_key << "\n"
                           << "ssh_authorised_keys:\n  - " << wrong_key << "\n"
                           << "users:\n  - default\n  - name: mallory\n    ssh_authorized_keys: [\"" << wrong_key
                           << "\"]\n"
                           << "write_files:\n  - path: /tmp/note\n    content: \"" << wrong_key << "\"\n"
                           << "runcmd:\n  - echo '" << wrong_key << "'\n";
  create_ready("keys", {"--cloud-init", user_data.string()});
  EXPECT_NE(ok({"log", "keys"}).find("TINY-GUEST: user vm keys 2"), std::string::npos)
      << "vmctl's key and the rightly placed one";

  // Plain OpenSSH with one key only: the VM's own identity left out.
  std::string config;
  std::istringstream lines(ok({"ssh-config", "keys"}));
  for (std::string line; std::getline(lines, line);) {
    if (line.find("IdentityFile") == std::string::npos) config += line + "\n";
  }
  const fs::path config_file = data_ / "ssh_config";
  std::ofstream(config_file) << config;
  auto login_with = [&](const fs::path& key) {
    return run_process({"ssh", "-F", config_file.string(), "-o", "BatchMode=yes", "-o", "IdentitiesOnly=yes", "-i",
                        key.string(), "keys", "echo", "in"});
  };
  ProcessResult in = login_with(right);
  EXPECT_EQ(in.exit_code, 0) << in.err;
  EXPECT_EQ(in.out, "in\n");
  ProcessResult refused = login_with(wrong);
  EXPECT_EQ(refused.exit_code, 255) << refused.out << refused.err;
  EXPECT_EQ(refused.out, "");
  EXPECT_NE(refused.err.find("Permission denied"), std::string::npos) << refused.err;
}

// The guest's cloud-init (its stand-in, told by the kernel command line)
// reports an error, then never finishes: --wait says which, and when.
TEST_F(SshCliTest, WaitReportsAFailedOrUnfinishedCloudInit) {
  auto failing = create_args("ci-error");
  failing[failing.size() - 3] = "console=ttyS0 panic=-1 tiny.cloud_init=error";
  failing.insert(failing.end(), {"--start", "--wait", "--wait-timeout", "240"});
  ProcessResult error = slow(failing);
  EXPECT_EQ(error.exit_code, 1);
  EXPECT_NE(error.err.find("Waiting for cloud-init on VM 'ci-error'"), std::string::npos) << error.err;
  EXPECT_NE(error.err.find("error[vm_manager::vm::start_failed]: cloud-init in VM 'ci-error' failed (status 1): "
                           "status: error"),
            std::string::npos)
      << error.err;
  EXPECT_EQ(state_of("ci-error"), "running") << "the VM is left running for the user to look into";

  auto hanging = create_args("ci-hang");
  hanging[hanging.size() - 3] = "console=ttyS0 panic=-1 tiny.cloud_init=hang";
  hanging.push_back("--start");
  ok(hanging);
  // Until SSH lets us in, so that the short --wait-timeout below is spent on cloud-init.
  const auto boot_deadline = std::chrono::steady_clock::now() + 240s;
  while (vmctl({"ssh", "ci-hang", "--", "true"}).exit_code != 0) {
    ASSERT_LT(std::chrono::steady_clock::now(), boot_deadline) << "the guest's sshd never let us in";
    std::this_thread::sleep_for(200ms);
  }
  const auto begin = std::chrono::steady_clock::now();
  ProcessResult hang = slow({"start", "ci-hang", "--wait", "--wait-timeout", "3"});
  EXPECT_LT(std::chrono::steady_clock::now() - begin, 120s) << "only a hang takes this long";
  EXPECT_EQ(hang.exit_code, 1);
  EXPECT_NE(hang.err.find("error[vm_manager::ssh::timeout]: cloud-init in VM 'ci-hang' did not finish within 3 s"),
            std::string::npos)
      << hang.err;
}

// The first vmctl's habits: `vmctl ssh` with no NAME in the VMFile's folder,
// a provision without a type, `log --provision`, --user and --key, and
// --timeout giving up on a guest whose sshd is gone.
TEST_F(SshCliTest, HabitsOfTheFirstVmctl) {
  const fs::path project = data_ / "project";
  fs::create_directories(project);
  TinyGuest guest = TinyGuest::locate();
  std::ofstream(project / "VMFile.kdl") << "vm \"habit\" {\n"
                                        << "    image \"" << guest.disk.string() << "\"\n"
                                        << "    kernel \"" << guest.kernel.string() << "\"\n"
                                        << "    initrd \"" << guest.initrd.string() << "\"\n"
                                        << "    cmdline \"console=ttyS0 panic=-1\"\n"
                                        << "    memory 192\n"
                                        << "    provision { inline \"echo provisioned on $(hostname)\"; }\n"
                                        << "}\n";
  ProcessOptions in_project;
  in_project.timeout = 400s;
  in_project.cwd = project.string();
  ProcessResult up = run_vmctl(data_.str(), {"up"}, in_project);
  ASSERT_EQ(up.exit_code, 0) << up.out << up.err;
  EXPECT_NE(up.out.find("habit | provisioned on habit"), std::string::npos) << up.out;

  // No NAME: the VMFile's one VM; a login shell reading its commands from stdin.
  const fs::path commands = data_ / "commands";
  std::ofstream(commands) << "echo \"on $(hostname) as $(id -un)\"\n";
  ProcessOptions login = in_project;
  login.stdin_path = commands.string();
  ProcessResult bare = run_vmctl(data_.str(), {"ssh"}, login);
  EXPECT_EQ(bare.exit_code, 0) << bare.err;
  EXPECT_NE(bare.out.find("on habit as vm\n"), std::string::npos) << bare.out;

  std::string log = ok({"log", "habit", "--provision"});
  EXPECT_NE(log.find("provisioned on habit"), std::string::npos) << log;
  const std::string last = ok({"log", "habit", "--provision", "--tail", "1"});
  EXPECT_EQ(std::count(last.begin(), last.end(), '\n'), 1) << last;
  EXPECT_TRUE(log.ends_with(last)) << last;

  // --user: root has the VM's key too (the guest's cloud-init stand-in puts it there).
  ProcessResult root = vmctl({"ssh", "habit", "--user", "root", "--", "id", "-u"});
  EXPECT_EQ(root.out, "0\n") << root.err;

  // --key: a key the guest was told about works, one it was not is refused.
  const fs::path granted = data_ / "granted";
  const fs::path stranger = data_ / "stranger";
  vm_manager::ssh::generate_key_files(granted, "granted@test");
  vm_manager::ssh::generate_key_files(stranger, "stranger@test");
  const std::string granted_key = vm_manager::ssh::read_public_key_file(granted.string() + ".pub").line();
  ASSERT_EQ(vmctl({"ssh", "habit", "--", "sh", "-c", "'echo \"" + granted_key + "\" >> ~/.ssh/authorized_keys'"})
                .exit_code,
            0);
  ProcessResult with_key = vmctl({"ssh", "habit", "--key", granted.string(), "--", "echo", "granted"});
  EXPECT_EQ(with_key.exit_code, 0) << with_key.err;
  EXPECT_EQ(with_key.out, "granted\n");
  ProcessResult refused = vmctl({"ssh", "habit", "--key", stranger.string(), "--", "echo", "stranger"});
  EXPECT_EQ(refused.exit_code, 255) << refused.out << refused.err;
  EXPECT_NE(refused.err.find("Permission denied"), std::string::npos) << refused.err;

  // With the guest's sshd gone, QEMU still accepts on the forwarded port but
  // no banner ever comes: --timeout gives up, saying so.
  vmctl({"ssh", "habit", "--", "sudo", "sh", "-c", "'kill $(cat /run/dropbear.pid)'"});
  ProcessResult gone = vmctl({"ssh", "habit", "--timeout", "3", "--", "true"});
  EXPECT_EQ(gone.exit_code, 1) << gone.err;
  EXPECT_NE(gone.err.find("error[vm_manager::ssh::timeout]: no SSH server answered"), std::string::npos) << gone.err;
}

// `vmctl ssh` right after a start, without --wait: it waits for the guest's
// sshd (up to --timeout) instead of failing while the guest boots.
TEST_F(SshCliTest, SshWaitsForABootingGuest) {
  auto args = create_args("early");
  args.push_back("--start");
  ok(args);
  ProcessOptions options;
  options.timeout = 300s;
  ProcessResult r = run_vmctl(data_.str(), {"ssh", "early", "--timeout", "240", "--", "hostname"}, options);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "early\n");
}

// The recorded login's key file gone: the user name is still the VM's, and
// the SSH agent's keys, then ~/.ssh/id_ed25519, id_ecdsa and id_rsa are tried.
TEST_F(SshCliTest, AGoneKeyFallsBackToTheAgentAndTheUsersKeys) {
  const fs::path key = data_ / "mine";
  vm_manager::ssh::generate_key_files(key, "mine@test");
  create_ready("gone", {"--ssh-key", key.string() + ".pub"});
  const fs::path home = data_ / "home";
  fs::create_directories(home / ".ssh");
  fs::rename(key, home / ".ssh" / "id_ecdsa");  // any of the three names; ed25519 first is not there

  const std::string no_agent = (data_ / "no-agent.sock").string();
  auto ssh_with = [&](const std::map<std::string, std::string>& env) {
    ProcessOptions options;
    options.env = env;
    return run_vmctl(data_.str(), {"ssh", "gone", "--", "echo", "in"}, options);
  };
  ProcessResult from_home = ssh_with({{"HOME", home.string()}, {"SSH_AUTH_SOCK", no_agent}});
  EXPECT_EQ(from_home.exit_code, 0) << from_home.err;
  EXPECT_EQ(from_home.out, "in\n");
  EXPECT_NE(from_home.err.find("VM 'gone''s key " + key.string() + " is gone"), std::string::npos) << from_home.err;

  // The agent alone.
  const fs::path agent_key = data_ / "agent-key";
  fs::rename(home / ".ssh" / "id_ecdsa", agent_key);
  const std::string socket = (data_ / "agent.sock").string();
  RunningProcess agent({"ssh-agent", "-D", "-a", socket}, ProcessOptions{{}, 300s});
  const auto deadline = std::chrono::steady_clock::now() + 60s;
  while (!fs::exists(socket)) {
    ASSERT_LT(std::chrono::steady_clock::now(), deadline) << "ssh-agent never made its socket (apt-get install openssh-client)";
    std::this_thread::sleep_for(50ms);
  }
  ProcessOptions add;
  add.env = {{"SSH_AUTH_SOCK", socket}};
  ProcessResult added = run_process({"ssh-add", agent_key.string()}, add);
  ASSERT_EQ(added.exit_code, 0) << added.err;
  ProcessResult from_agent = ssh_with({{"HOME", home.string()}, {"SSH_AUTH_SOCK", socket}});
  EXPECT_EQ(from_agent.exit_code, 0) << from_agent.err;
  EXPECT_EQ(from_agent.out, "in\n");

  // Neither: refused by the guest, as plain ssh would be.
  ProcessResult neither = ssh_with({{"HOME", home.string()}, {"SSH_AUTH_SOCK", no_agent}});
  EXPECT_EQ(neither.exit_code, 255) << neither.out << neither.err;
  EXPECT_NE(neither.err.find("Permission denied"), std::string::npos) << neither.err;
}

TEST_F(SshCliTest, SshIntoAStoppedVmSaysToStartIt) {
  ok(create_args("idle"));
  ProcessResult r = vmctl({"ssh", "idle"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("error[vm_manager::vm::invalid_state]"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("vmctl start idle"), std::string::npos) << r.err;
  ProcessResult wait_alone = vmctl({"create", "--name", "w", "--image", TinyGuest::locate().disk.string(), "--wait"});
  EXPECT_NE(wait_alone.err.find("--wait needs --start"), std::string::npos) << wait_alone.err;
}

}  // namespace
}  // namespace vmctl::test
