// End to end with a real Debian 12 cloud guest (tests/guest/build-debian-guest.sh):
// an image pulled over HTTP with its checksum, booting from its own GPT disk
// (GRUB, no --kernel) under BIOS and under UEFI, cloud-init with generated
// keys and the user's own user-data, `--start --wait`, `vmctl ssh`, `cp`,
// provisioning, a guest whose host key does not match being refused, and
// `--disk` growing the root filesystem (growpart + resizefs) as seen by df,
// at create and after `vmctl set --disk` on the stopped VM,
// and shared folders over virtiofs (`--mount`), read-write and read-only.
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <set>
#include <sstream>

#include "image/sha256.hpp"
#include "os/files.hpp"
#include "provision/provisioner.hpp"
#include "ssh/vm_access.hpp"
#include "support/http_server.hpp"
#include "vm_manager/error.hpp"
#include "vm_manager/router.hpp"
#include "vm_manager/store.hpp"
#include "vmctl/qemu_cli_fixture.hpp"

#ifndef VMCTL_DEBIAN_GUEST_CACHE
#error "VMCTL_DEBIAN_GUEST_CACHE must name the Debian guest's cache"
#endif

namespace vmctl::test {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;
namespace vmm = vm_manager;

const fs::path kGuest = VMCTL_DEBIAN_GUEST_CACHE;

class DebianE2eTest : public QemuCliTest {
 protected:
  void SetUp() override {
    for (const char* file : {"vmlinuz", "initrd.img", "disk.qcow2"}) {
      ASSERT_TRUE(fs::exists(kGuest / file)) << "build the guest with tests/guest/build-debian-guest.sh " << kGuest;
    }
    fs::create_directories(served_);
    fs::create_symlink(kGuest / "disk.qcow2", served_ / "debian.qcow2");
  }

  ProcessResult run(const std::vector<std::string>& args, std::chrono::seconds timeout = 60s) {
    ProcessOptions options;
    options.env["XDG_CACHE_HOME"] = (data_ / "xdg-cache").string();
    options.timeout = timeout;
    return run_vmctl(data_.str(), args, options);
  }

  std::string remote(const std::string& command, const std::string& vm = "web") {
    ProcessResult r = run({"ssh", vm, "--", command});
    EXPECT_EQ(r.exit_code, 0) << command << ": " << r.err;
    return r.out;
  }

  vmm::VmHandle handle(const std::string& vm = "web") { return vmm::VmStore(vmm::DataDir(data_.path())).load(vm).handle; }

  std::string console(const std::string& vm) {
    return vmm::os::read_file(data_ / "vms" / vm / "console.log").value_or("");
  }

  vmm::RouterHypervisor hypervisor() { return vmm::RouterHypervisor(vmm::BackendContext{vmm::DataDir(data_.path()), std::nullopt, std::nullopt, {}}); }

