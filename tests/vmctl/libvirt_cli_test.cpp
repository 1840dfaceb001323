// vmctl --backend libvirt against the real libvirtd (LibvirtHost), run inside
// the harness's network namespace as a user on that host would run it.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <set>
#include <thread>

#include "backends/libvirt/libvirt_host.hpp"
#include "backends/qemu/tiny_guest.hpp"
#include "support/process.hpp"
#include "support/temp_dir.hpp"

namespace vmctl::test {
namespace {
namespace fs = std::filesystem;
using namespace std::chrono_literals;

std::set<std::string> vm_volumes(const fs::path& pool) {
  std::set<std::string> names;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(pool, ec)) {
    const std::string name = entry.path().filename().string();
    if (!name.starts_with("vmctl-base-")) names.insert(name);
  }
  return names;
}

class LibvirtCliTest : public ::testing::Test {
 protected:
  std::vector<std::string> create_args(const std::string& name) {
    const TinyGuest guest = TinyGuest::locate();
    return {"create", "--backend", "libvirt", "--name", name, "--image", guest.disk.string(), "--kernel",
            guest.kernel.string(), "--initrd", guest.initrd.string(), "--append", "console=ttyS0 panic=-1",
            "--memory", "192", "--accel", "tcg"};
  }
  ProcessOptions options(std::map<std::string, std::string> env = {}) {
    ProcessOptions o;
    o.env = std::move(env);
    o.timeout = 300s;  // TCG on a shared machine: the deadline only catches a hang
    return o;
  }
  ProcessResult vmctl(const std::vector<std::string>& args, std::map<std::string, std::string> env = {}) {
    return run_process(host_.in_netns(vmctl_argv(data_.str(), args)), options(std::move(env)));
  }
  std::string ok(const std::vector<std::string>& args) {
    const ProcessResult r = vmctl(args);
    EXPECT_EQ(r.exit_code, 0) << args[0] << "\nstdout: " << r.out << "\nstderr: " << r.err;
    return r.out;
  }
  nlohmann::json status(const std::string& name) { return nlohmann::json::parse(ok({"status", name, "--json"})); }
  std::string state_of(const std::string& name) { return status(name).at("state").get<std::string>(); }
  // `vmctl log` until it shows `text` (the guest writes it when it gets there).
  bool log_shows(const std::string& name, const std::string& text, std::chrono::seconds limit) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < deadline) {
      if (vmctl({"log", name}).out.find(text) != std::string::npos) return true;
      std::this_thread::sleep_for(500ms);
    }
    return false;
  }
  void expect_nothing_left() {
    EXPECT_EQ(host_.domains(), std::set<std::string>{});
    EXPECT_EQ(vm_volumes(host_.pool_dir()), std::set<std::string>{});
    std::error_code ec;
    EXPECT_TRUE(fs::is_empty(data_ / "vms", ec) || !fs::exists(data_ / "vms"));
  }

  LibvirtHost host_{LibvirtHostOptions{.sshd = true}};
  TempDir data_;
};

TEST_F(LibvirtCliTest, CreateStartLogSuspendResumeStopDestroy) {
  auto args = create_args("lvcli");
  args.push_back("--start");
  ok(args);
  const nlohmann::json s = status("lvcli");
  EXPECT_EQ(s.at("backend"), "libvirt") << s.dump();
  EXPECT_EQ(s.at("state"), "running") << s.dump();
  EXPECT_EQ(host_.domains().count("lvcli"), 1u);
  fs::path console;
  for (const auto& entry : fs::directory_iterator(host_.pool_dir())) {
    if (entry.path().filename().string().ends_with("-console.log")) console = entry.path();
  }
  ASSERT_FALSE(console.empty()) << "no console log volume in the pool";
  ASSERT_TRUE(wait_for_text(console, "TINY-GUEST: ready", 120s)) << "the guest did not boot:\n" << host_.virsh({"dumpxml", "lvcli"}).out << "\n---\n" << [&] {
    std::ifstream in(console);
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
  }();
  const ProcessResult log = vmctl({"log", "lvcli"});
  EXPECT_NE(log.out.find("TINY-GUEST: ready"), std::string::npos)
      << "vmctl log: exit " << log.exit_code << "\n" << log.out << log.err;

  ok({"suspend", "lvcli"});
  EXPECT_EQ(state_of("lvcli"), "suspended");
  ok({"resume", "lvcli"});
  EXPECT_EQ(state_of("lvcli"), "running");
  const std::string listed = ok({"list"});
  EXPECT_NE(listed.find("qemu:///system"), std::string::npos) << "list shows the VM's host\n" << listed;

  ok({"stop", "lvcli"});
  EXPECT_EQ(state_of("lvcli"), "stopped");
  EXPECT_TRUE(log_shows("lvcli", "TINY-GUEST: powering off", 5s)) << "the stop was no ACPI shutdown";
  ok({"destroy", "lvcli"});
  expect_nothing_left();
}

