// vmctl with the QEMU backend (the Linux default), booting the tiny guest
// under TCG.
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <set>

#include "backends/qemu/tiny_guest.hpp"
#include "os/proc.hpp"
#include "support/terminal.hpp"
#include "vmctl/qemu_cli_fixture.hpp"

namespace vmctl::test {
namespace {

using namespace std::chrono_literals;

TEST_F(QemuCliTest, LifecycleThroughVmctl) {
  auto args = create_args("cli1");
  args.push_back("--start");
  std::string out = ok(args);
  EXPECT_NE(out.find("(qemu backend)"), std::string::npos) << "qemu is the default backend on Linux";
  nlohmann::json s = status("cli1");
  EXPECT_EQ(s.at("backend"), "qemu");
  EXPECT_EQ(s.at("state"), "running");
  EXPECT_TRUE(s.at("pid").is_number());
  EXPECT_EQ(s.at("ssh_host"), "127.0.0.1");
  EXPECT_TRUE(s.at("ssh_port").is_number());
  EXPECT_EQ(s.at("vnc"), "unix:" + (data_.path() / "vms" / "cli1" / "vnc.sock").string()) << s.dump();

  ok({"suspend", "cli1"});
  EXPECT_EQ(state_of("cli1"), "suspended");
  ok({"resume", "cli1"});
  EXPECT_EQ(state_of("cli1"), "running");

  ASSERT_TRUE(wait_for_text(data_ / "vms" / "cli1" / "console.log", "TINY-GUEST: ready", 120s));
  // The overlay holds the guest's secrets; nothing in the folder is for others.
  for (const auto& entry : std::filesystem::directory_iterator(data_ / "vms" / "cli1")) {
    if (!entry.is_regular_file() && !entry.is_socket()) continue;
    auto perms = entry.status().permissions();
    EXPECT_EQ(perms & (std::filesystem::perms::group_all | std::filesystem::perms::others_all),
              std::filesystem::perms::none)
        << entry.path() << " is readable by others";
  }
  std::string tail = ok({"log", "cli1", "-n", "30"});
  EXPECT_NE(tail.find("TINY-GUEST: ready"), std::string::npos) << tail;

  ok({"stop", "cli1"});
  EXPECT_EQ(state_of("cli1"), "stopped");
  EXPECT_TRUE(status("cli1").at("pid").is_null());
  ok({"start", "cli1"});
  EXPECT_EQ(state_of("cli1"), "running");
  ok({"stop", "cli1", "--force"});
  EXPECT_EQ(state_of("cli1"), "stopped");
}

TEST_F(QemuCliTest, AKilledQemuShowsAsStopped) {
  auto args = create_args("victim");
  args.push_back("--start");
  ok(args);
  pid_t pid = status("victim").at("pid");
  ASSERT_EQ(::kill(pid, SIGKILL), 0);
  auto started = vm_manager::os::read_proc_stat(pid);
  if (started) vm_manager::os::wait_for_exit(pid, started->start_time, 10s);
  EXPECT_EQ(state_of("victim"), "stopped");
  ok({"start", "victim"});
  EXPECT_EQ(state_of("victim"), "running");
}

TEST_F(QemuCliTest, DestroyKillsTheQemuOfAVmWhoseRecordIsCorrupt) {
  auto args = create_args("wreck");
  args.push_back("--start");
  ok(args);
  pid_t pid = status("wreck").at("pid");
  auto started = vm_manager::os::read_proc_stat(pid);
  ASSERT_TRUE(started);
  std::filesystem::resize_file(data_ / "vms" / "wreck" / "vm.json", 40);  // a torn write
  EXPECT_EQ(vmctl({"status", "wreck"}).exit_code, 1);
  ok({"destroy", "wreck"});
  EXPECT_FALSE(vm_manager::os::is_running_process(pid, started->start_time)) << "its QEMU still runs";
  EXPECT_FALSE(std::filesystem::exists(data_ / "vms" / "wreck"));
}

TEST_F(QemuCliTest, EightConcurrentStartsAllRunOnDistinctPortsAndDisplays) {
  for (int i = 0; i < 8; ++i) {
    ok(create_args("many" + std::to_string(i), "128"));
  }
  std::vector<RunningProcess> starts;
  for (int i = 0; i < 8; ++i) starts.emplace_back(vmctl_argv(data_.str(), {"start", "many" + std::to_string(i)}));
  for (auto& p : starts) {
    ProcessResult r = p.finish();
    EXPECT_EQ(r.exit_code, 0) << r.err;
  }
  std::set<int> ports;
  std::set<std::string> displays;
  for (const auto& vm : list()) {
    EXPECT_EQ(vm.at("state"), "running") << vm.dump();
    ports.insert(vm.at("ssh_port").get<int>());
    displays.insert(vm.at("vnc").get<std::string>());
  }
  EXPECT_EQ(ports.size(), 8u);
  EXPECT_EQ(displays.size(), 8u);
}

TEST_F(QemuCliTest, WithoutKvmAutoWarnsAndUsesTcg) {
  ProcessOptions options;
  options.env["VMCTL_ACCEL"] = "";  // no override: auto must probe
  options.env["VMCTL_KVM_DEVICE"] = (data_ / "no-kvm-here").string();
  auto args = create_args("nokvm");
  args.insert(args.end(), {"--accel", "auto", "--start"});
  ProcessResult r = run_vmctl(data_.str(), args, options);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("falling back to TCG"), std::string::npos) << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << "a one-line warning: " << r.err;
  EXPECT_EQ(state_of("nokvm"), "running");
}

TEST_F(QemuCliTest, QemuDyingUnderKvmIsQuotedWithAHint) {
  // A stand-in for QEMU that fails the way it does when KVM is broken.
  std::filesystem::path fake = data_ / "fake-qemu";
  {
    std::ofstream script(fake);
    script << "#!/bin/sh\necho 'qemu-system-x86_64: failed to initialize kvm: Permission denied' >&2\nexit 1\n";
  }
  std::filesystem::permissions(fake, std::filesystem::perms::owner_all);
  ProcessOptions options;
  options.env["VMCTL_QEMU"] = fake.string();
  auto args = create_args("kvmfail");
  args.insert(args.end(), {"--accel", "kvm", "--start"});
  ProcessResult r = run_vmctl(data_.str(), args, options);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("error[vm_manager::vm::start_failed]"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("failed to initialize kvm: Permission denied"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("--accel tcg"), std::string::npos) << r.err;
  EXPECT_EQ(state_of("kvmfail"), "prepared");
}

TEST_F(QemuCliTest, CreateNeedsAnImage) {
  ProcessResult r = vmctl({"create", "--name", "noimage"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("error[vm_manager::spec::invalid]"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("--image"), std::string::npos) << r.err;
  EXPECT_TRUE(list().empty());
}

// A user at a terminal: the line typed goes to the guest, whose answer
// comes back (the tiny guest answers each console line with a marker), and
// Ctrl-] detaches, leaving the VM running and the terminal as it was.
TEST_F(QemuCliTest, ConsoleAttachesAndDetaches) {
  auto args = create_args("talk");
  args.push_back("--start");
  ok(args);
  ASSERT_TRUE(wait_for_text(data_ / "vms" / "talk" / "console.log", "TINY-GUEST: ready", 120s));

  Pty pty;
  const termios before = pty.settings();
  ProcessOptions on_terminal;
  on_terminal.stdin_path = ::ttyname(pty.slave.get());
  on_terminal.timeout = 300s;
  RunningProcess console(vmctl_argv(data_.str(), {"console", "talk"}), on_terminal);
  using Stream = RunningProcess::Stream;
  ASSERT_TRUE(console.wait_for_output(Stream::err, "press Ctrl-] to detach")) << console.output(Stream::err);
  ASSERT_TRUE(wait_for_raw(pty)) << "console never took the terminal";

  write_all(pty.master.get(), "hello-console-4711\r");
  EXPECT_TRUE(console.wait_for_output(Stream::out, "TINY-GUEST: console read hello-console-4711"))
      << console.output(Stream::out);

  write_all(pty.master.get(), "\x1d");  // Ctrl-]
  ProcessResult r = console.finish();
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.signal, 0);
  EXPECT_NE(r.err.find("Detached from 'talk'."), std::string::npos) << r.err;
  expect_same_settings(before, pty.settings());
  EXPECT_EQ(state_of("talk"), "running") << "detaching leaves the VM running";

  // Piped input: the command ends once the input does.
  ProcessResult piped = run_vmctl(data_.str(), {"console", "talk"});
  EXPECT_EQ(piped.exit_code, 0) << piped.err;
  EXPECT_NE(piped.err.find("Ctrl-]"), std::string::npos) << piped.err;
}

}  // namespace
}  // namespace vmctl::test