  fs::path served_ = data_ / "served";
};

TEST_F(DebianE2eTest, FromAnImageUrlToAProvisionedVmYouCanSshInto) {
  TestHttpServer server(served_);
  fs::path user_data = data_ / "user-data.yaml";
  std::ofstream(user_data) << "#cloud-config\n"
                              "write_files:\n"
                              "  - path: /var/tmp/from-user-data\n"
                              "    content: \"honoured\\n\"\n"
                              "runcmd:\n"
                              "  - [sh, -c, 'echo ran > /var/tmp/runcmd']\n";
  std::string sha = vmm::image::sha256_file(kGuest / "disk.qcow2");

  // The newcomer's command from the issue. The image boots itself, as a
  // cloud image does: SeaBIOS, GRUB from the disk, root found by UUID.
  ProcessResult created =
      run({"create", "--name", "web", "--image-url", server.url("debian.qcow2"), "--sha256", sha, "--memory", "1024",
           "--vcpus", "2", "--cloud-init", user_data.string(), "--start", "--wait", "--wait-timeout", "900"},
          960s);
  ASSERT_EQ(created.exit_code, 0) << created.out << created.err << "\nconsole:\n" << console("web");
  EXPECT_NE(created.out.find("VM 'web' is ready"), std::string::npos) << created.out;
  EXPECT_NE(console("web").find("GRUB: booting /boot/vmlinuz"), std::string::npos) << console("web");
  EXPECT_EQ(remote("test -d /sys/firmware/efi && echo uefi || echo bios"), "bios\n");
  EXPECT_NE(remote("cat /proc/cmdline").find("root=UUID="), std::string::npos);

  EXPECT_EQ(remote("hostname"), "web\n");
  EXPECT_EQ(remote("cat /var/tmp/from-user-data"), "honoured\n") << "the user's user-data applies too";
  EXPECT_EQ(remote("cat /var/tmp/runcmd"), "ran\n");
  EXPECT_EQ(remote("sudo -n id -u"), "0\n");

  // cp both ways.
  fs::path local = data_ / "notes.txt";
  std::ofstream(local) << "round trip\n";
  ASSERT_EQ(run({"cp", local.string(), "web:/tmp/in/notes.txt"}).exit_code, 0);
  ASSERT_EQ(run({"cp", "web:/tmp/in/notes.txt", (data_ / "back.txt").string()}).exit_code, 0);
  EXPECT_EQ(vmm::os::read_file(data_ / "back.txt").value_or(""), "round trip\n");

  // Provisioning through the library, as the VMFile's `up` does it.
  vmm::RouterHypervisor router = hypervisor();
  vmm::VmHandle h = handle();
  vmm::ssh::Session session = vmm::ssh::Session::connect(vmm::ssh::target_for(router, h));
  fs::path script = data_ / "setup.sh";
  std::ofstream(script) << "#!/bin/sh\nset -e\necho from-script > /var/tmp/script-ran\necho script says hi\n";
  std::vector<std::string> lines;
  vmm::provision::RunOptions options{"web", fs::path(h.work_dir) / "provision.log",
                                     [&](std::string_view line) { lines.emplace_back(line); }};
  vmm::provision::run(session,
                      {vmm::provision::ShellInline{"echo inline says hi"}, vmm::provision::ShellScript{script},
                       vmm::provision::FileCopy{local, "/var/tmp/provisioned/notes.txt"}},
                      options);
  EXPECT_NE(std::find(lines.begin(), lines.end(), "web | inline says hi"), lines.end());
  EXPECT_NE(std::find(lines.begin(), lines.end(), "web | script says hi"), lines.end());
  EXPECT_EQ(remote("cat /var/tmp/script-ran /var/tmp/provisioned/notes.txt"), "from-script\nround trip\n");
  std::string log = vmm::os::read_file(fs::path(h.work_dir) / "provision.log").value_or("");
  EXPECT_NE(log.find("inline says hi"), std::string::npos) << log;
  try {
    vmm::provision::run(session, {vmm::provision::ShellInline{"exit 3"}, vmm::provision::ShellInline{"touch /tmp/no"}},
                        options);
    ADD_FAILURE() << "a failing step must stop provisioning";
  } catch (const vmm::Error& e) {
    EXPECT_EQ(e.code(), vmm::errc::provision_failed);
    EXPECT_NE(e.message().find("step 1 (shell inline: exit 3)"), std::string::npos) << e.message();
    EXPECT_NE(e.message().find("exit status 3"), std::string::npos) << e.message();
  }
  EXPECT_EQ(run({"ssh", "web", "--", "test", "!", "-e", "/tmp/no"}).exit_code, 0) << "later steps did not run";

  // The image was downloaded once, into the cache, checked.
  ProcessResult images = run({"image", "list", "--json"});
  EXPECT_NE(images.out.find(sha), std::string::npos) << images.out;

  // A guest presenting another host key than the one vmctl made is refused:
  // the guest gets a new one, as a reinstalled or impostor machine would.
  ASSERT_EQ(remote("sudo -n sh -c 'rm -f /etc/ssh/ssh_host_ed25519_key* && "
                   "ssh-keygen -q -t ed25519 -N \"\" -f /etc/ssh/ssh_host_ed25519_key && "
                   "systemctl restart ssh' && echo rotated"),
            "rotated\n");
  ProcessResult refused = run({"ssh", "web", "--", "echo", "must-not-run"});
  EXPECT_EQ(refused.exit_code, 255);
  EXPECT_EQ(refused.out.find("must-not-run"), std::string::npos);
  EXPECT_NE(refused.err.find("Host key verification failed"), std::string::npos) << refused.err;
  try {
    vmm::ssh::Session::connect(vmm::ssh::target_for(router, h));
    ADD_FAILURE() << "vmctl's own SSH client accepted the new host key";
  } catch (const vmm::Error& e) {
    EXPECT_EQ(e.code(), vmm::errc::ssh_host_key_mismatch) << e.message();
  }
  ProcessResult copy = run({"cp", "web:/etc/hostname", (data_ / "hostname").string()});
  EXPECT_NE(copy.err.find("error[vm_manager::ssh::host_key_mismatch]"), std::string::npos) << copy.err;
}

// UEFI (OVMF) boots the same disk through GRUB on its ESP, and a disk
// created larger than the image is the root filesystem's: cloud-init's
// growpart grows the last partition into it and resizefs the ext4 on it.
TEST_F(DebianE2eTest, UnderUefiTheRootFilesystemGrowsToTheDisk) {
  constexpr double kGiB = 1024.0 * 1024.0 * 1024.0;
  ProcessResult image = run_process({"qemu-img", "info", "--output=json", (kGuest / "disk.qcow2").string()});
  ASSERT_EQ(image.exit_code, 0) << image.err;
  EXPECT_LT(nlohmann::json::parse(image.out).at("virtual-size").get<double>(), 2.5 * kGiB) << "a 2 GiB image";

  ProcessResult created = run({"create", "--name", "big", "--image", (kGuest / "disk.qcow2").string(), "--uefi",
                               "--disk", "8", "--memory", "1024", "--vcpus", "2", "--start", "--wait",
                               "--wait-timeout", "900"},
                              960s);
  ASSERT_EQ(created.exit_code, 0) << created.out << created.err << "\nconsole:\n" << console("big");
  EXPECT_NE(console("big").find("GRUB: booting /boot/vmlinuz"), std::string::npos) << console("big");
  EXPECT_EQ(remote("test -d /sys/firmware/efi && echo uefi || echo bios", "big"), "uefi\n");

  std::string df = remote("df -B1 --output=size,source / | tail -n 1", "big");
  std::istringstream fields(df);
  double size = 0;
  std::string source;
  fields >> size >> source;
  EXPECT_GT(size, 7.5 * kGiB) << "df -B1 /: " << df;
  EXPECT_LT(size, 8.0 * kGiB) << "df -B1 /: " << df;
  EXPECT_EQ(source, "/dev/vda3") << "the root is the last partition of the first disk";
}

// `vmctl set --disk` on a stopped VM: at the next boot cloud-init's growpart
// (and resizefs), which Debian's image runs at every boot, grow the root
// filesystem into the larger disk.
TEST_F(DebianE2eTest, SetDiskGrowsTheRootFilesystemAtTheNextBoot) {
  constexpr double kGiB = 1024.0 * 1024.0 * 1024.0;
  auto root_size = [this] {
    std::istringstream fields(remote("df -B1 --output=size / | tail -n 1", "grown"));
    double size = 0;
    fields >> size;
    return size;
  };
  ProcessResult created = run({"create", "--name", "grown", "--image", (kGuest / "disk.qcow2").string(), "--disk",
                               "3", "--memory", "1024", "--vcpus", "2", "--start", "--wait", "--wait-timeout", "900"},
                              960s);
  ASSERT_EQ(created.exit_code, 0) << created.out << created.err << "\nconsole:\n" << console("grown");
  const double before = root_size();
  EXPECT_LT(before, 3.0 * kGiB);
  EXPECT_GT(before, 2.5 * kGiB);

  ASSERT_EQ(run({"stop", "grown"}, 120s).exit_code, 0);
  ProcessResult set = run({"set", "grown", "--disk", "5"});
  ASSERT_EQ(set.exit_code, 0) << set.err;
  ProcessResult started = run({"start", "grown", "--wait", "--wait-timeout", "900"}, 960s);
  ASSERT_EQ(started.exit_code, 0) << started.out << started.err << "\nconsole:\n" << console("grown");
  const double after = root_size();
  EXPECT_GT(after, 4.5 * kGiB) << "df -B1 / before: " << before;
  EXPECT_LT(after, 5.0 * kGiB);
}

// The vhost-user sockets that virtiofsd processes serve for this data dir's
// VMs (each folder's daemon is two processes: its sandbox runs in a child).
// Two host folders shared with a Debian guest: cloud-init mounts them (and
// again after a restart); what the host writes the guest reads, what the
// guest writes lands on the host as the host user's, and a read-only folder
// refuses writes even when the guest remounts it read-write (virtiofsd's
// own mount namespace holds it read-only, not only the guest's kernel).
TEST_F(DebianE2eTest, SharedFoldersOverVirtiofs) {
  fs::path shared = data_ / "shared";
  fs::path readonly = data_ / "readonly";
  fs::create_directories(shared);
  fs::create_directories(readonly);
  std::ofstream(shared / "from-host.txt") << "written on the host\n";
  std::ofstream(readonly / "kept.txt") << "read me\n";

  ProcessResult created = run({"create", "--name", "share", "--image", (kGuest / "disk.qcow2").string(), "--memory",
                               "1024", "--vcpus", "2", "--mount", shared.string() + ":/srv/shared", "--mount",
                               readonly.string() + ":/srv/readonly:ro", "--start", "--wait", "--wait-timeout", "900"},
                              960s);
  ASSERT_EQ(created.exit_code, 0) << created.out << created.err << "\nconsole:\n" << console("share");
  EXPECT_EQ(virtiofsd_sockets(data_.path()).size(), 2u);

  EXPECT_EQ(remote("findmnt -n -r -o FSTYPE,SOURCE /srv/shared", "share"), "virtiofs vmctl:0\n");
  EXPECT_EQ(remote("cat /srv/shared/from-host.txt", "share"), "written on the host\n");
  // Written after the guest mounted it: no cache hides it.
  std::ofstream(shared / "later.txt") << "after boot\n";
  EXPECT_EQ(remote("cat /srv/shared/later.txt", "share"), "after boot\n");

  // The guest's root writes; on a root host that is the host user. (The
  // guest's other users keep their uids: QEMU 7.2's virtiofsd maps none.)
  ASSERT_EQ(remote("sudo -n sh -c 'echo written in the guest > /srv/shared/from-guest.txt' && echo ok", "share"),
            "ok\n");
  EXPECT_EQ(vmm::os::read_file(shared / "from-guest.txt").value_or(""), "written in the guest\n");
  struct stat st {};
  ASSERT_EQ(::stat((shared / "from-guest.txt").c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, ::geteuid());
  EXPECT_EQ(st.st_gid, ::getegid());

  EXPECT_EQ(remote("cat /srv/readonly/kept.txt", "share"), "read me\n");
  ProcessResult refused = run({"ssh", "share", "--", "sudo -n sh -c 'echo no > /srv/readonly/new.txt'"});
  EXPECT_NE(refused.exit_code, 0);
  EXPECT_NE(refused.err.find("Read-only file system"), std::string::npos) << refused.err;
  ProcessResult remounted =
      run({"ssh", "share", "--",
           "sudo -n mount -o remount,rw /srv/readonly && sudo -n sh -c 'echo no > /srv/readonly/new.txt'"});
  EXPECT_NE(remounted.exit_code, 0) << "a guest that remounts read-write still cannot write";
  EXPECT_NE(remounted.err.find("Read-only file system"), std::string::npos) << remounted.err;
  EXPECT_FALSE(fs::exists(readonly / "new.txt"));

  ProcessResult status = run({"status", "share"});
  EXPECT_NE(status.out.find(shared.string() + " -> /srv/shared"), std::string::npos) << status.out;
  EXPECT_NE(status.out.find(readonly.string() + " -> /srv/readonly (read-only)"), std::string::npos) << status.out;

  // Stopped, nothing of it runs; started again, the guest's fstab (written
  // by cloud-init once) mounts the folders again.
  ASSERT_EQ(run({"stop", "share"}, 120s).exit_code, 0);
  EXPECT_EQ(virtiofsd_sockets(data_.path()), std::set<std::string>{});
  ProcessResult started = run({"start", "share", "--wait", "--wait-timeout", "900"}, 960s);
  ASSERT_EQ(started.exit_code, 0) << started.out << started.err << "\nconsole:\n" << console("share");
  EXPECT_EQ(remote("cat /srv/shared/from-guest.txt /srv/readonly/kept.txt", "share"),
            "written in the guest\nread me\n");
  ASSERT_EQ(run({"destroy", "share"}, 120s).exit_code, 0);
  EXPECT_EQ(virtiofsd_sockets(data_.path()), std::set<std::string>{});
  EXPECT_TRUE(fs::exists(shared / "from-guest.txt")) << "destroying the VM leaves the shared folder alone";
}

}  // namespace
}  // namespace vmctl::test
