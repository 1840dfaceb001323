// The vmctl binary driving libvirt VMs on the real libvirtd (LibvirtHost),
// run inside the harness's network namespace as a user on that host would
// run it: there it reaches the guests on libvirt's NAT network and the
// harness's sshd on 127.0.0.1 (the second "host": the same daemon through
// qemu+ssh). The tiny guest boots under TCG; each boot costs 20-40 s, so the
// tests are few and each covers a whole flow.
#include <unistd.h>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <set>
#include <thread>

#include "backends/libvirt/libvirt_host.hpp"
#include "backends/qemu/tiny_guest.hpp"
#include "support/process.hpp"
#include "support/terminal.hpp"
#include "support/temp_dir.hpp"

namespace vmctl::test {
namespace {
namespace fs = std::filesystem;
using namespace std::chrono_literals;

constexpr const char* kReady = "TINY-GUEST: ready";

std::set<std::string> names_of(const nlohmann::json& vms) {
  std::set<std::string> names;
  for (const auto& vm : vms) names.insert(vm.at("name").get<std::string>());
  return names;
}

class LibvirtFleetCli : public ::testing::Test {
 protected:
  // The tiny guest's create arguments, without a backend or host.
  static std::vector<std::string> create_args(const std::string& name) {
    const TinyGuest guest = TinyGuest::locate();
    return {"create",   "--name",   name, "--image", guest.disk.string(), "--kernel", guest.kernel.string(),
            "--initrd", guest.initrd.string(), "--append", "console=ttyS0 panic=-1", "--memory", "192",
            // The libvirt backend reads no VMCTL_ACCEL, and nested KVM hangs here.
            "--accel", "tcg"};
  }

  // A vm block of the tiny guest placed on a VMFile host.
  static std::string vm_block(const std::string& name, const std::string& host) {
    const TinyGuest guest = TinyGuest::locate();
    return "vm \"" + name + "\" {\n    host \"" + host + "\"\n    image \"" + guest.disk.string() +
           "\"\n    kernel \"" + guest.kernel.string() + "\"\n    initrd \"" + guest.initrd.string() +
           "\"\n    cmdline \"console=ttyS0 panic=-1\"\n    memory 192\n    accel \"tcg\"\n}\n";
  }

  // vmctl inside the namespace; a generous deadline that only catches a hang.
  ProcessResult vmctl(const std::vector<std::string>& args, const std::string& stdin_path = "/dev/null") {
    ProcessOptions options;
    options.timeout = 400s;
    options.stdin_path = stdin_path;
    options.env["VMCTL_LIBVIRT_CONNECT_TIMEOUT"] = "10";
    return run_process(host_.in_netns(vmctl_argv(data_.str(), args)), options);
  }
  RunningProcess vmctl_in_background(const std::vector<std::string>& args) {
    ProcessOptions options;
    options.timeout = 400s;
    return RunningProcess(host_.in_netns(vmctl_argv(data_.str(), args)), options);
  }
  std::string ok(const std::vector<std::string>& args) {
    const ProcessResult r = vmctl(args);
    EXPECT_EQ(r.exit_code, 0) << join(args) << "\nstdout: " << r.out << "\nstderr: " << r.err;
    return r.out;
  }
  nlohmann::json json_of(const std::vector<std::string>& args) {
    const std::string out = ok(args);
    try {
      return nlohmann::json::parse(out);
    } catch (const std::exception& e) {
      ADD_FAILURE() << join(args) << " printed no JSON: " << out;
      return nlohmann::json();
    }
  }
  std::string state_of(const std::string& name) {
    return json_of({"status", name, "--json"}).value("state", "<no state>");
  }
  // `vmctl log` until it shows `text` (the guest prints it when it gets there).
  bool log_shows(const std::string& name, const std::string& text, std::chrono::seconds limit) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    do {
      if (vmctl({"log", name}).out.find(text) != std::string::npos) return true;
      std::this_thread::sleep_for(1s);
    } while (std::chrono::steady_clock::now() < deadline);
    return false;
  }
  void expect_nothing_left(const std::set<std::string>& domains_kept = {}) {
    EXPECT_EQ(host_.domains(), domains_kept);
    EXPECT_EQ(host_.vm_volumes(), std::set<std::string>{});
    EXPECT_EQ(json_of({"list", "--json"}), nlohmann::json::array());
  }
  fs::path write_vmfile(const std::string& text) {
    const fs::path file = data_ / "VMFile.kdl";
    std::ofstream(file) << text;
    return file;
  }
  // Defines a domain as another tool would: no vmctl metadata.
  void define_foreign_domain(const std::string& name) {
    const fs::path xml = host_.dir() / (name + ".xml");
    std::ofstream(xml) << "<domain type='qemu'><name>" << name << "</name><description>"
                       << LibvirtHost::foreign_marker
                       << "</description><memory unit='MiB'>32</memory><os><type arch='x86_64'>hvm</type></os>"
                          "</domain>";
    const ProcessResult defined = host_.virsh({"define", xml.string()});
    ASSERT_EQ(defined.exit_code, 0) << defined.err;
  }

