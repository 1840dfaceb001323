#include "vmctl/vm_view.hpp"

#include <algorithm>
#include <cstdio>

#include <fmt/format.h>

#include "vm_manager/json.hpp"

namespace vmctl {
using namespace vm_manager;
using nlohmann::json;
namespace {

json text_or_null(const std::string& text) { return text.empty() ? json(nullptr) : json(text); }

template <typename T>
json value_or_null(const std::optional<T>& value) {
  return value ? json(*value) : json(nullptr);
}

std::string cell(const json& value) {
  if (value.is_null()) return "-";
  if (value.is_string()) return value.get<std::string>();
  return value.dump();
}

// One of the facts the backend adds (describe), or null.
json fact_or_null(const json& facts, const char* key) {
  auto it = facts.find(key);
  return it == facts.end() ? json(nullptr) : *it;
}

json view_json(const VmStatus& status) {
  VmState state = status.state;
  const std::string& problem = status.problem;
  if (!status.record) {
    return json{{"name", status.name}, {"backend", nullptr}, {"host", nullptr}, {"state", state}, {"vcpus", nullptr},
                {"memory_mb", nullptr}, {"disk_gb", nullptr}, {"network", nullptr},
                {"ssh_host", nullptr}, {"ssh_port", nullptr}, {"ssh_user", nullptr}, {"pid", nullptr},
                {"vnc", nullptr}, {"port_forwards", nullptr}, {"work_dir", nullptr}, {"id", nullptr},
                {"created_at", nullptr}, {"problem", text_or_null(problem)}, {"mounts", nullptr},
                {"data_disks", nullptr}};
  }
  const VmHandle& h = status.record->handle;
  return json{{"name", h.name},
              {"backend", h.backend},
              {"host", text_or_null(h.host)},
              {"state", state},
              {"vcpus", h.vcpus},
              {"memory_mb", h.memory_mb},
              {"disk_gb", value_or_null(h.disk_gb)},
              {"network", network_mode(h.network)},
              {"ssh_host", text_or_null(h.ssh_host)},
              {"ssh_port", value_or_null(h.ssh_port)},
              {"ssh_user", text_or_null(h.ssh_user)},
              {"pid", fact_or_null(status.details, "pid")},
              {"vnc", fact_or_null(status.details, "vnc")},
              {"port_forwards", h.port_forwards},
              {"work_dir", text_or_null(h.work_dir)},
              {"id", h.id},
              {"created_at", text_or_null(status.record->created_at)},
              {"problem", text_or_null(problem)},
              {"mounts", h.shared_folders.empty() ? json(nullptr) : json(h.shared_folders)},
              {"data_disks", h.data_disks.empty() ? json(nullptr) : json(h.data_disks)}};
}

}  // namespace

std::vector<std::string> table_header() {
  return {"NAME", "BACKEND", "HOST", "STATE", "VCPUS", "MEMORY", "SSH", "PID", "VNC"};
}

VmView view_of(const VmStatus& status) {
  VmView view;
  view.json = view_json(status);
  const json& j = view.json;
  std::string memory = j["memory_mb"].is_null() ? "-" : fmt::format("{} MB", j["memory_mb"].get<std::uint64_t>());
  std::string ssh = j["ssh_port"].is_null() ? "-"
                                            : fmt::format("{}:{}", cell(j["ssh_host"]), cell(j["ssh_port"]));
  view.host = cell(j["host"]);
  view.row = {cell(j["name"]), cell(j["backend"]), view.host, cell(j["state"]), cell(j["vcpus"]),
              memory,          ssh,                cell(j["pid"]),  cell(j["vnc"])};
  return view;
}

std::string render_table(const std::vector<std::string>& header,
                         const std::vector<std::vector<std::string>>& rows) {
  std::vector<std::size_t> widths(header.size(), 0);
  auto widen = [&](const std::vector<std::string>& row) {
    for (std::size_t i = 0; i < row.size() && i < widths.size(); ++i) {
      widths[i] = std::max(widths[i], row[i].size());
    }
  };
  widen(header);
  for (const auto& row : rows) widen(row);
  auto line = [&](const std::vector<std::string>& row) {
    std::string out;
    for (std::size_t i = 0; i < row.size(); ++i) {
      out += row[i];
      if (i + 1 < row.size()) out += std::string(widths[i] - row[i].size() + 2, ' ');
    }
    while (!out.empty() && out.back() == ' ') out.pop_back();  // an empty last cell leaves no trailing blanks
    return out + "\n";
  };
  std::string out = line(header);
  for (const auto& row : rows) out += line(row);
  return out;
}

void show_vnc_password(const vm_manager::VmHandle& started) {
  if (!started.vnc_password) return;
  std::string line = fmt::format("VNC {}, password {} (shown once)\n", started.vnc_password->address,
                                 started.vnc_password->password);
  std::fputs(line.c_str(), stdout);
}

std::string human_size(std::uint64_t bytes) {
  static constexpr const char* kUnits[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double value = static_cast<double>(bytes);
  int unit = 0;
  while (value >= 1024 && unit < 4) {
    value /= 1024;
    ++unit;
  }
  return unit == 0 ? fmt::format("{} B", bytes) : fmt::format("{:.1f} {}", value, kUnits[unit]);
}

}  // namespace vmctl
