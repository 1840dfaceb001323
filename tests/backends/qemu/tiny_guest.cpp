#include "backends/qemu/tiny_guest.hpp"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
#include <thread>

namespace vmctl::test {

TinyGuest TinyGuest::locate() {
  std::filesystem::path cache = VMCTL_GUEST_CACHE;
  TinyGuest guest{cache / "vmlinuz", cache / "initrd.img", cache / "disk.qcow2"};
  for (const auto& file : {guest.kernel, guest.initrd, guest.disk}) {
    EXPECT_TRUE(std::filesystem::exists(file))
        << file << " is missing: the tiny_guest ctest fixture builds it (tests/guest/build-tiny-guest.sh)";
  }
  return guest;
}

vm_manager::VmSpec tiny_guest_spec(const std::string& name, const std::string& extra_cmdline) {
  TinyGuest guest = TinyGuest::locate();
  vm_manager::VmSpec spec;
  spec.name = name;
  spec.backend = vm_manager::BackendTag::qemu;
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

}  // namespace vmctl::test
