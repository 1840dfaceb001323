// validate_data_disks (spec_check.hpp): what a VM's data disks must be
// before a backend makes any of them.
#include <set>

#include <fmt/format.h>

#include "util/printable.hpp"
#include "vm_manager/error.hpp"
#include "vm_manager/names.hpp"
#include "vm_manager/spec_check.hpp"

namespace vm_manager {
namespace {

[[noreturn]] void invalid(std::string message, std::string help) {
  throw Error(errc::spec_invalid, std::move(message), std::move(help));
}

// The name becomes a file name, a QEMU drive id and node name ("data-NAME",
// at most 31 characters), a ZFS dataset name and the virtio-blk serial
// (20 bytes): the VM-name rules keep it free of separators, the length
// keeps it whole in the serial.
void check_name(const std::string& name) {
  if (is_valid_vm_name(name) && name.size() <= kMaxDataDiskNameLength) return;
  invalid(fmt::format("invalid data disk name '{}'", util::printable(name)),
          fmt::format("name a data disk with 1-{} letters, digits, '_', '.' or '-', beginning with a letter or "
                      "digit (the guest sees it as the disk's serial)",
                      kMaxDataDiskNameLength));
}

void check_size(const DataDisk& disk) {
  if (disk.size_gb >= 1 && disk.size_gb <= kMaxDiskGb) return;
  invalid(fmt::format("data disk '{}' must be between 1 and {} GB, not {}", disk.name, kMaxDiskGb, disk.size_gb),
          fmt::format("give the data disk's size in gigabytes, from 1 to {}, e.g. 20", kMaxDiskGb));
}

}  // namespace

void validate_data_disks(const std::vector<DataDisk>& disks) {
  if (disks.size() > kMaxDataDisks) {
    invalid(fmt::format("{} data disks given, more than the {} a VM may have", disks.size(), kMaxDataDisks),
            fmt::format("give at most {} data disks; one larger disk holds as much as several", kMaxDataDisks));
  }
  std::set<std::string> names;
  for (const DataDisk& disk : disks) {
    check_name(disk.name);
    check_size(disk);
    if (!names.insert(disk.name).second) {
      invalid(fmt::format("two data disks are named '{}'", disk.name), "give each data disk its own name");
    }
  }
}

}  // namespace vm_manager
