// runs_qemu_of: what a process must run to count as a VM's QEMU.
#include "backends/qemu/qemu_process.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "support/temp_dir.hpp"

namespace vm_manager::qemu {
namespace {

namespace fs = std::filesystem;

os::ProcessIdentity running(std::string executable, std::string name_option) {
  return {std::move(executable), {"qemu-system-x86_64", "-machine", "q35", "-name", std::move(name_option)}};
}

TEST(RunsQemuOf, QemuWithTheVmsNameIsIt) {
  EXPECT_TRUE(runs_qemu_of(running("/usr/bin/qemu-system-x86_64", "guest=web,debug-threads=on"), "web",
                           "qemu-system-x86_64"));
  EXPECT_TRUE(runs_qemu_of(running("/usr/bin/qemu-system-x86_64", "guest=web"), "web", "qemu-system-x86_64"));
  // Any qemu-system binary: the VM may have been started with another one configured.
  EXPECT_TRUE(runs_qemu_of(running("/opt/qemu/bin/qemu-system-aarch64", "guest=web"), "web", "qemu-system-x86_64"));
}

TEST(RunsQemuOf, ABinaryReplacedWhileItRunsIsStillIt) {
  EXPECT_TRUE(runs_qemu_of(running("/usr/bin/qemu-system-x86_64 (deleted)", "guest=web,debug-threads=on"), "web",
                           "qemu-system-x86_64"));
}

TEST(RunsQemuOf, AnotherVmsNameIsNot) {
  for (std::string option : {"guest=web2,debug-threads=on", "guest=we", "guest=web2", "web", "guest=,web"}) {
    EXPECT_FALSE(runs_qemu_of(running("/usr/bin/qemu-system-x86_64", option), "web", "qemu-system-x86_64"))
        << option;
  }
  // The name is matched as QEMU parses it: a comma in an option value is doubled.
  EXPECT_TRUE(runs_qemu_of(running("/usr/bin/qemu-system-x86_64", "guest=a,,b,debug-threads=on"), "a,b",
                           "qemu-system-x86_64"));
  EXPECT_FALSE(runs_qemu_of(running("/usr/bin/qemu-system-x86_64", "guest=a,b"), "a,b", "qemu-system-x86_64"));
}

TEST(RunsQemuOf, TheNameMustBeTheValueOfName) {
  os::ProcessIdentity identity{"/usr/bin/qemu-system-x86_64",
                               {"qemu-system-x86_64", "-append", "guest=web", "-name", "guest=other"}};
  EXPECT_FALSE(runs_qemu_of(identity, "web", "qemu-system-x86_64"));
  identity.argv = {"qemu-system-x86_64", "guest=web"};
  EXPECT_FALSE(runs_qemu_of(identity, "web", "qemu-system-x86_64"));
  identity.argv = {"qemu-system-x86_64", "-name"};
  EXPECT_FALSE(runs_qemu_of(identity, "web", "qemu-system-x86_64"));
}

TEST(RunsQemuOf, AnotherProgramIsNotEvenWithTheRightArguments) {
  for (std::string executable : {"/usr/bin/sleep", "/bin/sh", "/usr/bin/qemu-img", "/tmp/not-qemu-system-x86_64",
                                 ""}) {
    EXPECT_FALSE(runs_qemu_of(running(executable, "guest=web,debug-threads=on"), "web", "qemu-system-x86_64"))
        << executable;
  }
}

TEST(RunsQemuOf, TheConfiguredBinaryCountsUnderAnyName) {
  // RHEL ships QEMU as qemu-kvm.
  EXPECT_TRUE(runs_qemu_of(running("/usr/libexec/qemu-kvm", "guest=web"), "web", "qemu-kvm"));
  EXPECT_FALSE(runs_qemu_of(running("/usr/libexec/qemu-kvm", "guest=web"), "web", "qemu-system-x86_64"));
  // A path is compared with where it really leads.
  vmctl::test::TempDir dir;
  fs::path real = dir / "emulator";
  std::ofstream(real) << "";
  fs::create_symlink(real, dir / "qemu");
  EXPECT_TRUE(runs_qemu_of(running(fs::canonical(real).string(), "guest=web"), "web", (dir / "qemu").string()));
  EXPECT_FALSE(runs_qemu_of(running("/usr/bin/emulator", "guest=web"), "web", (dir / "qemu").string()));
  EXPECT_FALSE(runs_qemu_of(running("/usr/bin/emulator", "guest=web"), "web", (dir / "missing").string()));
}

TEST(RunsQemuOf, QemuOfIsTheSameCheck) {
  os::IdentityCheck check = qemu_of("web", "qemu-system-x86_64");
  EXPECT_TRUE(check(running("/usr/bin/qemu-system-x86_64", "guest=web,debug-threads=on")));
  EXPECT_FALSE(check(running("/usr/bin/qemu-system-x86_64", "guest=web2,debug-threads=on")));
  EXPECT_FALSE(check(running("/usr/bin/sleep", "guest=web,debug-threads=on")));
}

}  // namespace
}  // namespace vm_manager::qemu
