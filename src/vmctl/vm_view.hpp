// How list and status present a VM: the record plus its live state.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "vm_manager/hypervisor.hpp"
#include "vm_manager/store.hpp"

namespace vmctl {

struct VmView {
  nlohmann::json json;  // the --json object; null where a field does not apply
  std::vector<std::string> row;  // the table row, same order as table_header()
};

// Asks the backend for the live state. A backend error does not abort the
// listing: the VM shows as failed and the error goes into "problem".
VmView view_of(const vm_manager::StoreEntry& entry, vm_manager::Hypervisor& hypervisor);

std::vector<std::string> table_header();

// Aligned columns, two spaces apart, no trailing blanks.
std::string render_table(const std::vector<std::string>& header,
                         const std::vector<std::vector<std::string>>& rows);

}  // namespace vmctl
