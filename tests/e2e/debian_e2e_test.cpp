// End to end with a real Debian 12 cloud guest (tests/guest/build-debian-guest.sh):
// an image pulled over HTTP with its checksum, cloud-init with generated
// keys and the user's own user-data, `--start --wait`, `vmctl ssh`, `cp`,
// provisioning, and a guest whose host key does not match being refused.
#include <algorithm>
#include <fstream>

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

  std::string remote(const std::string& command) {
    ProcessResult r = run({"ssh", "web", "--", command});
    EXPECT_EQ(r.exit_code, 0) << command << ": " << r.err;
    return r.out;
  }

  vmm::VmHandle handle() { return vmm::VmStore(vmm::DataDir(data_.path())).load("web").handle; }

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

  // The newcomer's command from the issue.
  ProcessResult created =
      run({"create", "--name", "web", "--image-url", server.url("debian.qcow2"), "--sha256", sha,
           "--kernel", (kGuest / "vmlinuz").string(), "--initrd", (kGuest / "initrd.img").string(),
           "--append", "root=/dev/vda rw console=ttyS0", "--memory", "1024", "--vcpus", "2",
           "--cloud-init", user_data.string(), "--start", "--wait", "--wait-timeout", "900"},
          960s);
  ASSERT_EQ(created.exit_code, 0) << created.out << created.err << "\nconsole:\n"
                                  << vmm::os::read_file(data_ / "vms/web/console.log").value_or("");
  EXPECT_NE(created.out.find("VM 'web' is ready"), std::string::npos) << created.out;

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

}  // namespace
}  // namespace vmctl::test
