// Choosing the accelerator (with a fake KVM probe) and the UEFI firmware
// (in temporary folders with empty files named like OVMF's).
#include "backends/qemu/machine.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>
#include <string>
#include <vector>

#include "backends/qemu/fake_host.hpp"
#include "support/temp_dir.hpp"
#include "vm_manager/error.hpp"

namespace vm_manager::qemu {
namespace {

namespace fs = std::filesystem;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using vmctl::test::FakeHost;
using vmctl::test::TempDir;

// --- choose_accel ---------------------------------------------------------

QemuConfig config_with(std::optional<Accel> override_accel = std::nullopt) {
  QemuConfig c;
  c.accel_override = override_accel;
  c.kvm_device = "/dev/fake-kvm";
  return c;
}

TEST(ChooseAccel, ExplicitKvmIsKeptWithoutProbing) {
  FakeHost host;
  host.set_kvm({false, "no KVM here"});
  for (auto override_accel : {std::optional<Accel>{}, std::optional<Accel>{Accel::tcg}}) {
    AccelChoice choice = choose_accel(Accel::kvm, config_with(override_accel), host);
    EXPECT_EQ(choice.accel, Accel::kvm);
    EXPECT_TRUE(choice.warning.empty()) << choice.warning;
  }
  EXPECT_TRUE(host.kvm_probes().empty());
}

TEST(ChooseAccel, ExplicitTcgIsKeptEvenWithUsableKvm) {
  FakeHost host;
  host.set_kvm({true, ""});
  for (auto override_accel : {std::optional<Accel>{}, std::optional<Accel>{Accel::kvm}}) {
    AccelChoice choice = choose_accel(Accel::tcg, config_with(override_accel), host);
    EXPECT_EQ(choice.accel, Accel::tcg);
    EXPECT_TRUE(choice.warning.empty()) << choice.warning;
  }
  EXPECT_TRUE(host.kvm_probes().empty());
}

TEST(ChooseAccel, AutoWithTcgOverrideIsTcgWithoutProbing) {
  FakeHost host;
  host.set_kvm({true, ""});
  AccelChoice choice = choose_accel(Accel::automatic, config_with(Accel::tcg), host);
  EXPECT_EQ(choice.accel, Accel::tcg);
  EXPECT_TRUE(choice.warning.empty());
  EXPECT_TRUE(host.kvm_probes().empty());
}

TEST(ChooseAccel, AutoWithUsableKvmIsKvm) {
  FakeHost host;
  host.set_kvm({true, ""});
  AccelChoice choice = choose_accel(Accel::automatic, config_with(), host);
  EXPECT_EQ(choice.accel, Accel::kvm);
  EXPECT_TRUE(choice.warning.empty()) << choice.warning;
  EXPECT_THAT(host.kvm_probes(), ElementsAre(fs::path("/dev/fake-kvm")));
}

TEST(ChooseAccel, AutoOverrideBehavesLikeNoOverride) {
  // VMCTL_ACCEL=auto
  FakeHost host;
  host.set_kvm({true, ""});
  EXPECT_EQ(choose_accel(Accel::automatic, config_with(Accel::automatic), host).accel, Accel::kvm);
  EXPECT_EQ(host.kvm_probes().size(), 1u);
}

TEST(ChooseAccel, AutoWithUnusableKvmFallsBackToTcgWithAOneLineWarning) {
  FakeHost host;
  host.set_kvm({false, "cannot open /dev/fake-kvm: No such file or directory"});
  AccelChoice choice = choose_accel(Accel::automatic, config_with(), host);
  EXPECT_EQ(choice.accel, Accel::tcg);
  EXPECT_THAT(choice.warning, HasSubstr("cannot open /dev/fake-kvm: No such file or directory"));
  EXPECT_THAT(choice.warning, HasSubstr("TCG"));
  EXPECT_EQ(choice.warning.find('\n'), std::string::npos) << choice.warning;
  EXPECT_EQ(host.kvm_probes().size(), 1u);
}

TEST(ChooseAccel, NeverReturnsAutomatic) {
  FakeHost host;
  for (bool usable : {true, false}) {
    host.set_kvm({usable, usable ? "" : "nope"});
    for (Accel requested : {Accel::automatic, Accel::kvm, Accel::tcg}) {
      for (auto o : {std::optional<Accel>{}, std::optional<Accel>{Accel::automatic},
                     std::optional<Accel>{Accel::kvm}, std::optional<Accel>{Accel::tcg}}) {
        EXPECT_NE(choose_accel(requested, config_with(o), host).accel, Accel::automatic);
      }
    }
  }
}

// --- find_uefi_firmware -------------------------------------------------------

void expect_no_firmware(const std::vector<fs::path>& dirs) {
  try {
    Firmware fw = find_uefi_firmware(dirs);
    ADD_FAILURE() << "found " << fw.code << " and " << fw.vars_template;
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), errc::spec_invalid) << e.message();
  }
}

void touch(const fs::path& file) {
  fs::create_directories(file.parent_path());
  std::ofstream(file).flush();
  ASSERT_TRUE(fs::is_regular_file(file)) << file;
}

TEST(FindUefiFirmware, PrefersThe4MPairFromOneFolder) {
  TempDir dir;
  fs::path ovmf = dir / "OVMF";
  for (const char* f : {"OVMF_CODE.fd", "OVMF_VARS.fd", "OVMF_CODE_4M.fd", "OVMF_VARS_4M.fd", "OVMF_CODE_4M.ms.fd",
                        "OVMF_VARS_4M.ms.fd", "OVMF_CODE_4M.secboot.fd"}) {
    touch(ovmf / f);
  }
  Firmware fw = find_uefi_firmware({ovmf});
  EXPECT_EQ(fw.code, ovmf / "OVMF_CODE_4M.fd");
  EXPECT_EQ(fw.vars_template, ovmf / "OVMF_VARS_4M.fd");
}

