// How list and status present a VM: the record plus its live state.
#pragma once

#include <cstdint>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "vm_manager/manager.hpp"

namespace vmctl {

struct VmView {
  nlohmann::json json;  // the --json object; null where a field does not apply
  std::vector<std::string> row;  // the table row, same order as table_header()
  std::string host;  // its HOST cell: where the VM runs as the user named it, "-" for this machine
};

// A VM as VmManager::list() or status() saw it (a backend error shows as
// failed, with the error in "problem").
VmView view_of(const vm_manager::VmStatus& status);

std::vector<std::string> table_header();

// Prints "VNC 127.0.0.1:5901, password … (shown once)" on stdout when a
// start set a VNC password, even under --quiet: it cannot be had again.
void show_vnc_password(const vm_manager::VmHandle& started);

// Aligned columns, two spaces apart, no trailing blanks.
std::string render_table(const std::vector<std::string>& header,
                         const std::vector<std::vector<std::string>>& rows);

// "512 B", "1.5 GiB": a size for people.
std::string human_size(std::uint64_t bytes);

}  // namespace vmctl
