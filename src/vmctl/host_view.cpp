#include "vmctl/host_view.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "vm_manager/json.hpp"
#include "vmctl/vm_view.hpp"

namespace vmctl {
using namespace vm_manager;
namespace {

constexpr std::uint64_t kMiB = 1024 * 1024;

std::string vms_cell(const std::vector<std::string>& names) {
  if (names.empty()) return "0";
  return fmt::format("{}: {}", names.size(), fmt::join(names, ", "));
}

std::vector<std::string> row_of(const HostInfo& host) {
  if (!host.reachable) return {host.name, host.backend, host.address, "no", "-", "-", "-", "-"};
  return {host.name,
          host.backend,
          host.address,
          "yes",
          std::to_string(host.cpus),
          human_size(host.memory_mb * kMiB),
          human_size(host.free_memory_mb * kMiB),
          vms_cell(host.running_vms)};
}

}  // namespace

std::string hosts_table(const std::vector<HostInfo>& hosts) {
  std::vector<std::vector<std::string>> rows;
  for (const HostInfo& host : hosts) rows.push_back(row_of(host));
  return render_table({"NAME", "BACKEND", "ADDRESS", "REACHABLE", "CPUS", "MEMORY", "FREE", "VMS"}, rows);
}

nlohmann::json hosts_json(const std::vector<HostInfo>& hosts) {
  nlohmann::json all = nlohmann::json::array();
  for (const HostInfo& host : hosts) all.push_back(host);
  return all;
}

}  // namespace vmctl
