// The tiny test guest (tests/guest/) and helpers for tests that boot it.
#pragma once

#include <chrono>
#include <filesystem>
#include <string>

#include "vm_manager/types.hpp"

namespace vmctl::test {

// Where ctest's tiny_guest fixture built the guest (VMCTL_GUEST_CACHE).
struct TinyGuest {
  std::filesystem::path kernel;
  std::filesystem::path initrd;
  std::filesystem::path disk;

  static TinyGuest locate();  // fails the test when the guest is missing
};

// A spec that boots the tiny guest with a seed naming it, 192 MB, 1 vCPU.
vm_manager::VmSpec tiny_guest_spec(const std::string& name, const std::string& extra_cmdline = "");

// Waits until `text` appears in the file (a console log), or the timeout.
bool wait_for_text(const std::filesystem::path& file, const std::string& text, std::chrono::seconds timeout);

}  // namespace vmctl::test
