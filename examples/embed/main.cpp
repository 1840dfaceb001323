// Embedding vm-manager with VmManager, as vmctl does.
//
//   embed DATA_DIR              a VM's whole lifecycle on the noop backend
//   embed DATA_DIR GUEST_DIR    also: a qemu VM from the disk, kernel and
//                               initrd in GUEST_DIR (the tiny test guest),
//                               its disk taken through the image cache,
//                               ready over SSH, `uname -a` run in it with
//                               its output streamed, a file copied in and
//                               out, and a provisioning step
//
// The library reads no environment; this program passes VMCTL_ACCEL on
// (tcg where KVM does not work) because it chooses to.
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
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
  show("restart", vms.restart(spec.name, std::chrono::seconds(5)));
  for (const VmStatus& vm : vms.list()) std::printf("listed   %s: %s\n", vm.name.c_str(), std::string(to_string(vm.state)).c_str());
  VmRecord stopped = vms.stop(spec.name, std::chrono::seconds(5));
  show("stop", stopped);
  std::printf("handle: %s\n", nlohmann::json(stopped.handle).dump().c_str());
  vms.destroy(spec.name);
  show("destroy", stopped);
}

// A file into the guest and back out again, compared.
void copy_round_trip(VmManager& vms, const std::string& name, const std::filesystem::path& scratch) {
  std::filesystem::create_directories(scratch);
  std::ofstream(scratch / "hello.txt") << "hello from the host\n";
  vms.upload(name, scratch / "hello.txt", "/tmp/embed/hello.txt");
  vms.download(name, "/tmp/embed/hello.txt", scratch / "back.txt");
  std::ifstream back(scratch / "back.txt");
  std::string line;
  std::getline(back, line);
  std::printf("copied   %s\n", line.c_str());
}

void qemu_guest(VmManager& vms, const std::string& guest, const std::filesystem::path& scratch) {
  VmSpec spec;
  spec.name = "embedded-qemu";
  spec.backend = "qemu";
  spec.image_path = guest + "/disk.qcow2";
  spec.kernel = guest + "/vmlinuz";
  spec.initrd = guest + "/initrd.img";
  spec.cmdline = "console=ttyS0 panic=-1";
  spec.memory_mb = 192;
  spec.ssh = SshConfig{};  // log in as "vm" with a key pair made for this VM
  CreateOptions create;
  create.start = true;
  // A local file goes through the cache as a URL would (used in place when
  // it is not compressed); an http(s):// or oci:// image_path always does.
  create.through_cache = true;
  vms.create(spec, create);
  try {
    ReadyOptions ready;
    ready.progress = [](const Progress& step) {
      if (!step.finished) std::printf("waiting for %s\n", step.what.c_str());
    };
    vms.wait_ready(spec.name, ready);
    ExecOptions streamed;
    std::size_t chunks = 0;
    streamed.on_stdout = [&](std::string_view) { ++chunks; };
    ExecResult uname = vms.exec(spec.name, "uname -a", streamed);
    std::printf("uname (exit %d): %s", uname.exit_status, uname.out.c_str());
    std::printf("streamed %zu chunk(s) of it as they came\n", chunks);
    copy_round_trip(vms, spec.name, scratch);
    ProvisionOptions provision;
    provision.print = [](std::string_view line) { std::printf("provision | %.*s\n", int(line.size()), line.data()); };
    vms.provision(spec.name, {ProvisionShell{"echo provisioned by $(id -un)"}}, provision);
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
    ManagerConfig config(DataDir(argv[1]), env);
    config.image_cache = std::filesystem::path(argv[1]) / "image-cache";  // not the user's own cache
    VmManager vms(std::move(config));
    noop_lifecycle(vms);
    if (argc == 3) qemu_guest(vms, argv[2], std::filesystem::path(argv[1]) / "scratch");
    return 0;
  } catch (const Error& e) {
    std::fprintf(stderr, "error[%s]: %s\n  help: %s\n", e.code().c_str(), e.message().c_str(), e.help().c_str());
    return 1;
  }
}
