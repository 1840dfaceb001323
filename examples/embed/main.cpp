// Embedding vm-manager with VmManager, as vmctl does.
//
//   embed DATA_DIR              a VM's whole lifecycle on the noop backend
//   embed DATA_DIR GUEST_DIR    also: a qemu VM from the disk, kernel and
//                               initrd in GUEST_DIR (the tiny test guest),
//                               ready over SSH, `uname -a` run in it
//
// The library reads no environment; this program passes VMCTL_ACCEL on
// (tcg where KVM does not work) because it chooses to.
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vm_manager/vm_manager.hpp>

using namespace vm_manager;

namespace {

void noop_lifecycle(VmManager& vms) {
  VmSpec spec;
  spec.name = "embedded";
  spec.backend = "noop";
  spec.vcpus = 2;
  spec.memory_mb = 512;

  auto show = [&](const char* what, const VmRecord& record) {
    std::printf("%-8s -> %s\n", what, std::string(to_string(vms.state(record.handle))).c_str());
  };
  show("prepare", vms.create(spec));
  show("start", vms.start(spec.name));
  show("suspend", vms.suspend(spec.name));
  show("resume", vms.resume(spec.name));
  VmRecord stopped = vms.stop(spec.name, std::chrono::seconds(5));
  show("stop", stopped);
  std::printf("handle: %s\n", nlohmann::json(stopped.handle).dump().c_str());
  vms.destroy(spec.name);
  show("destroy", stopped);
}

void qemu_guest(VmManager& vms, const std::string& guest) {
  VmSpec spec;
  spec.name = "embedded-qemu";
  spec.backend = "qemu";
  spec.image_path = guest + "/disk.qcow2";
  spec.kernel = guest + "/vmlinuz";
  spec.initrd = guest + "/initrd.img";
  spec.cmdline = "console=ttyS0 panic=-1";
  spec.memory_mb = 192;
  spec.ssh = SshConfig{};  // log in as "vm" with a key pair made for this VM
  vms.create(spec, /*start=*/true);
  try {
    ReadyOptions ready;
    ready.progress = [](const std::string& step) { std::printf("waiting for %s\n", step.c_str()); };
    vms.wait_ready(spec.name, ready);
    ExecResult uname = vms.exec(spec.name, "uname -a");
    std::printf("uname (exit %d): %s", uname.exit_status, uname.out.c_str());
  } catch (...) {
    vms.destroy(spec.name);  // nothing of the VM outlives the program
    throw;
  }
  vms.destroy(spec.name);
  std::printf("destroyed %s\n", spec.name.c_str());
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2 && argc != 3) {
    std::fprintf(stderr, "usage: %s DATA_DIR [GUEST_DIR]\n", argv[0]);
    return 2;
  }
  try {
    Environment env;
    if (const char* accel = std::getenv("VMCTL_ACCEL")) env.set("VMCTL_ACCEL", accel);
    VmManager vms(ManagerConfig{DataDir(argv[1]), env, LockOptions{}, std::nullopt, std::nullopt,
                                BackendRegistry::builtin()});
    noop_lifecycle(vms);
    if (argc == 3) qemu_guest(vms, argv[2]);
    return 0;
  } catch (const Error& e) {
    std::fprintf(stderr, "error[%s]: %s\n  help: %s\n", e.code().c_str(), e.message().c_str(), e.help().c_str());
    return 1;
  }
}
