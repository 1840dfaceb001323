// `vmctl create --data-disk SIZE[:NAME]`: an extra, empty disk of SIZE GB.
#pragma once

#include <cstddef>
#include <string_view>

#include "vm_manager/types.hpp"

namespace vmctl {

// SIZE is whole gigabytes, "20" or "20G" ("20GB" and a lower-case g too).
// Without NAME the disk is named by its position among the --data-disk
// flags: data1, data2… (`position` counts from 1). The name's rules and the
// size's bounds are the library's to judge (validate_data_disks). Raises
// spec::invalid for a SIZE that is not a number of GB, or an empty NAME.
vm_manager::DataDisk parse_data_disk_flag(std::string_view text, std::size_t position);

}  // namespace vmctl
