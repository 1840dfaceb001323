#include "backends/qemu/data_disks.hpp"

#include <fmt/format.h>

#include "backends/qemu/work_dir_layout.hpp"
#include "os/files.hpp"
#include "util/printable.hpp"
#include "util/rollback.hpp"
#include "vm_manager/error.hpp"
#include "vm_manager/spec_check.hpp"

namespace vm_manager::qemu {
namespace fs = std::filesystem;
using namespace std::chrono_literals;

namespace {

void create_one(const fs::path& file, const DataDisk& disk, const QemuConfig& config, Host& host) {
  if (fs::exists(fs::symlink_status(file))) {
    throw Error(errc::vm_already_exists, fmt::format("{} already exists", file.string()),
                "destroy the VM first; an existing disk is never overwritten");
  }
  // The guest's data: private from the start, as the root disk's overlay is
  // (qemu-img keeps the mode of a file that is there).
  os::create_private_file(file);
  os::ProcessSpec spec;
  spec.argv = {config.qemu_img, "create", "-q", "-f", "qcow2", file.string(), std::to_string(disk.size_gb) + "G"};
  os::ProcessOutput out = host.run(spec, 120s);
  if (!out.ok()) {
    std::error_code ignored;  // the error below is what matters
    fs::remove(file, ignored);
    throw Error(errc::spec_invalid,
                fmt::format("qemu-img could not create data disk '{}': {}", disk.name,
                            util::printable(out.err.substr(0, out.err.find('\n')))),
                "check free space in the data dir");
  }
}

}  // namespace

void create_data_disks(const fs::path& work_dir, const std::vector<DataDisk>& disks, const QemuConfig& config,
                       Host& host) {
  std::vector<fs::path> made;
  util::Rollback undo([&] {
    std::error_code ignored;
    for (const fs::path& file : made) fs::remove(file, ignored);
  });
  for (const DataDisk& disk : disks) {
    fs::path file = layout::data_disk(work_dir, disk.name);
    create_one(file, disk, config, host);
    made.push_back(file);
  }
  undo.commit();
}

void check_data_disk_names(const VmHandle& handle) {
  try {
    validate_data_disks(handle.data_disks);
  } catch (const Error& e) {
    throw Error(errc::store_corrupt, fmt::format("VM '{}' has a data disk its backend cannot use: {}", handle.name,
                                                 e.message()),
                "restore the record from a backup, or destroy the VM");
  }
}

}  // namespace vm_manager::qemu
