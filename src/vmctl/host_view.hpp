// How `vmctl hosts` presents the hosts it described: a table for people,
// JSON for scripts.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "vm_manager/types.hpp"

namespace vmctl {

// NAME BACKEND ADDRESS REACHABLE CPUS MEMORY FREE VMS, one row a host; an
// unreachable host's numbers are "-". VMS: "0", or "2: db, web".
std::string hosts_table(const std::vector<vm_manager::HostInfo>& hosts);

// An array of HostInfo objects ("error" only where a host was unreachable).
nlohmann::json hosts_json(const std::vector<vm_manager::HostInfo>& hosts);

}  // namespace vmctl
