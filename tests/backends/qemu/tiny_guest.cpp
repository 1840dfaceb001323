#include "backends/qemu/tiny_guest.hpp"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
#include <thread>

#include "backends/qemu/qemu_vm.hpp"
#include "os/files.hpp"
#include "os/proc.hpp"

namespace vmctl::test {

TinyGuest TinyGuest::locate() {
  std::filesystem::path cache = VMCTL_GUEST_CACHE;
  TinyGuest guest{cache / "vmlinuz", cache / "initrd.img", cache / "disk.qcow2", cache / "disk-boot.qcow2"};
  for (const auto& file : {guest.kernel, guest.initrd, guest.disk, guest.boot_disk}) {
    EXPECT_TRUE(std::filesystem::exists(file))
        << file << " is missing: the tiny_guest ctest fixture builds it (tests/guest/build-tiny-guest.sh)";
  }
  return guest;
}

vm_manager::VmSpec tiny_guest_spec(const std::string& name, const std::string& extra_cmdline) {
  TinyGuest guest = TinyGuest::locate();
  vm_manager::VmSpec spec;
  spec.name = name;
  spec.backend = "qemu";
  spec.image_path = guest.disk.string();
  spec.kernel = guest.kernel.string();
  spec.initrd = guest.initrd.string();
  spec.cmdline = "console=ttyS0 panic=-1 " + extra_cmdline;
  spec.memory_mb = 192;
  spec.accel = vm_manager::Accel::tcg;
  vm_manager::CloudInitConfig seed;
  seed.hostname = name;
  seed.user_data = "#cloud-config\n";
  spec.cloud_init = seed;
  return spec;
}

bool wait_for_text(const std::filesystem::path& file, const std::string& text, std::chrono::seconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    std::ifstream in(file);
    std::stringstream content;
    content << in.rdbuf();
    if (content.str().find(text) != std::string::npos) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return false;
}

vm_manager::VmHandle TrackedVms::prepare(const vm_manager::VmSpec& spec) {
  vm_manager::VmHandle handle = backend_.prepare(spec);
  handles_.push_back(handle);
  return handle;
}

vm_manager::VmHandle TrackedVms::start(const vm_manager::VmHandle& handle) {
  vm_manager::VmHandle started = backend_.start(handle);
  remember(started);
  return started;
}

void TrackedVms::remember(const vm_manager::VmHandle& handle) {
  for (auto& known : handles_) {
    if (known.id == handle.id) known = handle;
  }
}

void TrackedVms::destroy_all() {
  for (const auto& h : handles_) {
    try {
      backend_.destroy(h);
    } catch (const std::exception& e) {
      ADD_FAILURE() << "destroy of " << h.name << " failed: " << e.what();
    }
    const vm_manager::qemu::QemuVm vm(h);
    if (vm.pid && vm.pid_start_time) {
      EXPECT_FALSE(vm_manager::os::is_running_process(static_cast<pid_t>(*vm.pid), *vm.pid_start_time))
          << "QEMU of " << h.name << " (pid " << *vm.pid << ") outlived destroy";
    }
  }
  handles_.clear();
}

std::set<std::string> virtiofsd_sockets(const std::filesystem::path& data_dir) {
  std::set<std::string> found;
  for (const std::filesystem::directory_entry& entry : std::filesystem::directory_iterator("/proc")) {
    std::istringstream args(vm_manager::os::read_file(entry.path() / "cmdline").value_or(""));
    std::vector<std::string> argv;
    for (std::string arg; std::getline(args, arg, '\0');) argv.push_back(arg);
    if (argv.empty() || !argv[0].ends_with("virtiofsd")) continue;
    for (const std::string& arg : argv) {
      if (arg.starts_with("--socket-path=" + data_dir.string())) found.insert(arg);
    }
  }
  return found;
}

}  // namespace vmctl::test
