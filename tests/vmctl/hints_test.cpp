// vmctl's hint table (src/vmctl/hints.cpp) for errors no vmctl_test can
// provoke without a real host (no UEFI firmware, a QMP socket gone): the
// library's help says the remedy in plain words, vmctl names the flag.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "vmctl/hints.hpp"

namespace vmctl::test {
namespace {

using ::testing::HasSubstr;
using vm_manager::Error;
namespace errc = vm_manager::errc;

std::string hint(const Error& error, std::string_view command = "create", std::string name = "web") {
  return hint_for(error, ErrorContext{command, std::move(name)}).value_or("(none)");
}

TEST(Hints, MissingUefiFirmwareNamesTheFlag) {
  Error e(errc::spec_invalid, "no UEFI firmware (OVMF CODE and VARS) found in /x",
          "install it (Debian: apt-get install ovmf), or create the VM without UEFI");
  EXPECT_THAT(hint(e), HasSubstr("--uefi"));
}

TEST(Hints, QmpConnectFailureNamesStatusWithTheVm) {
  Error e(errc::qmp_connect_failed, "cannot connect to QMP at x.sock", "is the VM running? check its state");
  EXPECT_EQ(hint(e, "stop"), "'vmctl status web' shows its state");
}

TEST(Hints, OneCodeGetsTheHintOfItsSituation) {
  Error tap(errc::spec_invalid, "TAP networking needs a bridge", "give the VM a bridge for TAP networking");
  EXPECT_THAT(hint(tap), HasSubstr("--bridge"));
  Error vcpus(errc::spec_invalid, "vcpus must be between 1 and 512, not 0", "use a value from 1 to 512 vCPUs");
  EXPECT_THAT(hint(vcpus), HasSubstr("--vcpus"));
  Error stopped(errc::vm_invalid_state, "VM 'web' is stopped, not running", "start the VM first");
  EXPECT_EQ(hint(stopped, "ssh"), "start it with 'vmctl start web'");
  EXPECT_EQ(hint(stopped, "cp"), "start it with 'vmctl start web'");
  EXPECT_THAT(hint(stopped, "provision"), HasSubstr("vmctl up --name web"));
  Error kvm(errc::vm_start_failed, "QEMU failed to start VM 'web': no kvm", "KVM may not work here: use TCG instead");
  EXPECT_THAT(hint(kvm, "start"), HasSubstr("--accel tcg"));
}

TEST(Hints, AVmFoundWithoutItsNameIsShownAsAPlaceholder) {
  Error stopped(errc::vm_invalid_state, "VM 'web' is stopped, not running", "start the VM first");
  EXPECT_EQ(hint(stopped, "ssh", ""), "start it with 'vmctl start NAME'");
}

TEST(Hints, CpRecursiveOfAFileSaysToDropTheFlag) {
  Error e(errc::cp_not_a_folder, "/tmp/a.txt is not a folder", "name a folder to copy a tree");
  EXPECT_EQ(hint(e, "cp"), "copy a single file without -r");
}

TEST(Hints, SharedFolderErrorsNameWhatToRunOrPass) {
  Error root(errc::mount_needs_root, "VM 'web' shares folders, which needs root here: …", "run as root");
  EXPECT_THAT(hint(root, "start"), HasSubstr("sudo"));
  Error missing(errc::mount_host_dir_missing, "shared folder /x cannot be used: No such file or directory",
                "create the folder on the host first, or correct its path");
  EXPECT_THAT(hint(missing, "create"), HasSubstr("--mount"));
  EXPECT_THAT(hint(missing, "start"), HasSubstr("vmctl destroy web"));
  Error binary(errc::mount_virtiofsd_unavailable, "VM 'web' shares folders, but /usr/lib/qemu/virtiofsd is missing",
               "install the Debian package qemu-system-common");
  EXPECT_THAT(hint(binary, "start"), HasSubstr("VMCTL_VIRTIOFSD"));
}

TEST(Hints, OnlyAMissingPropolisAddressNamesPropolisApi) {
  Error address(errc::spec_invalid, "the propolis backend needs the address of the VM's propolis-server",
                "give the zone's API address (IP/PREFIX)");
  EXPECT_EQ(hint(address), "pass --propolis-api IP/PREFIX");
  Error missing(errc::spec_invalid,
                "propolis-server /opt/oxide/propolis-server/bin/propolis-server would be missing in the zone: "
                "/x/bin/propolis-server is not an executable file on this host",
                "install propolis-server as bin/propolis-server in /x");
  EXPECT_EQ(hint_for(missing, ErrorContext{"create"}), std::nullopt);
}

TEST(Hints, ErrorsThatAlreadyNameVmctlSyntaxGetNone) {
  Error own(errc::spec_invalid, "--bridge only applies to --network tap", "add --network tap, or drop --bridge");
  EXPECT_EQ(hint_for(own, ErrorContext{"create"}), std::nullopt);
  Error plain(errc::image_bad_checksum, "not a SHA-256", "give 64 hex digits");
  EXPECT_EQ(hint_for(plain, ErrorContext{"create"}), std::nullopt);
}

TEST(Hints, ALibraryAlreadyExistsNamesTheFlagAndDestroy) {
  Error e(errc::vm_already_exists, "a VM named 'web' already exists",
          "choose another name, or destroy the existing VM first");
  EXPECT_EQ(hint(e), "choose another --name, or 'vmctl destroy web' first");
}

TEST(Hints, WithoutAVmNameTheHintSaysName) {
  Error e(errc::store_corrupt, "vm.json is unreadable", "restore it from a backup, or destroy the VM");
  EXPECT_EQ(hint_for(e, ErrorContext{"list"}), "'vmctl destroy NAME' removes it");
}

}  // namespace
}  // namespace vmctl::test
