#include "backends/qemu/qemu_backend.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <thread>

#include "backends/qemu/data_disks.hpp"
#include "backends/qemu/disk.hpp"
#include "backends/qemu/guest_address.hpp"
#include "backends/qemu/machine.hpp"
#include "backends/qemu/options.hpp"
#include "backends/qemu/port_forwards.hpp"
#include "backends/qemu/qmp_client.hpp"
#include "backends/qemu/runtime_paths.hpp"
#include "backends/qemu/snapshot_images.hpp"
#include "backends/qemu/tap.hpp"
#include "backends/qemu/virtiofs.hpp"
#include "backends/qemu/work_dir_layout.hpp"
#include "cloudinit/vm_seed.hpp"
#include "core/handle_from_spec.hpp"
#include "os/files.hpp"
#include "util/printable.hpp"
#include "util/rollback.hpp"
#include "util/uuid.hpp"
#include "vm_manager/error.hpp"
#include "vm_manager/spec_check.hpp"

namespace vm_manager::qemu {
namespace fs = std::filesystem;
using namespace std::chrono_literals;

namespace {

[[noreturn]] void invalid_spec(std::string message, std::string help) {
  throw Error(errc::spec_invalid, std::move(message), std::move(help));
}

std::string existing_file(const std::string& path, std::string_view what) {
  fs::path absolute = fs::absolute(path).lexically_normal();
  if (!fs::is_regular_file(absolute)) {
    invalid_spec(fmt::format("{} {} does not exist or is not a file", what, absolute.string()),
                 fmt::format("pass the path of an existing {}", what));
  }
  return absolute.string();
}

NetworkConfig network_for_qemu(const NetworkConfig& network, const QemuConfig& config) {
  if (std::holds_alternative<VnicNetwork>(network)) {
    invalid_spec("the qemu backend has no VNIC networking (that is illumos)", "use user or TAP networking");
  }
  if (auto* tap = std::get_if<TapNetwork>(&network); tap && tap->bridge.empty()) {
    if (!config.default_bridge) {
      invalid_spec("TAP networking needs a bridge", "give the VM a bridge for TAP networking");
    }
    TapNetwork with_bridge = *tap;
    with_bridge.bridge = *config.default_bridge;
    return with_bridge;
  }
  return network;
}

}  // namespace

QemuBackend::QemuBackend(DataDir data_dir, QemuConfig config, std::shared_ptr<Host> host)
    : data_dir_(std::move(data_dir)), config_(std::move(config)), host_(std::move(host)) {}

VmHandle QemuBackend::prepare(const VmSpec& spec) {
  validate_spec(spec);
  if (spec.image_path.empty()) invalid_spec("the qemu backend needs a disk image", "give the path of a disk image");
  VmSpec checked = spec;
  checked.image_path = existing_file(spec.image_path, "image");
  if (spec.kernel) checked.kernel = existing_file(*spec.kernel, "kernel");
  if (spec.initrd) checked.initrd = existing_file(*spec.initrd, "initrd");
  checked.network = network_for_qemu(spec.network, config_);
  require_host_ports_free(checked.port_forwards, spec.name);
  std::optional<Firmware> firmware;
  if (spec.uefi) firmware = find_uefi_firmware(config_.firmware_dirs);

  fs::path work_dir = data_dir_.create_vm_dir(spec.name);
  util::Rollback undo([&] { data_dir_.remove_inside(work_dir); });
  QemuVm h(handle_from_spec(checked, kBackendId, work_dir));
  h.image_path = checked.image_path;
  h.uefi = checked.uefi;
  h.accel = checked.accel;
  h.kernel = checked.kernel;
  h.initrd = checked.initrd;
  h.cmdline = checked.cmdline;
  h.vnc_mode = checked.vnc;
  fs::path sockets = socket_dir_for(work_dir, h.id, config_.runtime_dir);
  h.overlay_path = (work_dir / layout::kOverlay).string();
  h.console_log = (work_dir / layout::kConsoleLog).string();
  h.console_socket = (sockets / layout::kConsoleSocket).string();
  h.qmp_socket = (sockets / layout::kQmpSocket).string();
  h.mac = random_local_mac();
  if (std::holds_alternative<UserNetwork>(h.network)) {
    h.ssh_host = "127.0.0.1";
    h.ssh_port = preferred_ssh_port(h.name, config_.ssh_port_first, config_.ssh_port_last);
  }
  // The guest takes this address from the seed's network-config; port 22.
  if (const StaticAddress* fixed = static_address(h.network)) h.ssh_host = address_ip(fixed->address);
  create_overlay(checked.image_path, h.overlay_path, spec.disk_gb, config_, *host_,
                 spec.allow_unrecognised_raw_image ? UnrecognisedRaw::allow : UnrecognisedRaw::refuse);
  create_data_disks(work_dir, checked.data_disks, config_, *host_);
  cloudinit::write_vm_seed(checked, work_dir, h.shared(), h.mac);
  if (firmware) {
    create_uefi_vars(firmware->vars_template, layout::uefi_vars_qcow2(work_dir), config_, *host_);
  }
  undo.commit();
  return h.handle();
}

VmState QemuBackend::state(const VmHandle& handle) {
  std::optional<QmpClient> qmp;
  return state_over_qmp(handle, qmp);
}

VmState QemuBackend::state_over_qmp(const VmHandle& handle, std::optional<QmpClient>& qmp) {
  if (handle.work_dir.empty() || !fs::is_directory(handle.work_dir)) return VmState::destroyed;
  QemuVm vm(handle);
  if (!process_alive(vm)) return vm.pid ? VmState::stopped : VmState::prepared;
  try {
    qmp.emplace(QmpClient::connect(vm.qmp_socket, config_.qmp_timeout));
    return state_from_qmp_status(qmp->query_status().status);
  } catch (const Error& e) {
    qmp.reset();
    // The process lives but does not answer: say so rather than guess.
    if (!process_alive(vm)) return VmState::stopped;  // it exited meanwhile
    config_.log.warn("VM '{}': QEMU (pid {}) runs but QMP does not answer: {}", handle.name, *vm.pid,
                     e.message());
    return VmState::failed;
  }
}

QmpClient QemuBackend::connect_when(const VmHandle& handle, VmState wanted, std::string_view verb) {
  std::optional<QmpClient> qmp;
  VmState current = state_over_qmp(handle, qmp);
  // A VM in the wanted state (running or suspended) always came with a session.
  if (current == wanted && qmp) return std::move(*qmp);
  throw Error(errc::vm_invalid_state,
              fmt::format("cannot {} VM '{}': it is {} (needs {})", verb, handle.name, to_string(current),
                          to_string(wanted)),
              current == VmState::destroyed ? "the VM no longer exists"
                                            : "check the VM's state");
}

VmHandle QemuBackend::suspend(const VmHandle& handle) {
  connect_when(handle, VmState::running, "suspend").stop();
  return handle;
}

VmHandle QemuBackend::resume(const VmHandle& handle) {
  connect_when(handle, VmState::suspended, "resume").cont();
  return handle;
}

void QemuBackend::destroy(VmHandle handle) {
  if (handle.work_dir.empty() || !fs::exists(fs::symlink_status(handle.work_dir))) return;
  // Destroying throws the disk away, so there is nothing to shut down gently.
  if (process_alive(QemuVm(handle))) handle = stop(handle, 0ms);
  stop_virtiofsd(QemuVm(handle), config_, *host_);  // a start cut short may have left them
  if (std::holds_alternative<TapNetwork>(handle.network)) delete_tap(tap_name_for(handle), *host_);
  remove_socket_dir(QemuVm(handle));
  data_dir_.remove_inside(handle.work_dir);
}

void QemuBackend::remove_socket_dir(const QemuVm& vm) {
  fs::path sockets = fs::path(vm.qmp_socket).parent_path();
  if (sockets.empty() || sockets == fs::path(vm.work_dir) || !util::is_uuid(vm.id)) return;
  // Only a folder that socket_dir_for() could have made for this VM, and
  // only while it is still this user's private one.
  auto ours = possible_socket_dirs(vm.work_dir, vm.id, config_.runtime_dir);
  if (std::find(ours.begin(), ours.end(), sockets) == ours.end() || !is_private_dir(sockets)) return;
  std::error_code ec;
  fs::remove_all(sockets, ec);
}

void QemuBackend::check_stored_paths(const VmHandle& handle) {
  const QemuVm vm(handle);
  const fs::path work_dir(handle.work_dir);
  auto require = [&handle](const std::string& stored, const std::vector<fs::path>& allowed, std::string_view what) {
    if (stored.empty() || std::find(allowed.begin(), allowed.end(), fs::path(stored)) != allowed.end()) return;
    throw Error(errc::store_corrupt,
                fmt::format("VM '{}' has its {} at {}, not where this backend keeps it ({})", handle.name, what,
                            util::printable(stored), allowed.front().string()),
                "restore the record from a backup, or destroy the VM");
  };
  require(vm.overlay_path, {work_dir / layout::kOverlay}, "disk");
  require(vm.console_log, {work_dir / layout::kConsoleLog}, "console log");
  require(vm.seed_iso_path, {work_dir / "seed.iso"}, "cloud-init seed");
  check_data_disk_names(handle);  // their files' paths are made from their names
  std::vector<fs::path> qmp;
  std::vector<fs::path> console;
  for (const fs::path& dir : possible_socket_dirs(work_dir, handle.id, config_.runtime_dir)) {
    qmp.push_back(dir / layout::kQmpSocket);
    console.push_back(dir / layout::kConsoleSocket);
  }
  require(vm.qmp_socket, qmp, "QMP socket");
  require(vm.console_socket, console, "console socket");
  // Both sockets in one folder: remove_socket_dir() goes by the QMP one's.
  if (!vm.qmp_socket.empty() && !vm.console_socket.empty() &&
      fs::path(vm.qmp_socket).parent_path() != fs::path(vm.console_socket).parent_path()) {
    require(vm.console_socket, {fs::path(vm.qmp_socket).parent_path() / layout::kConsoleSocket}, "console socket");
  }
}

std::string QemuBackend::guest_ip(const VmHandle& handle) {
  const std::string mac = QemuVm(handle).mac;
  if (!process_alive(QemuVm(handle))) {
    throw Error(errc::vm_invalid_state, fmt::format("VM '{}' has no address: it is not running", handle.name),
                "start it first");
  }
  if (std::holds_alternative<UserNetwork>(handle.network)) return handle.ssh_host;
  if (static_address(handle.network) != nullptr) return handle.ssh_host;  // set by the seed, not DHCP
  if (!std::holds_alternative<TapNetwork>(handle.network)) {
    throw Error(errc::vm_invalid_state, fmt::format("VM '{}' has no network", handle.name),
                "destroy the VM and create it again with user or TAP networking");
  }
  // A DHCP lease can take a while under TCG; look until the deadline.
  auto deadline = std::chrono::steady_clock::now() + config_.guest_ip_timeout;
  for (;;) {
    if (auto arp = os::read_file("/proc/thread-self/net/arp")) {
      if (auto ip = ip_from_neighbours(*arp, mac)) return *ip;
    }
    for (const auto& file : lease_files(config_.dnsmasq_leases)) {
      std::optional<std::string> leases;
      try {
        leases = os::read_file(file);
      } catch (const Error&) {
        continue;  // unreadable lease files are someone else's
      }
      if (leases) {
        if (auto ip = ip_from_leases(*leases, mac)) return *ip;
      }
    }
    if (std::chrono::steady_clock::now() >= deadline) break;
    std::this_thread::sleep_for(200ms);
  }
  throw Error(errc::vm_invalid_state,
              fmt::format("VM '{}' (MAC {}) has no address yet: not in the neighbour table nor a dnsmasq lease",
                          handle.name, mac),
              "check that the bridge has a DHCP server; set VMCTL_DNSMASQ_LEASES to its lease file");
}

ConsoleEndpoint QemuBackend::console_endpoint(const VmHandle& handle) {
  return UnixSocketConsole{QemuVm(handle).console_socket};
}

VmHandle QemuBackend::add_port_forward(const VmHandle& handle, const PortForward& forward) {
  VmHandle changed = handle;
  changed.port_forwards = forwards_with(handle, forward);
  std::optional<QmpClient> qmp = session_if_live(handle, "publish a port of");
  require_host_ports_free({forward}, handle.name);
  if (!qmp) return changed;  // applied at the next start
  std::string reply = qmp->human_monitor_command(fmt::format("hostfwd_add {} {}", kNetdevId, hostfwd_rule(forward)));
  // hostfwd_add answers nothing when it worked, and QEMU's error otherwise.
  if (reply.find_first_not_of(" \r\n") != std::string::npos) {
    if (reply.find("Could not set up host forwarding rule") != std::string::npos) {
      throw_port_in_use(forward, handle.name);  // taken since the check
    }
    throw Error(errc::qmp_command_failed,
                fmt::format("QEMU refused to publish {} for VM '{}': {}", port_forward_text(forward), handle.name,
                            util::printable(reply)),
                "see qemu.log in the VM's folder");
  }
  return changed;
}

VmHandle QemuBackend::remove_port_forward(const VmHandle& handle, std::uint16_t host_port, PortProtocol protocol) {
  PortForward removed;
  VmHandle changed = handle;
  changed.port_forwards = forwards_without(handle, host_port, protocol, removed);
  std::optional<QmpClient> qmp = session_if_live(handle, "unpublish a port of");
  if (!qmp) return changed;
  std::string reply = qmp->human_monitor_command(fmt::format("hostfwd_remove {} {}", kNetdevId, hostfwd_key(removed)));
  // "host forwarding rule for … removed", or "… not found": either way the
  // port is no longer forwarded; anything else is a rule QEMU did not read.
  if (reply.find("removed") == std::string::npos && reply.find("not found") == std::string::npos) {
    throw Error(errc::qmp_command_failed,
                fmt::format("QEMU did not remove {} from VM '{}': {}", port_forward_text(removed), handle.name,
                            util::printable(reply)),
                "see qemu.log in the VM's folder");
  }
  return changed;
}

std::optional<QmpClient> QemuBackend::session_if_live(const VmHandle& handle, std::string_view verb) {
  std::optional<QmpClient> qmp;
  VmState current = state_over_qmp(handle, qmp);
  if (current == VmState::prepared || current == VmState::stopped) return std::nullopt;
  if ((current == VmState::running || current == VmState::suspended) && qmp) return qmp;
  throw Error(errc::vm_invalid_state, fmt::format("cannot {} VM '{}': it is {}", verb, handle.name, to_string(current)),
              current == VmState::destroyed ? "the VM no longer exists" : "stop the VM, then try again");
}

nlohmann::json QemuBackend::describe(const VmHandle& handle) {
  QemuVm vm(handle);
  nlohmann::json facts = nlohmann::json::object();
  if (vm.pid) facts["pid"] = *vm.pid;
  if (!vm.vnc.empty()) facts["vnc"] = vm.vnc;
  return facts;
}

}  // namespace vm_manager::qemu
