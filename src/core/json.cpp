#include "vm_manager/json.hpp"

#include "util/base64.hpp"

namespace vm_manager {
namespace {

using nlohmann::json;

// Reading is lenient about presence (older files lack newer fields) but
// strict about types: a present field of the wrong type is an error.
template <typename T>
void read(const json& j, const char* key, T& out) {
  if (auto it = j.find(key); it != j.end() && !it->is_null()) it->get_to(out);
}

template <typename T>
void read(const json& j, const char* key, std::optional<T>& out) {
  if (auto it = j.find(key); it != j.end() && !it->is_null()) {
    out = it->get<T>();
  } else {
    out.reset();
  }
}

template <typename T>
json optional_json(const std::optional<T>& value) {
  return value ? json(*value) : json(nullptr);
}

// A value read as a struct must be an object; anything else is a type error,
// like a string where a number belongs.
void require_object(const json& j, const char* what) {
  if (!j.is_object()) {
    throw json::type_error::create(302, std::string(what) + " must be an object, not " + j.type_name(), &j);
  }
}

template <typename Enum>
void enum_from_json(const json& j, Enum& out, std::optional<Enum> (*parse)(std::string_view),
                    const char* what) {
  auto parsed = parse(j.get<std::string>());
  if (!parsed) {
    throw json::other_error::create(599, std::string("unknown ") + what + " '" + j.get<std::string>() + "'",
                                    &j);
  }
  out = *parsed;
}

// A backend id is read as written; which ids exist only the registry knows
// (the router refuses one it lacks), but one that is no id at all is as
// malformed as an unknown network mode. Empty is a default handle's.
std::string backend_id_from_json(const json& j) {
  auto id = j.get<std::string>();
  if (!id.empty() && !is_backend_id(id)) throw json::other_error::create(599, "'" + id + "' is not a backend id", &j);
  return id;
}

void read_backend(const json& j, std::string& out) {
  if (auto it = j.find("backend"); it != j.end() && !it->is_null()) out = backend_id_from_json(*it);
}

void read_backend(const json& j, std::optional<std::string>& out) {
  out.reset();
  if (auto it = j.find("backend"); it != j.end() && !it->is_null()) out = backend_id_from_json(*it);
}

}  // namespace

void to_json(json& j, VmState state) { j = to_string(state); }
void from_json(const json& j, VmState& state) { enum_from_json(j, state, parse_vm_state, "state"); }
void to_json(json& j, Accel accel) { j = to_string(accel); }
void from_json(const json& j, Accel& accel) { enum_from_json(j, accel, parse_accel, "accel"); }
void to_json(json& j, VncMode mode) { j = to_string(mode); }
void from_json(const json& j, VncMode& mode) { enum_from_json(j, mode, parse_vnc_mode, "VNC mode"); }
void to_json(json& j, PortProtocol protocol) { j = to_string(protocol); }
void from_json(const json& j, PortProtocol& protocol) {
  enum_from_json(j, protocol, parse_port_protocol, "port protocol");
}

void to_json(json& j, const PortForward& forward) {
  j = json{{"host_address", forward.host_address},
           {"host_port", forward.host_port},
           {"guest_port", forward.guest_port},
           {"protocol", forward.protocol}};
}

namespace {

// nlohmann narrows silently (70000 would read as 4464), and a record is data.
void read_port(const json& j, const char* key, std::uint16_t& out) {
  std::uint64_t wide = out;
  read(j, key, wide);
  if (wide > 65535) throw json::other_error::create(599, std::string(key) + " is not a port number", &j);
  out = static_cast<std::uint16_t>(wide);
}

}  // namespace

void from_json(const json& j, PortForward& forward) {
  require_object(j, "port forward");
  forward = PortForward{};
  read(j, "host_address", forward.host_address);
  read_port(j, "host_port", forward.host_port);
  read_port(j, "guest_port", forward.guest_port);
  read(j, "protocol", forward.protocol);
}

void to_json(json& j, const SshJumpHost& jump) {
  j = json{{"user", jump.user}, {"host", jump.host}, {"port", jump.port},
           {"identity_file", jump.identity_file}, {"known_hosts", jump.known_hosts}};
}

void from_json(const json& j, SshJumpHost& jump) {
  require_object(j, "ssh_jump");
  jump = SshJumpHost{};
  read(j, "user", jump.user);
  read(j, "host", jump.host);
  read_port(j, "port", jump.port);
  read(j, "identity_file", jump.identity_file);
  read(j, "known_hosts", jump.known_hosts);
}

void to_json(json& j, const HostInfo& host) {
  j = json{{"name", host.name}, {"backend", host.backend}, {"address", host.address},
           {"reachable", host.reachable}, {"cpus", host.cpus}, {"memory_mb", host.memory_mb},
           {"free_memory_mb", host.free_memory_mb}, {"running_vms", host.running_vms}};
  if (!host.error.empty()) j["error"] = host.error;
}

void to_json(json& j, const SharedFolder& folder) {
  j = json{{"host_path", folder.host_path}, {"guest_path", folder.guest_path}, {"read_only", folder.read_only}};
}

void from_json(const json& j, SharedFolder& folder) {
  require_object(j, "shared folder");
  folder = SharedFolder{};
  read(j, "host_path", folder.host_path);
  read(j, "guest_path", folder.guest_path);
  read(j, "read_only", folder.read_only);
}

void to_json(json& j, const DataDisk& disk) { j = json{{"name", disk.name}, {"size_gb", disk.size_gb}}; }

void from_json(const json& j, DataDisk& disk) {
  require_object(j, "data disk");
  disk = DataDisk{};
  read(j, "name", disk.name);
  read(j, "size_gb", disk.size_gb);
}

void to_json(json& j, const SnapshotInfo& s) {
  j = json{{"name", s.name},         {"created_unix", s.created_unix}, {"disk_bytes", s.disk_bytes},
           {"has_ram", s.has_ram},   {"ram_bytes", s.ram_bytes},       {"vm_clock_ms", s.vm_clock_ms}};
}

void from_json(const json& j, SnapshotInfo& s) {
  require_object(j, "snapshot");
  s = SnapshotInfo{};
  read(j, "name", s.name);
  read(j, "created_unix", s.created_unix);
  read(j, "disk_bytes", s.disk_bytes);
  read(j, "has_ram", s.has_ram);
  read(j, "ram_bytes", s.ram_bytes);
  read(j, "vm_clock_ms", s.vm_clock_ms);
}

// A network's static address is kept only when there is one, so records
// written before it existed (and those without one) read alike.
void to_json(json& j, const NetworkConfig& network) {
  j = json{{"mode", network_mode(network)}};
  if (auto* tap = std::get_if<TapNetwork>(&network)) j["bridge"] = tap->bridge;
  if (auto* vnic = std::get_if<VnicNetwork>(&network)) j["vnic"] = vnic->name;
  if (const StaticAddress* fixed = static_address(network)) {
    j["static"] = json{{"address", fixed->address}, {"gateway", fixed->gateway}, {"dns", fixed->dns}};
  }
}

namespace {

std::optional<StaticAddress> read_static_address(const json& network) {
  auto it = network.find("static");
  if (it == network.end() || it->is_null()) return std::nullopt;
  require_object(*it, "network.static");
  StaticAddress fixed;
  read(*it, "address", fixed.address);
  read(*it, "gateway", fixed.gateway);
  read(*it, "dns", fixed.dns);
  return fixed;
}

}  // namespace

void from_json(const json& j, NetworkConfig& network) {
  require_object(j, "network");
  std::string mode = "user";
  read(j, "mode", mode);
  if (mode == "user") {
    network = UserNetwork{};
  } else if (mode == "tap") {
    TapNetwork tap;
    read(j, "bridge", tap.bridge);
    tap.static_address = read_static_address(j);
    network = tap;
  } else if (mode == "vnic") {
    VnicNetwork vnic;
    read(j, "vnic", vnic.name);
    vnic.static_address = read_static_address(j);
    network = vnic;
  } else if (mode == "none") {
    network = NoNetwork{};
  } else {
    throw json::other_error::create(599, "unknown network mode '" + mode + "'", &j);
  }
}

// user_data is arbitrary bytes (it may be gzip), and JSON strings must be
// UTF-8, so it is stored as base64.
void to_json(json& j, const CloudInitConfig& config) {
  j = json{{"user_data_base64", util::base64_encode(config.user_data)},
           {"instance_id", config.instance_id},
           {"hostname", config.hostname}};
}

void from_json(const json& j, CloudInitConfig& config) {
  require_object(j, "cloud_init");
  config = CloudInitConfig{};
  std::string encoded;
  read(j, "user_data_base64", encoded);
  auto decoded = util::base64_decode(encoded);
  if (!decoded) throw json::other_error::create(599, "user_data_base64 is not valid base64", &j);
  config.user_data = std::move(*decoded);
  read(j, "instance_id", config.instance_id);
  read(j, "hostname", config.hostname);
}

void to_json(json& j, const SshConfig& config) {
  j = json{{"user", config.user},
           {"public_key", config.public_key},
           {"private_key_path", config.private_key_path}};
}

void from_json(const json& j, SshConfig& config) {
  require_object(j, "ssh");
  config = SshConfig{};
  read(j, "user", config.user);
  read(j, "public_key", config.public_key);
  read(j, "private_key_path", config.private_key_path);
}

void to_json(json& j, const VmSpec& spec) {
  j = json{{"name", spec.name},
           {"backend", optional_json(spec.backend)},
           {"image_path", spec.image_path},
           {"vcpus", spec.vcpus},
           {"memory_mb", spec.memory_mb},
           {"disk_gb", optional_json(spec.disk_gb)},
           {"network", spec.network},
           {"port_forwards", spec.port_forwards},
           {"shared_folders", spec.shared_folders},
           {"data_disks", spec.data_disks},
           {"cloud_init", optional_json(spec.cloud_init)},
           {"ssh", optional_json(spec.ssh)},
           {"uefi", spec.uefi},
           {"accel", spec.accel},
           {"vnc", spec.vnc},
           {"kernel", optional_json(spec.kernel)},
           {"initrd", optional_json(spec.initrd)},
           {"cmdline", optional_json(spec.cmdline)},
           {"backend_options", spec.backend_options}};
  if (spec.allow_unrecognised_raw_image) j["allow_unrecognised_raw_image"] = true;
}

void from_json(const json& j, VmSpec& spec) {
  require_object(j, "spec");
  spec = VmSpec{};
  read(j, "name", spec.name);
  read_backend(j, spec.backend);
  read(j, "image_path", spec.image_path);
  read(j, "vcpus", spec.vcpus);
  read(j, "memory_mb", spec.memory_mb);
  read(j, "disk_gb", spec.disk_gb);
  read(j, "network", spec.network);
  read(j, "port_forwards", spec.port_forwards);
  read(j, "shared_folders", spec.shared_folders);
  read(j, "data_disks", spec.data_disks);
  read(j, "cloud_init", spec.cloud_init);
  read(j, "ssh", spec.ssh);
  read(j, "uefi", spec.uefi);
  read(j, "accel", spec.accel);
  read(j, "vnc", spec.vnc);
  read(j, "kernel", spec.kernel);
  read(j, "initrd", spec.initrd);
  read(j, "cmdline", spec.cmdline);
  read(j, "allow_unrecognised_raw_image", spec.allow_unrecognised_raw_image);
  if (auto it = j.find("backend_options"); it != j.end() && !it->is_null()) {
    require_object(*it, "backend_options");
    it->get_to(spec.backend_options);
  }
}

void to_json(json& j, const BackendState& state) { j = json{{"version", state.version}, {"data", state.data}}; }

void from_json(const json& j, BackendState& state) {
  require_object(j, "backend_state");
  state = BackendState{};
  read(j, "version", state.version);
  if (auto it = j.find("data"); it != j.end() && !it->is_null()) {
    require_object(*it, "backend_state.data");
    state.data = *it;
  }
}

// vnc_password is never written: it is shown once, not kept.
void to_json(json& j, const VmHandle& h) {
  j = json{{"id", h.id},
           {"name", h.name},
           {"backend", h.backend},
           {"work_dir", h.work_dir},
           {"vcpus", h.vcpus},
           {"memory_mb", h.memory_mb},
           {"disk_gb", optional_json(h.disk_gb)},
           {"network", h.network},
           {"port_forwards", h.port_forwards},
           {"shared_folders", h.shared_folders},
           {"data_disks", h.data_disks},
           {"ssh_host", h.ssh_host},
           {"ssh_port", optional_json(h.ssh_port)},
           {"ssh_user", h.ssh_user},
           {"ssh_identity_file", h.ssh_identity_file},
           {"ssh_known_hosts", h.ssh_known_hosts},
           {"ssh_host_key_alias", h.ssh_host_key_alias},
           {"seed_iso_path", h.seed_iso_path},
           {"console_log", h.console_log},
           {"host", h.host},
           {"ssh_jump", h.ssh_jump ? json(*h.ssh_jump) : json(nullptr)},
           {"backend_state", h.backend_state}};
}

void from_json(const json& j, VmHandle& h) {
  require_object(j, "handle");
  h = VmHandle{};
  read(j, "id", h.id);
  read(j, "name", h.name);
  read_backend(j, h.backend);
  read(j, "work_dir", h.work_dir);
  read(j, "vcpus", h.vcpus);
  read(j, "memory_mb", h.memory_mb);
  read(j, "disk_gb", h.disk_gb);
  read(j, "network", h.network);
  read(j, "port_forwards", h.port_forwards);
  read(j, "shared_folders", h.shared_folders);
  read(j, "data_disks", h.data_disks);
  read(j, "ssh_host", h.ssh_host);
  read(j, "ssh_port", h.ssh_port);
  read(j, "ssh_user", h.ssh_user);
  read(j, "ssh_identity_file", h.ssh_identity_file);
  read(j, "ssh_known_hosts", h.ssh_known_hosts);
  read(j, "ssh_host_key_alias", h.ssh_host_key_alias);
  read(j, "seed_iso_path", h.seed_iso_path);
  read(j, "console_log", h.console_log);
  read(j, "host", h.host);
  read(j, "ssh_jump", h.ssh_jump);
  read(j, "backend_state", h.backend_state);
}

void to_json(json& j, const ConsoleEndpoint& endpoint) {
  if (auto* unix_socket = std::get_if<UnixSocketConsole>(&endpoint)) {
    j = json{{"kind", "unix_socket"}, {"path", unix_socket->path}};
  } else if (auto* ws = std::get_if<WebSocketConsole>(&endpoint)) {
    j = json{{"kind", "websocket"}, {"url", ws->url}, {"headers", ws->headers}};
  } else if (std::holds_alternative<BackendConsole>(endpoint)) {
    j = json{{"kind", "backend"}};
  } else {
    j = json{{"kind", "none"}};
  }
}

void from_json(const json& j, ConsoleEndpoint& endpoint) {
  require_object(j, "console endpoint");
  std::string kind = "none";
  read(j, "kind", kind);
  if (kind == "unix_socket") {
    UnixSocketConsole c;
    read(j, "path", c.path);
    endpoint = c;
  } else if (kind == "websocket") {
    WebSocketConsole c;
    read(j, "url", c.url);
    read(j, "headers", c.headers);
    endpoint = c;
  } else if (kind == "backend") {
    endpoint = BackendConsole{};
  } else {
    endpoint = NoConsole{};
  }
}

}  // namespace vm_manager
