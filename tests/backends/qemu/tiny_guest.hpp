// The tiny test guest (tests/guest/) and helpers for tests that boot it.
#pragma once

#include <chrono>
#include <filesystem>
#include <set>
#include <string>
#include <vector>

#include "vm_manager/hypervisor.hpp"
#include "vm_manager/types.hpp"

namespace vmctl::test {

// Where ctest's tiny_guest fixture built the guest (VMCTL_GUEST_CACHE).
struct TinyGuest {
  std::filesystem::path kernel;
  std::filesystem::path initrd;
  std::filesystem::path disk;
  // The same guest on a GPT disk that boots itself: GRUB for BIOS and UEFI,
  // then the kernel and initramfs from its root (tests/guest/make-boot-disk.sh).
  std::filesystem::path boot_disk;

  static TinyGuest locate();  // fails the test when the guest is missing
};

// A spec that boots the tiny guest with a seed naming it, 192 MB, 1 vCPU.
vm_manager::VmSpec tiny_guest_spec(const std::string& name, const std::string& extra_cmdline = "");

// Waits until `text` appears in the file (a console log), or the timeout.
bool wait_for_text(const std::filesystem::path& file, const std::string& text, std::chrono::seconds timeout);

// The --socket-path arguments of the virtiofsd processes running for VMs
// under `data_dir`: which of a test's shared-folder daemons are still up.
std::set<std::string> virtiofsd_sockets(const std::filesystem::path& data_dir);

// The VMs a test made: kept up to date as they start, and destroyed by
// destroy_all() (also on destruction), which fails the test when one cannot
// be destroyed or its QEMU outlives destroy. No QEMU may outlive its test.
class TrackedVms {
 public:
  explicit TrackedVms(vm_manager::Hypervisor& backend) : backend_(backend) {}
  ~TrackedVms() { destroy_all(); }
  TrackedVms(const TrackedVms&) = delete;
  TrackedVms& operator=(const TrackedVms&) = delete;

  vm_manager::VmHandle prepare(const vm_manager::VmSpec& spec);
  vm_manager::VmHandle start(const vm_manager::VmHandle& handle);
  // A VM prepared elsewhere (another backend object on the same data dir).
  void add(const vm_manager::VmHandle& handle) { handles_.push_back(handle); }
  // Replaces the tracked handle of the same VM (its pid changed).
  void remember(const vm_manager::VmHandle& handle);
  void destroy_all();

 private:
  vm_manager::Hypervisor& backend_;
  std::vector<vm_manager::VmHandle> handles_;
};

}  // namespace vmctl::test
