// A VM's data disks (VmHandle::data_disks): empty qcow2 files in its work
// dir (layout::data_disk), attached as virtio-blk with serial=NAME.
#pragma once

#include <filesystem>
#include <vector>

#include "backends/qemu/config.hpp"
#include "backends/qemu/host.hpp"
#include "vm_manager/types.hpp"

namespace vm_manager::qemu {

// Creates each disk as an empty qcow2 of its size, private to the user.
// Refuses to overwrite a file that is there. When one fails, the ones it
// made are removed and spec::invalid says why.
void create_data_disks(const std::filesystem::path& work_dir, const std::vector<DataDisk>& disks,
                       const QemuConfig& config, Host& host);

// Raises store::corrupt when a recorded data disk's name would lead its
// file out of the work dir or break the command line (a tampered record).
void check_data_disk_names(const VmHandle& handle);

}  // namespace vm_manager::qemu