TEST(FindUefiFirmware, PlainPairWhenThereIsNo4MPair) {
  TempDir dir;
  touch(dir / "OVMF_CODE.fd");
  touch(dir / "OVMF_VARS.fd");
  touch(dir / "OVMF_CODE_4M.fd");  // a 4M CODE without its VARS
  Firmware fw = find_uefi_firmware({dir.path()});
  EXPECT_EQ(fw.code, dir / "OVMF_CODE.fd");
  EXPECT_EQ(fw.vars_template, dir / "OVMF_VARS.fd");
}

TEST(FindUefiFirmware, NeverMixesCodeAndVarsOfDifferentSets) {
  TempDir dir;
  touch(dir / "OVMF_CODE_4M.fd");
  touch(dir / "OVMF_VARS.fd");  // 2 MB VARS: does not fit the 4 MB CODE
  expect_no_firmware({dir.path()});
}

TEST(FindUefiFirmware, NeverTakesCodeAndVarsFromDifferentFolders) {
  TempDir dir;
  touch(dir / "a" / "OVMF_CODE_4M.fd");
  touch(dir / "b" / "OVMF_VARS_4M.fd");
  expect_no_firmware({dir / "a", dir / "b"});
}

TEST(FindUefiFirmware, SkipsAFolderWithOnlyCode) {
  TempDir dir;
  touch(dir / "first" / "OVMF_CODE_4M.fd");
  touch(dir / "first" / "OVMF_CODE.fd");
  touch(dir / "second" / "OVMF_CODE_4M.fd");
  touch(dir / "second" / "OVMF_VARS_4M.fd");
  Firmware fw = find_uefi_firmware({dir / "missing", dir / "first", dir / "second"});
  EXPECT_EQ(fw.code, dir / "second" / "OVMF_CODE_4M.fd");
  EXPECT_EQ(fw.vars_template, dir / "second" / "OVMF_VARS_4M.fd");
  EXPECT_EQ(fw.code.parent_path(), fw.vars_template.parent_path());
}

TEST(FindUefiFirmware, OtherKnownSetNames) {
  TempDir dir;
  touch(dir / "arch" / "OVMF_CODE.4m.fd");
  touch(dir / "arch" / "OVMF_VARS.4m.fd");
  touch(dir / "qemu" / "edk2-x86_64-code.fd");
  touch(dir / "qemu" / "edk2-i386-vars.fd");
  Firmware arch = find_uefi_firmware({dir / "arch"});
  EXPECT_EQ(arch.code, dir / "arch" / "OVMF_CODE.4m.fd");
  EXPECT_EQ(arch.vars_template, dir / "arch" / "OVMF_VARS.4m.fd");
  Firmware qemu = find_uefi_firmware({dir / "qemu"});
  EXPECT_EQ(qemu.code, dir / "qemu" / "edk2-x86_64-code.fd");
  EXPECT_EQ(qemu.vars_template, dir / "qemu" / "edk2-i386-vars.fd");
}

TEST(FindUefiFirmware, SecureBootOnlyBuildsAreNotUsed) {
  // They need SMM (and a matching machine setup); the plain build does not.
  TempDir dir;
  touch(dir / "OVMF_CODE_4M.secboot.fd");
  touch(dir / "OVMF_CODE_4M.ms.fd");
  touch(dir / "OVMF_VARS_4M.ms.fd");
  expect_no_firmware({dir.path()});
}

TEST(FindUefiFirmware, DirectoriesNamedLikeFirmwareAreNotFiles) {
  TempDir dir;
  fs::create_directories(dir / "OVMF_CODE_4M.fd");
  fs::create_directories(dir / "OVMF_VARS_4M.fd");
  expect_no_firmware({dir.path()});
}

TEST(FindUefiFirmware, NoneFoundIsSpecInvalidListingEveryFolder) {
  TempDir dir;
  touch(dir / "only-code" / "OVMF_CODE_4M.fd");
  fs::create_directories(dir / "empty");
  std::vector<fs::path> dirs{dir / "only-code", dir / "empty", dir / "does-not-exist"};
  try {
    find_uefi_firmware(dirs);
    FAIL() << "found firmware where there is none";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), errc::spec_invalid);
    for (const auto& d : dirs) EXPECT_THAT(e.message(), HasSubstr(d.string()));
    EXPECT_EQ(e.message().find('\n'), std::string::npos);
    // The remedy in plain words; vmctl's "--uefi" hint is checked in tests/vmctl/hints_test.cpp.
    EXPECT_THAT(e.help(), HasSubstr("without UEFI"));
  }
}

TEST(FindUefiFirmware, NoFoldersAtAllIsSpecInvalid) {
  try {
    find_uefi_firmware({});
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), errc::spec_invalid);
  }
}

TEST(FindUefiFirmware, DefaultFoldersFindTheInstalledOvmf) {
  // Debian's ovmf package, which make deps installs.
  ASSERT_TRUE(fs::is_regular_file("/usr/share/OVMF/OVMF_CODE_4M.fd")) << "ovmf is missing: make deps installs it";
  Firmware fw = find_uefi_firmware(QemuConfig{}.firmware_dirs);
  EXPECT_EQ(fw.code, fs::path("/usr/share/OVMF/OVMF_CODE_4M.fd"));
  EXPECT_EQ(fw.vars_template, fs::path("/usr/share/OVMF/OVMF_VARS_4M.fd"));
}

}  // namespace
}  // namespace vm_manager::qemu
