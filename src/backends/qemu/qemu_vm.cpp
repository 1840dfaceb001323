#include "backends/qemu/qemu_vm.hpp"

#include <fmt/format.h>

#include "vm_manager/error.hpp"
#include "vm_manager/json.hpp"

namespace vm_manager::qemu {
namespace {

using nlohmann::json;

// Present fields must have their type; missing ones keep their default.
template <typename T>
void take(const json& data, const char* key, T& out) {
  if (auto it = data.find(key); it != data.end() && !it->is_null()) it->get_to(out);
}

template <typename T>
void take(const json& data, const char* key, std::optional<T>& out) {
  if (auto it = data.find(key); it != data.end() && !it->is_null()) out = it->get<T>();
}

template <typename T>
json or_null(const std::optional<T>& value) {
  return value ? json(*value) : json(nullptr);
}

void read_daemons(const json& d, std::vector<VirtiofsDaemon>& out) {
  auto it = d.find("virtiofsd");
  if (it == d.end() || it->is_null()) return;
  for (const json& daemon : it->get<std::vector<json>>()) {
    out.push_back({daemon.at("pid").get<std::int64_t>(), daemon.at("start_time").get<std::uint64_t>()});
  }
}

json daemons_json(const std::vector<VirtiofsDaemon>& daemons) {
  json list = json::array();
  for (const VirtiofsDaemon& d : daemons) list.push_back({{"pid", d.pid}, {"start_time", d.start_time}});
  return list;
}

void read_state(const json& d, QemuState& s) {
  take(d, "image_path", s.image_path);
  take(d, "overlay_path", s.overlay_path);
  take(d, "pid", s.pid);
  take(d, "pid_start_time", s.pid_start_time);
  take(d, "qmp_socket", s.qmp_socket);
  take(d, "console_socket", s.console_socket);
  take(d, "vnc", s.vnc);
  take(d, "vnc_mode", s.vnc_mode);
  take(d, "mac", s.mac);
  take(d, "uefi", s.uefi);
  take(d, "accel", s.accel);
  take(d, "kernel", s.kernel);
  take(d, "initrd", s.initrd);
  take(d, "cmdline", s.cmdline);
  read_daemons(d, s.virtiofsd);
}

json state_json(const QemuState& s) {
  json state{{"image_path", s.image_path},
              {"overlay_path", s.overlay_path},
              {"pid", or_null(s.pid)},
              {"pid_start_time", or_null(s.pid_start_time)},
              {"qmp_socket", s.qmp_socket},
              {"console_socket", s.console_socket},
              {"vnc", s.vnc},
              {"vnc_mode", s.vnc_mode},
              {"mac", s.mac},
              {"uefi", s.uefi},
              {"accel", s.accel},
              {"kernel", or_null(s.kernel)},
              {"initrd", or_null(s.initrd)},
              {"cmdline", or_null(s.cmdline)}};
  // Only while some run: a VM without shared folders keeps the state it had.
  if (!s.virtiofsd.empty()) state["virtiofsd"] = daemons_json(s.virtiofsd);
  return state;
}

[[noreturn]] void unreadable(const VmHandle& handle, const std::string& why) {
  throw Error(errc::store_corrupt, fmt::format("VM '{}': its qemu state is unreadable: {}", handle.name, why),
              "restore its record from a backup, or destroy the VM");
}

}  // namespace

QemuVm::QemuVm(const VmHandle& handle) : VmHandle(handle) {
  if (backend_state.version > kVersion) {
    unreadable(handle, fmt::format("version {} is newer than this release reads ({})", backend_state.version,
                                   kVersion));
  }
  try {
    read_state(backend_state.data, *this);
  } catch (const json::exception& e) {
    unreadable(handle, e.what());
  }
}

VmHandle QemuVm::handle() const {
  VmHandle h = *this;
  h.backend_state = BackendState{kVersion, state_json(*this)};
  return h;
}

}  // namespace vm_manager::qemu
