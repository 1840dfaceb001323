// libFuzzer target for reading a VM's record back (src/store/store.cpp):
// vm.json is data anyone who can write the data dir may have written, so the
// JSON, the migration of older formats and the identity checks (the record
// must name its folder's VM, that folder as work dir, and a UUID id) must
// survive anything.
//
// Input: the bytes of vm.json for VM "web" in a scratch data dir. Only a
// record whose identity checks out, or a vm_manager::Error with a one-line
// message and a help text, may come out; another exception, a crash, a hang
// or a sanitizer report is a finding. salvage() must accept anything.
//
// Also compiled into store_test (g++), which replays the corpus.
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "vm_manager/error.hpp"
#include "vm_manager/store.hpp"

namespace {

namespace fs = std::filesystem;

// One scratch data dir per process, removed at exit: "@DATA_DIR@" in an
// input stands for it, so the corpus can hold records that pass the checks.
const fs::path& data_root() {
  // Never destroyed, so the atexit hook can still name it.
  static const fs::path* root = [] {
    auto* dir = new fs::path(fs::temp_directory_path() / ("vmctl-store-fuzz-" + std::to_string(::getpid())));
    fs::create_directories(*dir / "vms" / "web");
    fs::permissions(*dir, fs::perms::owner_all, fs::perm_options::replace);
    return dir;
  }();
  static const bool removed_at_exit = std::atexit([] {
    std::error_code ec;
    fs::remove_all(*root, ec);
  }) == 0;
  (void)removed_at_exit;
  return *root;
}

std::string with_data_dir(std::string text) {
  const std::string marker = "@DATA_DIR@";
  for (auto at = text.find(marker); at != std::string::npos; at = text.find(marker, at)) {
    text.replace(at, marker.size(), data_root().string());
  }
  return text;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const vm_manager::DataDir dir(data_root());
  const vm_manager::VmStore store(dir);
  std::ofstream(dir.vm_file("web"), std::ios::binary | std::ios::trunc)
      << with_data_dir(std::string(reinterpret_cast<const char*>(data), size));
  try {
    vm_manager::VmRecord record = store.load("web");
    if (record.handle.name != "web" || fs::path(record.handle.work_dir) != dir.vm_dir("web")) std::abort();
  } catch (const vm_manager::Error& e) {
    if (e.message().empty() || e.message().find('\n') != std::string::npos || e.help().empty()) std::abort();
  }
  vm_manager::VmHandle remains = store.salvage("web");
  if (remains.name != "web" || fs::path(remains.work_dir) != dir.vm_dir("web")) std::abort();
  return 0;
}
