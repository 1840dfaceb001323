// The libvirt test harness itself: the real daemon comes up in its own
// namespace with our network and pool, and leaves nothing behind.
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

#include "backends/libvirt/libvirt_host.hpp"
#include "backends/qemu/netns.hpp"

namespace vmctl::test {
namespace {
namespace fs = std::filesystem;

struct stat kvm_stat() {
  struct stat st {};
  ::stat("/dev/kvm", &st);
  return st;
}

// virsh pads `pool-list --name` with blanks.
std::string names(const ProcessResult& result) {
  std::string text;
  for (char c : result.out) {
    if (c != ' ') text += c;
  }
  return text;
}

bool alive(pid_t pid) { return pid > 0 && process_start_time(pid) != 0; }

TEST(LibvirtHost, RunsTheDaemonWithOurNetworkAndPoolAndLeavesNothing) {
  const bool has_kvm = fs::exists("/dev/kvm");
  const struct stat kvm_before = kvm_stat();
  std::string netns;
  fs::path dir;
  pid_t libvirtd = 0;
  {
    LibvirtHost host;
    netns = host.netns();
    dir = host.dir();
    libvirtd = host.libvirtd_pid();
    ASSERT_TRUE(alive(libvirtd));
    EXPECT_TRUE(fs::exists("/run/netns/" + netns));
    // libvirtd lives in the namespace, not in ours.
    EXPECT_EQ(netns_inode("/proc/" + std::to_string(libvirtd) + "/ns/net"), netns_inode("/run/netns/" + netns));

    const auto pools = host.virsh({"pool-list", "--name"});
    EXPECT_EQ(names(pools), "default\n") << pools.err;
    const auto pool = host.virsh({"pool-dumpxml", "default"});
    EXPECT_NE(pool.out.find("<path>" + host.pool_dir().string() + "</path>"), std::string::npos) << pool.out;
    const auto nets = host.virsh({"net-list", "--name"});
    EXPECT_EQ(nets.out, "default\n") << nets.err;
    // The bridge is in the namespace, not on the host.
    EXPECT_TRUE(run_process(host.in_netns({"ip", "link", "show", LibvirtHost::bridge})).exit_code == 0);
    EXPECT_FALSE(run_process({"ip", "link", "show", LibvirtHost::bridge}).exit_code == 0);
    if (has_kvm) {
      const struct stat during = kvm_stat();
      EXPECT_EQ(during.st_mode & 07777, 0660u);
      EXPECT_EQ(during.st_uid, 0u);
    }
    // A domain the test leaves defined is gone after tear-down.
    std::ofstream(dir / "leftover.xml") << "<domain type='qemu'><name>vmctl-harness-leftover</name>"
                                           "<memory unit='MiB'>32</memory><os><type>hvm</type></os></domain>";
    ASSERT_EQ(host.virsh({"define", (dir / "leftover.xml").string()}).exit_code, 0);
    // Started, so that libvirt writes its log of the domain.
    const auto started = host.virsh({"start", "vmctl-harness-leftover"});
    EXPECT_EQ(started.exit_code, 0) << started.err;
    EXPECT_TRUE(fs::exists("/var/log/libvirt/qemu/vmctl-harness-leftover.log"));
    EXPECT_EQ(host.domains().count("vmctl-harness-leftover"), 1u);
  }
  EXPECT_FALSE(alive(libvirtd));
  EXPECT_FALSE(fs::exists("/run/netns/" + netns));
  EXPECT_FALSE(fs::exists(dir));
  EXPECT_FALSE(fs::exists(LibvirtHost::state_file));
  EXPECT_FALSE(fs::exists("/etc/libvirt/qemu/vmctl-harness-leftover.xml"));
  EXPECT_FALSE(fs::exists("/var/log/libvirt/qemu/vmctl-harness-leftover.log"));
  if (has_kvm) {
    const struct stat after = kvm_stat();
    EXPECT_EQ(after.st_mode, kvm_before.st_mode);
    EXPECT_EQ(after.st_uid, kvm_before.st_uid);
    EXPECT_EQ(after.st_gid, kvm_before.st_gid);
  }
}

TEST(LibvirtHost, SurvivesADaemonCrashAndRestart) {
  LibvirtHost host;
  const pid_t first = host.libvirtd_pid();
  host.kill_libvirtd();
  EXPECT_FALSE(alive(first));
  EXPECT_NE(host.virsh({"list"}).exit_code, 0);
  host.start_libvirtd();
  EXPECT_NE(host.libvirtd_pid(), first);
  // The transient network and pool are still there.
  EXPECT_EQ(host.virsh({"net-list", "--name"}).out, "default\n");
  EXPECT_EQ(names(host.virsh({"pool-list", "--name"})), "default\n");
}

TEST(LibvirtHost, ReachesTheSameDaemonThroughSshWithThePinnedHostKey) {
  LibvirtHost host(LibvirtHostOptions{.sshd = true});
  for (const auto& uri : {host.ssh_uri(), host.libssh_uri()}) {
    const auto result = run_process(host.in_netns({"virsh", "-q", "-c", uri, "net-list", "--name"}));
    EXPECT_EQ(result.exit_code, 0) << uri << ": " << result.err << host.log();
    EXPECT_EQ(result.out, "default\n") << uri;
  }
  // Another host key in known_hosts: both transports refuse.
  std::ofstream(host.ssh_known_hosts())
      << "[127.0.0.1]:" << host.ssh_port()
      << " ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOLzMRCn3VYfyDPUZi2c6jyGoJ4HYL0+7anuYEu3Uq1s\n";
  for (const auto& uri : {host.ssh_uri(), host.libssh_uri()}) {
    const auto result = run_process(host.in_netns({"virsh", "-q", "-c", uri, "net-list", "--name"}),
                                    ProcessOptions{{}, std::chrono::seconds(30)});
    EXPECT_NE(result.exit_code, 0) << uri << " connected despite a wrong pinned host key";
  }
}

// A run killed before its tear-down: the next harness undoes it.
TEST(LibvirtHost, CleansUpAfterAKilledRun) {
  const struct stat kvm_before = kvm_stat();
  pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    LibvirtHost host;
    ::kill(::getpid(), SIGKILL);  // no destructor runs
  }
  int status = 0;
  ::waitpid(child, &status, 0);
  ASSERT_TRUE(WIFSIGNALED(status));
  const std::string stale = "vmctl-lv" + std::to_string(child);
  EXPECT_TRUE(fs::exists(LibvirtHost::state_file));
  {
    LibvirtHost host;
    EXPECT_FALSE(fs::exists("/run/netns/" + stale));
    EXPECT_EQ(host.virsh({"net-list", "--name"}).out, "default\n");
  }
  EXPECT_FALSE(fs::exists(LibvirtHost::state_file));
  const struct stat after = kvm_stat();
  EXPECT_EQ(after.st_mode, kvm_before.st_mode);
  EXPECT_EQ(after.st_gid, kvm_before.st_gid);
}

}  // namespace
}  // namespace vmctl::test
