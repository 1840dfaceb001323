// The tiny guest booting from its own disk through vmctl, with no --kernel:
// GRUB from the disk's BIOS boot partition under SeaBIOS, and from its ESP
// under OVMF (--uefi), then the kernel and initramfs from the ext4 root.
#include "os/files.hpp"
#include "vmctl/qemu_cli_fixture.hpp"

namespace vmctl::test {
namespace {

using namespace std::chrono_literals;

// 256 MB: with 192 MB, GRUB 2.06 under OVMF runs out of memory loading the
// kernel and initramfs.
class BootDiskCliTest : public QemuCliTest {
 protected:
  // create --start --wait from the boot disk; returns the console log.
  std::string boot_ready(const std::string& name, std::vector<std::string> extra = {}) {
    std::vector<std::string> args{"create", "--name", name, "--image", TinyGuest::locate().boot_disk.string(),
                                  "--memory", "256", "--start", "--wait", "--wait-timeout", "300"};
    args.insert(args.end(), extra.begin(), extra.end());
    ProcessOptions options;
    options.timeout = 360s;
    ProcessResult r = run_vmctl(data_.str(), args, options);
    std::string console = vm_manager::os::read_file(data_ / "vms" / name / "console.log").value_or("");
    EXPECT_EQ(r.exit_code, 0) << r.out << r.err << "\nconsole:\n" << console;
    EXPECT_NE(r.out.find("is ready"), std::string::npos) << r.out;
    return console;
  }

  vm_manager::qemu::QemuVm record(const std::string& name) {
    return vm_manager::qemu::QemuVm(vm_manager::VmStore(vm_manager::DataDir(data_.path())).load(name).handle);
  }

  std::string remote(const std::string& name, const std::string& command) {
    ProcessResult r = vmctl({"ssh", name, "--", command});
    EXPECT_EQ(r.exit_code, 0) << command << ": " << r.err;
    return r.out;
  }
};

TEST_F(BootDiskCliTest, BootsFromItsDiskUnderBios) {
  std::string console = boot_ready("bios");
  EXPECT_NE(console.find("GRUB: booting /boot/vmlinuz"), std::string::npos) << console;
  EXPECT_NE(console.find("TINY-GUEST: ready"), std::string::npos) << console;
  EXPECT_FALSE(record("bios").kernel) << "no --kernel: the disk boots itself";
  EXPECT_FALSE(record("bios").uefi);
  EXPECT_EQ(remote("bios", "hostname"), "bios\n");
  EXPECT_EQ(remote("bios", "test -d /sys/firmware/efi && echo uefi || echo bios"), "bios\n");
  // GRUB passed the root filesystem's UUID, as cloud images do.
  EXPECT_NE(remote("bios", "cat /proc/cmdline").find("root=UUID="), std::string::npos);
}

TEST_F(BootDiskCliTest, BootsFromItsDiskUnderUefi) {
  std::string console = boot_ready("efi", {"--uefi"});
  EXPECT_NE(console.find("GRUB: booting /boot/vmlinuz"), std::string::npos) << console;
  EXPECT_FALSE(record("efi").kernel);
  EXPECT_TRUE(record("efi").uefi);
  EXPECT_EQ(remote("efi", "hostname"), "efi\n");
  EXPECT_EQ(remote("efi", "test -d /sys/firmware/efi && echo uefi || echo bios"), "uefi\n");
}

}  // namespace
}  // namespace vmctl::test