TEST_F(LibvirtCliTest, AnUnreachableUriFailsNamingIt) {
  const std::string uri = "qemu+tcp://127.0.0.1:1/system";
  const ProcessResult r = vmctl(create_args("lvfar"), {{"VMCTL_LIBVIRT_URI", uri}});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find(uri), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(data_ / "vms" / "lvfar"));
}

// libvirtd dies while `vmctl create --start` runs; once it is back, vmctl
// lists the VM and destroys it with everything it made.
TEST_F(LibvirtCliTest, LibvirtdKilledDuringCreateThenRestarted) {
  auto args = create_args("lvcrash");
  args.push_back("--start");
  RunningProcess create(host_.in_netns(vmctl_argv(data_.str(), args)), options());
  const auto deadline = std::chrono::steady_clock::now() + 120s;
  while (host_.domains().count("lvcrash") == 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(10ms);
  }
  ASSERT_EQ(host_.domains().count("lvcrash"), 1u) << "vmctl never defined the domain";
  host_.kill_libvirtd();
  const ProcessResult created = create.finish();
  host_.start_libvirtd();

  const std::string listed = ok({"list"});
  EXPECT_NE(listed.find("lvcrash"), std::string::npos)
      << listed << "\ncreate said: " << created.out << created.err;
  ok({"destroy", "lvcrash"});
  expect_nothing_left();
}

// The second "host": the same daemon through the harness's sshd.
TEST_F(LibvirtCliTest, CreateWithConnectThroughSsh) {
  auto args = create_args("lvremote");
  args.erase(args.begin() + 1, args.begin() + 3);  // --backend libvirt: --connect implies it
  args.insert(args.end(), {"--connect", host_.ssh_uri(), "--start"});
  ok(args);
  const nlohmann::json s = status("lvremote");
  EXPECT_EQ(s.at("backend"), "libvirt") << s.dump();
  EXPECT_EQ(s.at("state"), "running") << s.dump();
  EXPECT_EQ(s.value("host", ""), host_.ssh_uri()) << s.dump();
  EXPECT_TRUE(log_shows("lvremote", "TINY-GUEST: ready", 240s)) << vmctl({"log", "lvremote"}).err;
  // SSH to the guest goes through the host (the harness's sshd) as a jump host.
  const ProcessResult ssh = vmctl({"ssh", "lvremote", "--", "hostname"});
  EXPECT_EQ(ssh.exit_code, 0) << ssh.err;
  EXPECT_EQ(ssh.out, "lvremote\n") << ssh.err;
  ok({"destroy", "lvremote"});
  expect_nothing_left();
}

// One VMFile, two hosts: the local URI and the ssh URI.
TEST_F(LibvirtCliTest, UpPlacesAVmOnEachOfTwoHostsAndDownDestroyLeavesBothClean) {
  const TinyGuest guest = TinyGuest::locate();
  auto vm = [&](const std::string& name, const std::string& host) {
    return "vm \"" + name + "\" {\n    host \"" + host + "\"\n    image \"" + guest.disk.string() +
           "\"\n    kernel \"" + guest.kernel.string() + "\"\n    initrd \"" + guest.initrd.string() +
           "\"\n    cmdline \"console=ttyS0 panic=-1\"\n    memory 192\n    accel \"tcg\"\n}\n";
  };
  const fs::path vmfile = data_ / "VMFile.kdl";
  std::ofstream(vmfile) << "host \"here\" connect=\"qemu:///system\"\n"
                        << "host \"there\" connect=\"" << host_.ssh_uri() << "\"\n"
                        << vm("near", "here") << vm("far", "there");
  ok({"up", "--file", vmfile.string()});
  EXPECT_EQ(host_.domains(), (std::set<std::string>{"far", "near"}));
  EXPECT_EQ(state_of("near"), "running");
  EXPECT_EQ(state_of("far"), "running");
  EXPECT_EQ(status("near").value("host", ""), "here");
  EXPECT_EQ(status("far").value("host", ""), "there");
  const std::string listed = ok({"list"});
  EXPECT_NE(listed.find("here"), std::string::npos) << listed;
  EXPECT_NE(listed.find("there"), std::string::npos) << listed;
  ok({"down", "--destroy", "--file", vmfile.string()});
  expect_nothing_left();
}

}  // namespace
}  // namespace vmctl::test
