#include "backends/propolis/propolis_backend.hpp"

#include <fmt/format.h>

#include <nlohmann/json.hpp>
#include <thread>

#include "backends/propolis/instance_spec.hpp"
#include "backends/propolis/propolis_client.hpp"
#include "backends/propolis/propolis_state.hpp"
#include "cloudinit/vm_seed.hpp"
#include "core/handle_from_spec.hpp"
#include "os/files.hpp"
#include "util/rollback.hpp"
#include "vm_manager/error.hpp"
#include "vm_manager/spec_check.hpp"

namespace vm_manager::propolis {
namespace fs = std::filesystem;
using nlohmann::json;
using namespace std::chrono_literals;

namespace {

// Each data disk the layout allows has its PCI slot in the instance spec.
static_assert(kMaxDataDisks == kMaxDataDiskSlots);

// The zone layout is fixed at prepare and kept beside vm.json, so later
// operations never depend on settings that may have changed since.
constexpr std::string_view kLayoutFile = "zone.json";
// Written at the first start: an installed zone that never ran is "prepared".
constexpr std::string_view kBootedMarker = "booted";

[[noreturn]] void invalid_spec(std::string message, std::string help) {
  throw Error(errc::spec_invalid, std::move(message), std::move(help));
}

json layout_json(const ZoneLayout& l) {
  json disks = json::array();
  for (const auto& d : l.data_disks) disks.push_back({{"name", d.name}, {"dataset", d.dataset}, {"size_gb", d.size_gb}});
  return json{{"vm_name", l.vm_name},       {"zone_name", l.zone_name},         {"zonepath", l.zonepath},
              {"pool", l.pool},             {"image", l.image},                 {"snapshot", l.snapshot},
              {"dataset", l.dataset},       {"disk_gb", l.disk_gb ? json(*l.disk_gb) : json(nullptr)},
              {"physical_link", l.physical_link}, {"guest_vnics", l.guest_vnics}, {"api_vnic", l.api_vnic},
              {"api_address", l.api_address}, {"api_port", l.api_port},        {"bootrom", l.bootrom},
              {"propolis_dir", l.propolis_dir}, {"guest_macs", l.guest_macs},
              {"data_disks", disks}};
}

ZoneLayout layout_from_json(const json& j) {
  ZoneLayout l;
  l.vm_name = j.at("vm_name");
  l.zone_name = j.at("zone_name");
  l.zonepath = j.at("zonepath");
  l.pool = j.at("pool");
  l.image = j.at("image");
  l.snapshot = j.at("snapshot");
  l.dataset = j.at("dataset");
  if (!j.at("disk_gb").is_null()) l.disk_gb = j.at("disk_gb").get<std::uint64_t>();
  l.physical_link = j.at("physical_link");
  l.guest_vnics = j.at("guest_vnics").get<std::vector<std::string>>();
  l.api_vnic = j.at("api_vnic");
  l.api_address = j.at("api_address");
  l.api_port = j.at("api_port");
  l.bootrom = j.at("bootrom");
  l.propolis_dir = j.at("propolis_dir");
  if (j.contains("guest_macs")) l.guest_macs = j.at("guest_macs").get<std::vector<std::string>>();
  // Absent in zones made before data disks.
  if (j.contains("data_disks")) {
    for (const auto& d : j.at("data_disks"))
      l.data_disks.push_back({d.at("name"), d.at("dataset"), d.at("size_gb").get<std::uint64_t>()});
  }
  return l;
}

// "<image>@<snapshot>" → {image, snapshot}.
std::pair<std::string, std::string> image_and_snapshot(const std::string& image) {
  auto at = image.find('@');
  if (at == std::string::npos || at == 0 || at + 1 == image.size()) {
    invalid_spec(fmt::format("the propolis backend takes an image snapshot, not '{}'", image),
                 "give the image as <image>@<snapshot>, a snapshot of <pool>/images/<image>");
  }
  return {image.substr(0, at), image.substr(at + 1)};
}

std::string physical_link_for(const VmSpec& spec, const PropolisConfig& config) {
  if (std::holds_alternative<UserNetwork>(spec.network) || std::holds_alternative<TapNetwork>(spec.network)) {
    invalid_spec(fmt::format("the propolis backend has no {} networking", network_mode(spec.network)),
                 "give the VM VNIC networking");
  }
  if (std::holds_alternative<NoNetwork>(spec.network)) {
    invalid_spec("the propolis backend gives every VM a NIC", "give the VM VNIC networking");
  }
  const std::string& link = std::get<VnicNetwork>(spec.network).name;
  if (!link.empty()) return link;
  if (config.physical_link.empty()) {
    invalid_spec("no link to create the VM's VNICs over", "name the physical link to create the VNICs over");
  }
  return config.physical_link;
}

void refuse_unsupported(const VmSpec& spec) {
  if (spec.kernel || spec.initrd || spec.cmdline) {
    invalid_spec("the propolis backend boots from the disk with its UEFI firmware, not a kernel",
                 "leave out the kernel, initrd and kernel command line");
  }
  if (spec.vnc == VncMode::tcp) {
    invalid_spec("the propolis backend has no VNC listener to put on TCP",
                 "leave out the VNC mode, or use the qemu backend");
  }
  if (!spec.shared_folders.empty()) {
    throw Error(errc::backend_unsupported, "the propolis backend cannot share host folders (it has no virtiofs)",
                "leave out the shared folders, or use the qemu backend");
  }
  if (!spec.backend_options.contains(kApiOption)) {
    invalid_spec("the propolis backend needs the address of the VM's propolis-server",
                 "give the zone's API address (IP/PREFIX)");
  }
}

ZoneLayout layout_for(const VmSpec& spec, const PropolisConfig& config) {
  auto [image, snapshot] = image_and_snapshot(spec.image_path);
  ZoneOptions options;
  options.snapshot = snapshot;
  options.disk_gb = spec.disk_gb;
  options.physical_link = physical_link_for(spec, config);
  options.api_address = spec.backend_options.at(kApiOption);
  options.api_port = config.api_port;
  options.bootrom = config.bootrom;
  options.propolis_dir = config.propolis_dir;
  options.zones_root = config.zones_root;
  options.data_disks = spec.data_disks;
  return make_zone_layout(spec.name, config.zfs_pool, image, options);
}

// "ip:port", with brackets for IPv6.
std::string api_endpoint(const ZoneLayout& layout) {
  std::string ip = layout.api_address.substr(0, layout.api_address.find('/'));
  if (ip.find(':') != std::string::npos) ip = "[" + ip + "]";
  return fmt::format("{}:{}", ip, layout.api_port);
}

// propolis-server on an IPv6 address looks for Nexus in Oxide's internal DNS
// on every instance ensure (oxidecomputer/propolis
// bin/propolis-server/src/lib/server.rs, find_local_nexus_client, 372a5744);
// on IPv4 it gives up at once. Outside an Oxide rack the lookup only fails,
// after however long the resolver takes.
void warn_if_ipv6(const ZoneLayout& layout, const Logger& log) {
  if (layout.api_address.find(':') == std::string::npos) return;
  log.warn("VM '{}': propolis-server on the IPv6 address {} looks up Oxide's Nexus in internal DNS at every start; "
           "an IPv4 API address avoids that delay",
           layout.vm_name, api_endpoint(layout));
}

VmState state_of_instance(const std::string& state) {
  if (state == "Running" || state == "Rebooting" || state == "Migrating") return VmState::running;
  if (state == "Creating" || state == "Starting") return VmState::preparing;
  if (state == "Stopping" || state == "Stopped" || state == "Destroyed") return VmState::stopped;
  return VmState::failed;
}

}  // namespace

PropolisBackend::PropolisBackend(DataDir data_dir, PropolisConfig config, std::unique_ptr<CommandRunner> runner)
    : data_dir_(std::move(data_dir)),
      config_(std::move(config)),
      runner_(std::move(runner)),
      tools_(*runner_, config_.tool_timeout, config_.log) {}

VmHandle PropolisBackend::prepare(const VmSpec& spec) {
  validate_spec(spec);
  refuse_unsupported(spec);
  ZoneLayout layout = layout_for(spec, config_);  // every name checked before anything runs
  check_board(spec.vcpus, spec.memory_mb, config_.max_vcpus);
  check_propolis_files(layout);
  warn_if_ipv6(layout, config_.log);

  fs::path work_dir = data_dir_.create_vm_dir(spec.name);
  util::Rollback undo([&] { data_dir_.remove_inside(work_dir); });
  VmHandle h = handle_from_spec(spec, kBackendId, work_dir);
  for (std::size_t i = 0; i < layout.guest_vnics.size(); ++i) layout.guest_macs.push_back(guest_mac(h.id, i));
  PropolisState state;
  state.image_path = spec.image_path;
  state.zone_name = layout.zone_name;
  state.propolis_address = api_endpoint(layout);
  state.overlay_path = (fs::path(config_.zvol_dir) / layout.dataset).string();
  state.write_to(h);
  // The guest takes its static address from the seed's network-config.
  if (const StaticAddress* fixed = static_address(spec.network)) h.ssh_host = address_ip(fixed->address);
  cloudinit::write_vm_seed(spec, work_dir, h, layout.guest_macs.front());
  os::write_file_atomic(work_dir / kLayoutFile, layout_json(layout).dump(2) + "\n");
  tools_.create(layout);  // undoes itself when it fails part-way
  undo.commit();
  return h;
}

// Where the root disk's device was at prepare is where the others are, so a
// changed zvol_dir setting does not move them.
std::string PropolisBackend::zvol_device(const VmHandle& handle, const std::string& dataset) const {
  std::string root = PropolisState::of(handle).overlay_path;
  std::string root_dataset = layout_of(handle).dataset;
  std::string dir = root.ends_with("/" + root_dataset) ? root.substr(0, root.size() - root_dataset.size() - 1)
                                                       : config_.zvol_dir;
  return (fs::path(dir) / dataset).string();
}

ZoneLayout PropolisBackend::layout_of(const VmHandle& handle) const {
  fs::path file = fs::path(handle.work_dir) / kLayoutFile;
  std::optional<std::string> text = os::read_file(file);
  if (!text) {
    throw Error(errc::store_corrupt, fmt::format("VM '{}' has no {}", handle.name, file.string()),
                "its zone cannot be found without it; remove the zone by hand, then destroy the VM");
  }
  try {
    ZoneLayout layout = layout_from_json(json::parse(*text));
    validate_zone_layout(layout);
    return layout;
  } catch (const json::exception& e) {
    throw Error(errc::store_corrupt, fmt::format("{} is unreadable: {}", file.string(), e.what()),
                "restore it, or remove the zone by hand");
  }
}

void PropolisBackend::create_instance(const VmHandle& handle) {
  InstanceParams params;
  params.id = handle.id;
  params.name = handle.name;
  params.description = "vmctl VM " + handle.name;
  params.vcpus = handle.vcpus;
  params.max_vcpus = config_.max_vcpus;
  params.memory_mb = handle.memory_mb;
  params.disk_path = PropolisState::of(handle).overlay_path;
  ZoneLayout layout = layout_of(handle);
  params.vnics = layout.guest_vnics;
  for (const auto& d : layout.data_disks) params.data_disks.push_back({d.name, zvol_device(handle, d.dataset)});
  if (!handle.seed_iso_path.empty()) params.seed_iso = os::read_file(handle.seed_iso_path);
  json request = make_ensure_request(params);

  // A zone that just booted needs a moment before propolis-server listens.
  PropolisClient client(PropolisState::of(handle).propolis_address, config_.request_timeout);
  auto deadline = std::chrono::steady_clock::now() + config_.start_timeout;
  for (;;) {
    try {
      client.ensure(request);
      break;
    } catch (const Error& e) {
      if (e.code() != errc::propolis_unreachable || std::chrono::steady_clock::now() >= deadline) throw;
      std::this_thread::sleep_for(100ms);
    }
  }
  client.request_state("Run");
  client.wait_for_state({"Running"}, deadline);
}

VmHandle PropolisBackend::start(const VmHandle& handle) {
  VmState current = state(handle);
  if (current != VmState::prepared && current != VmState::stopped) {
    throw Error(errc::vm_invalid_state, fmt::format("cannot start VM '{}': it is {}", handle.name, to_string(current)),
                "check the VM's state");
  }
  ZoneLayout layout = layout_of(handle);
  if (tools_.zone_state(layout.zone_name) == "running") tools_.halt(layout);  // a stopped instance in a live zone
  tools_.boot(layout);
  try {
    create_instance(handle);
  } catch (...) {
    try {
      tools_.halt(layout);
    } catch (const Error& e) {
      config_.log.warn("VM '{}': could not halt zone {} after a failed start: {}", handle.name, layout.zone_name,
                       e.message());
    }
    throw;
  }
  os::write_file_atomic(fs::path(handle.work_dir) / kBootedMarker, "");
  return handle;
}

VmHandle PropolisBackend::stop(const VmHandle& handle, std::chrono::milliseconds timeout) {
  ZoneLayout layout = layout_of(handle);
  if (tools_.zone_state(layout.zone_name) != "running") return handle;
  PropolisClient client(PropolisState::of(handle).propolis_address, config_.request_timeout);
  try {
    if (timeout.count() > 0) {
      client.request_state("Stop");
      client.wait_for_state({"Stopped", "Destroyed"}, std::chrono::steady_clock::now() + timeout);
    }
  } catch (const Error& e) {
    // Halting the zone ends propolis-server and the guest with it.
    config_.log.warn("VM '{}' did not stop cleanly ({}); halting its zone", handle.name, e.message());
  }
  tools_.halt(layout);
  return handle;
}

VmHandle PropolisBackend::suspend(const VmHandle& handle) {
  throw Error(errc::backend_unsupported, fmt::format("cannot suspend VM '{}': not supported by the propolis backend", handle.name),
              "propolis-server has no pause; stop the VM instead");
}

VmHandle PropolisBackend::resume(const VmHandle& handle) {
  throw Error(errc::backend_unsupported, fmt::format("cannot resume VM '{}': not supported by the propolis backend", handle.name),
              "propolis VMs are never suspended; start the VM instead");
}

void PropolisBackend::destroy(VmHandle handle) {
  if (handle.work_dir.empty() || !fs::is_directory(handle.work_dir)) return;
  fs::path work_dir(handle.work_dir);
  if (fs::exists(work_dir / kLayoutFile)) {
    stop(handle, std::chrono::seconds(10));
    tools_.destroy(layout_of(handle));
  }
  data_dir_.remove_inside(work_dir);
}

void PropolisBackend::destroy_remains(const VmHandle& remains) {
  if (remains.work_dir.empty() || !fs::exists(fs::path(remains.work_dir) / kLayoutFile)) return;
  tools_.destroy(layout_of(remains));
}

VmState PropolisBackend::instance_state(const VmHandle& handle) {
  try {
    PropolisClient client(PropolisState::of(handle).propolis_address, config_.request_timeout);
    return state_of_instance(client.get_instance().at("instance").at("state").get<std::string>());
  } catch (const Error& e) {
    if (e.code() == errc::propolis_no_instance) return VmState::stopped;
    config_.log.warn("VM '{}': its zone runs but propolis-server does not answer: {}", handle.name, e.message());
    return VmState::failed;
  } catch (const json::exception& e) {
    config_.log.warn("VM '{}': unexpected answer from propolis-server: {}", handle.name, e.what());
    return VmState::failed;
  }
}

VmState PropolisBackend::state(const VmHandle& handle) {
  if (handle.work_dir.empty() || !fs::is_directory(handle.work_dir)) return VmState::destroyed;
  if (!fs::exists(fs::path(handle.work_dir) / kLayoutFile)) return VmState::failed;
  std::string zone = tools_.zone_state(PropolisState::of(handle).zone_name);
  if (zone == "running") return instance_state(handle);
  if (zone == "installed") {
    return fs::exists(fs::path(handle.work_dir) / kBootedMarker) ? VmState::stopped : VmState::prepared;
  }
  return VmState::failed;  // gone, only configured, or half-way through a zoneadm operation
}

std::string PropolisBackend::guest_ip(const VmHandle& handle) {
  if (!handle.ssh_host.empty()) return handle.ssh_host;
  throw Error(errc::backend_unsupported,
              fmt::format("the address of VM '{}' is not known: its VNIC asks your network's DHCP server for one, "
                          "and vmctl cannot see that server's leases",
                          handle.name),
              "create the VM with a static address on its VNIC network, which it then takes from its cloud-init seed");
}

// The console is there whenever the VM runs; callers check the state.
ConsoleEndpoint PropolisBackend::console_endpoint(const VmHandle& handle) {
  PropolisClient server(PropolisState::of(handle).propolis_address, config_.request_timeout);
  return WebSocketConsole{server.serial_url(std::nullopt), console_headers()};
}

// propolis-server keeps com1's last MiB; the websocket from the byte after it
// continues without a gap or a repeat.
ConsoleHistory PropolisBackend::console_history(const VmHandle& handle) {
  PropolisClient server(PropolisState::of(handle).propolis_address, config_.request_timeout);
  PropolisClient::SerialHistory history = server.serial_history(std::nullopt);
  return ConsoleHistory{std::move(history.data),
                        WebSocketConsole{server.serial_url_from(history.last_byte_offset), console_headers()}};
}

}  // namespace vm_manager::propolis
