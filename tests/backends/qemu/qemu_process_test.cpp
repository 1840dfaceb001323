// runs_qemu_of: what a process must run to count as a VM's QEMU.
#include "backends/qemu/qemu_process.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "support/temp_dir.hpp"

namespace vm_manager::qemu {
namespace {

namespace fs = std::filesystem;

const fs::path kPidfile = "/data/vms/web/qemu.pid";

os::ProcessIdentity running(std::string executable, std::string name_option) {
  return {std::move(executable),
          {"qemu-system-x86_64", "-machine", "q35", "-name", std::move(name_option), "-pidfile", kPidfile.string()}};
}

TEST(RunsQemuOf, QemuWithTheVmsNameIsIt) {
  EXPECT_TRUE(runs_qemu_of(running("/usr/bin/qemu-system-x86_64", "guest=web,debug-threads=on"), "web", kPidfile, "qemu-system-x86_64"));
  EXPECT_TRUE(runs_qemu_of(running("/usr/bin/qemu-system-x86_64", "guest=web"), "web", kPidfile, "qemu-system-x86_64"));
  // Any qemu-system binary: the VM may have been started with another one configured.
  EXPECT_TRUE(runs_qemu_of(running("/opt/qemu/bin/qemu-system-aarch64", "guest=web"), "web", kPidfile, "qemu-system-x86_64"));
}

TEST(RunsQemuOf, ABinaryReplacedWhileItRunsIsStillIt) {
  EXPECT_TRUE(runs_qemu_of(running("/usr/bin/qemu-system-x86_64 (deleted)", "guest=web,debug-threads=on"), "web", kPidfile, "qemu-system-x86_64"));
}

TEST(RunsQemuOf, AnotherVmsNameIsNot) {
  for (std::string option : {"guest=web2,debug-threads=on", "guest=we", "guest=web2", "web", "guest=,web"}) {
    EXPECT_FALSE(runs_qemu_of(running("/usr/bin/qemu-system-x86_64", option), "web", kPidfile, "qemu-system-x86_64"))
        << option;
  }
  // The name is matched as QEMU parses it: a comma in an option value is doubled.
  EXPECT_TRUE(runs_qemu_of(running("/usr/bin/qemu-system-x86_64", "guest=a,,b,debug-threads=on"), "a,b", kPidfile, "qemu-system-x86_64"));
  EXPECT_FALSE(runs_qemu_of(running("/usr/bin/qemu-system-x86_64", "guest=a,b"), "a,b", kPidfile, "qemu-system-x86_64"));
}

TEST(RunsQemuOf, TheNameMustBeTheValueOfName) {
  os::ProcessIdentity identity{"/usr/bin/qemu-system-x86_64",
                               {"qemu-system-x86_64", "-append", "guest=web", "-name", "guest=other", "-pidfile",
                                kPidfile.string()}};
  EXPECT_FALSE(runs_qemu_of(identity, "web", kPidfile, "qemu-system-x86_64"));
  identity.argv = {"qemu-system-x86_64", "guest=web", "-pidfile", kPidfile.string()};
  EXPECT_FALSE(runs_qemu_of(identity, "web", kPidfile, "qemu-system-x86_64"));
  identity.argv = {"qemu-system-x86_64", "-pidfile", kPidfile.string(), "-name"};
  EXPECT_FALSE(runs_qemu_of(identity, "web", kPidfile, "qemu-system-x86_64"));
}

TEST(RunsQemuOf, AnotherProgramIsNotEvenWithTheRightArguments) {
  for (std::string executable : {"/usr/bin/sleep", "/bin/sh", "/usr/bin/qemu-img", "/tmp/not-qemu-system-x86_64",
                                 ""}) {
    EXPECT_FALSE(runs_qemu_of(running(executable, "guest=web,debug-threads=on"), "web", kPidfile, "qemu-system-x86_64"))
        << executable;
  }
}

TEST(RunsQemuOf, TheConfiguredBinaryCountsUnderAnyName) {
  // RHEL ships QEMU as qemu-kvm.
  EXPECT_TRUE(runs_qemu_of(running("/usr/libexec/qemu-kvm", "guest=web"), "web", kPidfile, "qemu-kvm"));
  EXPECT_FALSE(runs_qemu_of(running("/usr/libexec/qemu-kvm", "guest=web"), "web", kPidfile, "qemu-system-x86_64"));
  // A path is compared with where it really leads.
  vmctl::test::TempDir dir;
  fs::path real = dir / "emulator";
  std::ofstream(real) << "";
  fs::create_symlink(real, dir / "qemu");
  EXPECT_TRUE(runs_qemu_of(running(fs::canonical(real).string(), "guest=web"), "web", kPidfile, (dir / "qemu").string()));
  EXPECT_FALSE(runs_qemu_of(running("/usr/bin/emulator", "guest=web"), "web", kPidfile, (dir / "qemu").string()));
  EXPECT_FALSE(runs_qemu_of(running("/usr/bin/emulator", "guest=web"), "web", kPidfile, (dir / "missing").string()));
}

TEST(RunsQemuOf, ItsPidfileMustBeTheVms) {
  os::ProcessIdentity identity = running("/usr/bin/qemu-system-x86_64", "guest=web,debug-threads=on");
  EXPECT_TRUE(runs_qemu_of(identity, "web", "/data/vms/../vms/web/qemu.pid", "qemu-system-x86_64"));
  // A same-named VM of another data dir.
  EXPECT_FALSE(runs_qemu_of(identity, "web", "/other/vms/web/qemu.pid", "qemu-system-x86_64"));
  identity.argv = {"qemu-system-x86_64", "-name", "guest=web"};
  EXPECT_FALSE(runs_qemu_of(identity, "web", kPidfile, "qemu-system-x86_64")) << "no pidfile at all";
  // Another spelling of the same file (a symlinked data dir) is the same pidfile.
  vmctl::test::TempDir dir;
  fs::create_directories(dir / "real/vms/web");
  std::ofstream(dir / "real/vms/web/qemu.pid") << "4242\n";
  fs::create_directory_symlink(dir / "real", dir / "link");
  identity.argv = {"qemu-system-x86_64", "-name", "guest=web", "-pidfile", (dir / "real/vms/web/qemu.pid").string()};
  EXPECT_TRUE(runs_qemu_of(identity, "web", dir / "link/vms/web/qemu.pid", "qemu-system-x86_64"));
}

TEST(RunsQemuOf, QemuOfIsTheSameCheck) {
  os::IdentityCheck check = qemu_of("web", kPidfile, "qemu-system-x86_64");
  EXPECT_TRUE(check(running("/usr/bin/qemu-system-x86_64", "guest=web,debug-threads=on")));
  EXPECT_FALSE(check(running("/usr/bin/qemu-system-x86_64", "guest=web2,debug-threads=on")));
  EXPECT_FALSE(check(running("/usr/bin/sleep", "guest=web,debug-threads=on")));
}

}  // namespace
}  // namespace vm_manager::qemu
