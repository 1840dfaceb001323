#include <cstdio>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "vm_manager/json.hpp"
#include "vm_manager/spec_check.hpp"

#include "vm_manager/json.hpp"
#include "vmctl/commands.hpp"
#include "vmctl/vm_view.hpp"

namespace vmctl {
using namespace vm_manager;
namespace {

// "127.0.0.1:8080->80/tcp, 0.0.0.0:5353->53/udp".
std::string forwards_line(const nlohmann::json& forwards) {
  std::vector<std::string> texts;
  for (const auto& forward : forwards) texts.push_back(port_forward_text(forward.get<PortForward>()));
  return fmt::format("{:<11} {}\n", "forwards:", fmt::join(texts, ", "));
}

// "HOST -> GUEST, HOST -> GUEST (read-only)", from the view's JSON.
std::string mounts_text(const nlohmann::json& mounts) {
  std::string text;
  for (const SharedFolder& f : mounts.get<std::vector<SharedFolder>>()) {
    text += fmt::format("{}{} -> {}{}", text.empty() ? "" : ", ", f.host_path, f.guest_path,
                        f.read_only ? " (read-only)" : "");
  }
  return text;
}

// "scratch (20 GB), logs (5 GB)", from the view's JSON.
std::string data_disks_text(const nlohmann::json& disks) {
  std::vector<std::string> texts;
  for (const DataDisk& d : disks.get<std::vector<DataDisk>>()) {
    texts.push_back(fmt::format("{} ({} GB)", d.name, d.size_gb));
  }
  return fmt::format("{}", fmt::join(texts, ", "));
}

std::string human_status(const nlohmann::json& j) {
  std::string out;
  for (const auto& [key, value] : j.items()) {
    if (value.is_null()) continue;
    if (key == "port_forwards") {
      if (!value.empty()) out += forwards_line(value);
      continue;
    }
    if (key == "mounts") {
      out += fmt::format("{:<11} {}\n", "mounts:", mounts_text(value));
      continue;
    }
    if (key == "data_disks") {
      out += fmt::format("{:<11} {}\n", "data disks:", data_disks_text(value));
      continue;
    }
    out += fmt::format("{:<11} {}\n", key + ":", value.is_string() ? value.get<std::string>() : value.dump());
  }
  return out;
}

}  // namespace

void add_status_command(CLI::App& app, Context& ctx) {
  auto name = std::make_shared<std::string>();
  auto json_output = std::make_shared<bool>(false);
  auto* cmd = app.add_subcommand("status", "Show one VM's live state and details");
  add_name_argument(*cmd, *name);
  cmd->add_flag("--json", *json_output, "Print a JSON object");
  cmd->callback([&ctx, name, json_output] {
    VmView view = view_of(ctx.manager().status(*name));
    std::string out = *json_output ? view.json.dump(2) + "\n" : human_status(view.json);
    std::fputs(out.c_str(), stdout);
  });
}

}  // namespace vmctl