  // What a failed test left: destroyed through vmctl (the harness then
  // removes whatever vmctl could not).
  void TearDown() override {
    const ProcessResult listed = vmctl({"list", "--json"});
    if (listed.exit_code != 0) return;
    for (const auto& name : names_of(nlohmann::json::parse(listed.out, nullptr, false))) vmctl({"destroy", name});
  }

  // What the guests printed, straight from the pool (for failure messages).
  std::string console_logs() const {
    std::string text;
    std::error_code ec;
    for (const auto& entry : fs::directory_iterator(host_.pool_dir(), ec)) {
      if (!entry.path().filename().string().ends_with("-console.log")) continue;
      std::ifstream in(entry.path());
      text += "--- " + entry.path().filename().string() + "\n" +
              std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    }
    return text;
  }

  static std::string join(const std::vector<std::string>& args) {
    std::string text;
    for (const auto& a : args) text += a + " ";
    return text;
  }

  LibvirtHost host_{LibvirtHostOptions{.sshd = true}};
  TempDir data_;
};

// One local VM through its whole life, with every way in: the log, the
// console, SSH to the address from libvirt's lease. A domain of another
// tool's with a VM's name stays as it was.
TEST_F(LibvirtFleetCli, LocalLifecycleLogConsoleSshAndAForeignDomainLeftAlone) {
  define_foreign_domain("lv-foreign");
  const std::string foreign_before = host_.virsh({"dumpxml", "lv-foreign"}).out;
  auto foreign = create_args("lv-foreign");
  foreign.insert(foreign.end(), {"--backend", "libvirt"});
  const ProcessResult refused = vmctl(foreign);
  EXPECT_EQ(refused.exit_code, 1) << refused.out << refused.err;
  EXPECT_NE(refused.err.find("error[vm_manager::vm::already_exists]"), std::string::npos) << refused.err;
  EXPECT_EQ(vmctl({"destroy", "lv-foreign"}).exit_code, 1) << "vmctl has no VM of that name";

  auto args = create_args("lv-local");
  args.insert(args.end(), {"--backend", "libvirt", "--start", "--wait", "--wait-timeout", "240"});
  const ProcessResult created = vmctl(args);
  ASSERT_EQ(created.exit_code, 0) << created.out << created.err << "\n" << console_logs();
  const nlohmann::json status = json_of({"status", "lv-local", "--json"});
  EXPECT_EQ(status.value("backend", ""), "libvirt") << status.dump();
  EXPECT_EQ(status.value("state", ""), "running") << status.dump();
  EXPECT_EQ(host_.domains(), (std::set<std::string>{"lv-foreign", "lv-local"}));

  EXPECT_TRUE(log_shows("lv-local", kReady, 120s)) << vmctl({"log", "lv-local"}).out;
  // At a terminal: the line typed reaches the guest (libvirt's console
  // stream), whose answer comes back; Ctrl-] detaches.
  {
    Pty pty;
    ProcessOptions on_terminal;
    on_terminal.stdin_path = ::ttyname(pty.slave.get());
    on_terminal.timeout = 120s;
    RunningProcess console(host_.in_netns(vmctl_argv(data_.str(), {"console", "lv-local"})), on_terminal);
    using Stream = RunningProcess::Stream;
    ASSERT_TRUE(console.wait_for_output(Stream::err, "press Ctrl-] to detach")) << console.output(Stream::err);
    ASSERT_TRUE(wait_for_raw(pty)) << "console never took the terminal";
    write_all(pty.master.get(), "hello-libvirt-console-4711\r");
    EXPECT_TRUE(console.wait_for_output(Stream::out, "TINY-GUEST: console read hello-libvirt-console-4711"))
        << console.output(Stream::out);
    write_all(pty.master.get(), "\x1d");  // Ctrl-]
    const ProcessResult detached = console.finish();
    EXPECT_EQ(detached.exit_code, 0) << detached.err;
    EXPECT_NE(detached.err.find("Detached from 'lv-local'."), std::string::npos) << detached.err;
  }
  const ProcessResult hi = vmctl({"ssh", "lv-local", "--", "echo", "hi", "from", "$(hostname)"});
  EXPECT_EQ(hi.exit_code, 0) << hi.err;
  EXPECT_EQ(hi.out, "hi from lv-local\n") << hi.err;

  ok({"suspend", "lv-local"});
  EXPECT_EQ(state_of("lv-local"), "suspended");
  ok({"resume", "lv-local"});
  EXPECT_EQ(state_of("lv-local"), "running");
  ok({"stop", "lv-local"});
  EXPECT_EQ(state_of("lv-local"), "stopped");
  EXPECT_TRUE(log_shows("lv-local", "TINY-GUEST: powering off", 0s)) << "the stop was no ACPI shutdown";
  ok({"destroy", "lv-local"});

  expect_nothing_left({"lv-foreign"});
  EXPECT_EQ(host_.virsh({"dumpxml", "lv-foreign"}).out, foreign_before);
  EXPECT_FALSE(fs::exists(data_ / "vms" / "lv-local"));
}

// One VMFile, two hosts: this machine's URI and the same daemon through
// qemu+ssh (the image uploaded over the ssh stream; SSH to the guest through
// the host as the jump host; its log downloaded as a volume).
TEST_F(LibvirtFleetCli, AVmFileOnTwoHostsUpListHostsSshThroughTheJumpHostDownDestroy) {
  const std::string remote = host_.ssh_uri();
  const fs::path vmfile = write_vmfile("host \"here\" connect=\"qemu:///system\"\n"
                                       "host \"there\" connect=\"" + remote + "\"\n" +
                                       vm_block("lv-near", "here") + vm_block("lv-far", "there"));
  // One at a time: two TCG guests booting at once on two shared cores
  // make the tiny guest's DHCP client give up ("network failed").
  const ProcessResult up = vmctl({"up", "--file", vmfile.string(), "--jobs", "1", "--timeout", "240"});
  ASSERT_EQ(up.exit_code, 0) << up.out << up.err << "\n" << console_logs();
  EXPECT_EQ(host_.domains(), (std::set<std::string>{"lv-far", "lv-near"}));

  const nlohmann::json all = json_of({"list", "--json"});
  EXPECT_EQ(names_of(all), (std::set<std::string>{"lv-far", "lv-near"})) << all.dump();
  for (const auto& vm : all) {
    EXPECT_EQ(vm.value("state", ""), "running") << vm.dump();
    EXPECT_EQ(vm.value("host", ""), vm.at("name") == "lv-near" ? "here" : "there") << vm.dump();
  }
  const std::string table = ok({"list"});
  EXPECT_NE(table.find("HOST"), std::string::npos) << table;
  EXPECT_NE(table.find(" here "), std::string::npos) << table;
  EXPECT_NE(table.find(" there "), std::string::npos) << table;
  EXPECT_EQ(names_of(json_of({"list", "--json", "--host", "there"})), std::set<std::string>{"lv-far"});
  EXPECT_EQ(names_of(json_of({"list", "--json", "--host", "here"})), std::set<std::string>{"lv-near"});
  EXPECT_EQ(json_of({"list", "--json", "--host", "-"}), nlohmann::json::array());

  // Both names reach the one daemon, so each host runs both VMs.
  const nlohmann::json hosts = json_of({"hosts", "-f", vmfile.string(), "--json"});
  ASSERT_EQ(hosts.size(), 2u) << hosts.dump();
  for (const auto& h : hosts) {
    EXPECT_EQ(h.value("reachable", false), true) << h.dump();
    EXPECT_EQ(h.at("address"), h.at("name") == "here" ? "qemu:///system" : remote) << h.dump();
    EXPECT_GT(h.value("cpus", 0), 0) << h.dump();
    EXPECT_GT(h.value("free_memory_mb", 0), 0) << h.dump();
    const auto running = h.at("running_vms").get<std::vector<std::string>>();
    EXPECT_EQ(std::set<std::string>(running.begin(), running.end()), (std::set<std::string>{"lv-far", "lv-near"}))
        << h.dump();
  }

  EXPECT_TRUE(log_shows("lv-far", kReady, 60s)) << vmctl({"log", "lv-far"}).err;
  const std::string config = ok({"ssh-config", "lv-far"});
  EXPECT_NE(config.find("ProxyJump"), std::string::npos) << config;
  const ProcessResult far = vmctl({"ssh", "lv-far", "--timeout", "120", "--", "echo", "hi", "from", "$(hostname)"});
  EXPECT_EQ(far.exit_code, 0) << far.err;
  EXPECT_EQ(far.out, "hi from lv-far\n") << far.err;
  const ProcessResult near = vmctl({"ssh", "lv-near", "--timeout", "120", "--", "hostname"});
  EXPECT_EQ(near.out, "lv-near\n") << near.err;

  const ProcessResult down = vmctl({"down", "--destroy", "--file", vmfile.string()});
  EXPECT_EQ(down.exit_code, 0) << down.out << down.err;
  expect_nothing_left();
}

// Faults: a daemon that is down, and one killed in the middle of `up`.
TEST_F(LibvirtFleetCli, LibvirtdDownIsUnreachableAndKilledDuringUpThenRestartedLeavesAVmVmctlDestroys) {
  host_.kill_libvirtd();
  const ProcessResult down = vmctl({"hosts", "--connect", "qemu:///system", "--json"});
  EXPECT_EQ(down.exit_code, 1) << down.out << down.err;
  const nlohmann::json described = nlohmann::json::parse(down.out, nullptr, false);
  ASSERT_TRUE(described.is_array() && described.size() == 1u) << down.out;
  EXPECT_EQ(described[0].value("reachable", true), false) << down.out;
  EXPECT_NE(down.err.find("error[vm_manager::backend::unreachable]"), std::string::npos) << down.err;
  host_.start_libvirtd();

  const fs::path vmfile = write_vmfile("host \"here\" connect=\"qemu:///system\"\n" + vm_block("lv-crash", "here"));
  RunningProcess up = vmctl_in_background({"up", "--file", vmfile.string(), "--timeout", "240"});
  // Once the domain is defined (vmctl is starting it, or about to).
  const auto deadline = std::chrono::steady_clock::now() + 120s;
  while (host_.domains().count("lv-crash") == 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(20ms);
  }
  ASSERT_EQ(host_.domains().count("lv-crash"), 1u) << "vmctl never defined the domain";
  host_.kill_libvirtd();
  const ProcessResult interrupted = up.finish();
  EXPECT_NE(interrupted.exit_code, 0) << "up cannot have finished without its daemon:\n"
                                      << interrupted.out << interrupted.err;
  host_.start_libvirtd();

  const nlohmann::json listed = json_of({"list", "--json"});
  EXPECT_EQ(names_of(listed), std::set<std::string>{"lv-crash"}) << listed.dump();
  ok({"destroy", "lv-crash"});
  expect_nothing_left();
  EXPECT_FALSE(fs::exists(data_ / "vms" / "lv-crash"));
}


// The second "host" by its URI alone: `create --connect` through the
// harness's sshd uploads the image over the libvirt stream, and SSH to the
// guest goes through that host as a jump host.
TEST_F(LibvirtFleetCli, CreateWithConnectThroughSshUploadsStartsAndSshsThroughTheJumpHost) {
  auto args = create_args("lv-remote");
  args.insert(args.end(), {"--connect", host_.ssh_uri(), "--start"});
  ok(args);
  const nlohmann::json s = json_of({"status", "lv-remote", "--json"});
  EXPECT_EQ(s.value("backend", ""), "libvirt") << s.dump();
  EXPECT_EQ(s.value("state", ""), "running") << s.dump();
  EXPECT_EQ(s.value("host", ""), host_.ssh_uri()) << s.dump();
  EXPECT_TRUE(log_shows("lv-remote", kReady, 240s)) << console_logs();
  const ProcessResult ssh = vmctl({"ssh", "lv-remote", "--", "hostname"});
  EXPECT_EQ(ssh.exit_code, 0) << ssh.err;
  EXPECT_EQ(ssh.out, "lv-remote\n") << ssh.err;
  ok({"destroy", "lv-remote"});
  expect_nothing_left();
}

}  // namespace
}  // namespace vmctl::test
