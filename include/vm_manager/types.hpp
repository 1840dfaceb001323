// The value types shared by every backend: what a VM should be (VmSpec),
// what a prepared VM is (VmHandle) and what it is doing (VmState).
#pragma once

#include "vm_manager/export.hpp"

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include <nlohmann/json.hpp>

namespace vm_manager {

enum class VmState { preparing, prepared, running, suspended, stopped, failed, destroyed };

// auto: KVM when it works, else TCG with a warning.
enum class Accel { automatic, kvm, tcg };

// Where a VM's graphical console (VNC) listens. unix_socket ("unix"): a
// socket in the VM's private folder, which only its owner can open. tcp
// ("tcp"): a port on 127.0.0.1 that every local user can reach, so it asks
// for a password, a new one at each start (VmHandle::vnc_password).
enum class VncMode { unix_socket, tcp };

// A published port's transport ("tcp", "udp").
enum class PortProtocol { tcp, udp };

// Lowercase names used in JSON and on the command line ("running", "auto").
VM_MANAGER_API std::string_view to_string(VmState state);
VM_MANAGER_API std::string_view to_string(Accel accel);
VM_MANAGER_API std::string_view to_string(VncMode mode);
VM_MANAGER_API std::string_view to_string(PortProtocol protocol);
// Parsers return nullopt for an unknown name, so callers can give their own error.
VM_MANAGER_API std::optional<VmState> parse_vm_state(std::string_view text);
VM_MANAGER_API std::optional<Accel> parse_accel(std::string_view text);
VM_MANAGER_API std::optional<VncMode> parse_vnc_mode(std::string_view text);
VM_MANAGER_API std::optional<PortProtocol> parse_port_protocol(std::string_view text);

// Backends are named by string ids ("qemu"), which only the backend registry
// lists (backend_registry.hpp): nothing below it knows which exist. An id is
// 1-32 characters of a-z, 0-9 and '_', starting with a letter (it also names
// the backend's folder and its register_<id>_backend function).
VM_MANAGER_API bool is_backend_id(std::string_view text);

// A fixed guest address on a TAP or VNIC network. The guest sets it itself,
// from the network-config of its cloud-init seed, instead of asking DHCP;
// vmctl then reaches the guest there (VmHandle::ssh_host).
struct StaticAddress {
  std::string address;           // "IP/PREFIX", IPv4 or IPv6: "192.168.10.5/24", "fd00::5/64"
  std::string gateway;           // the default route's next hop, a plain IP; empty: no default route
  std::vector<std::string> dns;  // name servers, plain IPs
  bool operator==(const StaticAddress&) const = default;
};

// Networking: SLIRP user networking, a TAP joined to a bridge, an illumos VNIC, or none.
struct UserNetwork {
  bool operator==(const UserNetwork&) const = default;
};
struct TapNetwork {
  std::string bridge;
  std::optional<StaticAddress> static_address = std::nullopt;  // unset: the guest asks DHCP
  bool operator==(const TapNetwork&) const = default;
};
struct VnicNetwork {
  std::string name;
  std::optional<StaticAddress> static_address = std::nullopt;  // unset: the guest asks DHCP
  bool operator==(const VnicNetwork&) const = default;
};
struct NoNetwork {
  bool operator==(const NoNetwork&) const = default;
};
using NetworkConfig = std::variant<UserNetwork, TapNetwork, VnicNetwork, NoNetwork>;

// "user", "tap", "vnic" or "none".
VM_MANAGER_API std::string_view network_mode(const NetworkConfig& network);

// The static address of a TAP or VNIC network; nullptr when it has none
// (user and none networking never have one).
VM_MANAGER_API const StaticAddress* static_address(const NetworkConfig& network);

// The IP of "IP/PREFIX" (everything before the last '/'; all of it when
// there is none), e.g. for ssh_host.
VM_MANAGER_API std::string address_ip(std::string_view address);

// A host port that reaches a guest port (QEMU user networking's hostfwd).
// host_address is where the host listens: loopback unless asked otherwise.
struct PortForward {
  std::string host_address = "127.0.0.1";
  std::uint16_t host_port = 0;
  std::uint16_t guest_port = 0;
  PortProtocol protocol = PortProtocol::tcp;
  bool operator==(const PortForward&) const = default;
};

// A host folder shared into the guest (virtiofs), mounted at guest_path on
// every boot. Both paths are absolute.
struct SharedFolder {
  std::string host_path;
  std::string guest_path;
  bool read_only = false;
  bool operator==(const SharedFolder&) const = default;
};

// An extra, empty disk the VM keeps for its data: a qcow2 file in its work
// dir (qemu) or a zvol (propolis), attached as virtio-blk with serial=name,
// so the guest finds it as /dev/disk/by-id/virtio-NAME. Kept across stop and
// start, snapshotted with the VM, removed with it. The name follows the
// VM-name rules and has at most kMaxDataDiskNameLength characters (the
// virtio-blk serial holds 20 bytes).
struct DataDisk {
  std::string name;
  std::uint64_t size_gb = 0;
  bool operator==(const DataDisk&) const = default;
};
inline constexpr std::size_t kMaxDataDiskNameLength = 20;

// A saved state of a VM that it can go back to. The name follows the
// VM-name rules.
struct SnapshotInfo {
  std::string name;
  std::int64_t created_unix = 0;   // when it was taken, seconds since the epoch
  std::uint64_t disk_bytes = 0;    // the size (virtual) of the VM's disk it holds
  bool has_ram = false;            // it holds the RAM and device state: a restore resumes the guest
  std::uint64_t ram_bytes = 0;     // the size of that saved state; 0 without RAM
  std::uint64_t vm_clock_ms = 0;   // how long the guest had run when it was taken; 0 without RAM
  bool operator==(const SnapshotInfo&) const = default;
};

// Whether a snapshot of a running VM keeps its RAM and device state.
enum class SnapshotMemory { include, exclude };

// A change to a stopped VM's size (VmManager::resize). Unset fields stay as
// they are. The disk only grows.
struct VmResize {
  std::optional<std::uint32_t> vcpus;
  std::optional<std::uint64_t> memory_mb;
  std::optional<std::uint64_t> disk_gb;
  bool operator==(const VmResize&) const = default;
};

struct CloudInitConfig {
  std::string user_data;  // raw bytes; may be binary (e.g. gzip)
  std::string instance_id;
  std::string hostname;
  bool operator==(const CloudInitConfig&) const = default;
};

struct SshConfig {
  std::string user = "vm";
  std::string public_key;        // the key text itself ("ssh-ed25519 AAAA… comment")
  std::string private_key_path;  // where the matching private key lives
  bool operator==(const SshConfig&) const = default;
};

// What the user asks for. Backends validate what they cannot honour.
struct VmSpec {
  std::string name;
  std::optional<std::string> backend;  // a backend id; unset: the platform's default backend
  std::string image_path;
  std::uint32_t vcpus = 1;
  std::uint64_t memory_mb = 1024;
  std::optional<std::uint64_t> disk_gb;
  NetworkConfig network = UserNetwork{};
  std::vector<PortForward> port_forwards;    // user networking only
  std::vector<SharedFolder> shared_folders;
  std::vector<DataDisk> data_disks;
  std::optional<CloudInitConfig> cloud_init;
  std::optional<SshConfig> ssh;
  bool uefi = false;
  Accel accel = Accel::automatic;
  // A raw disk image (a file qemu-img finds no format in) must show a
  // partition table, a filesystem or a boot sector, and be at least one
  // sector long: an empty or text file named by mistake is refused
  // (image::unrecognised_raw). true uses such an image anyway, with a
  // warning to the log sink (a blank disk for a directly booted kernel).
  // Kept in the record only when true.
  bool allow_unrecognised_raw_image = false;

  // A record written before this field existed reads as unix_socket.
  VncMode vnc = VncMode::unix_socket;
  // Direct kernel boot.
  std::optional<std::string> kernel;
  std::optional<std::string> initrd;
  std::optional<std::string> cmdline;
  // Settings only one backend understands, by name; a backend ignores the
  // others'. propolis: "propolis_api", the address of the zone's
  // propolis-server, "IP/PREFIX" (the API VNIC's allowed-address).
  std::map<std::string, std::string> backend_options;

  bool operator==(const VmSpec&) const = default;
};

// A host that SSH to a guest goes through (OpenSSH's ProxyJump): a VM on a
// remote libvirt host has an address only that host's network reaches.
struct SshJumpHost {
  std::string user;  // empty: the local user's name
  std::string host;
  std::uint16_t port = 22;
  std::string identity_file;  // empty: the user's own keys (~/.ssh/id_ed25519, id_rsa…)
  std::string known_hosts;    // the file its host key must be in; empty: ~/.ssh/known_hosts
  bool operator==(const SshJumpHost&) const = default;
};

// A machine VMs are placed on, as a VMFile's `host` names it: the backend
// that reaches it and that backend's settings (libvirt: "connect", the URI,
// and optionally "pool" and "network").
struct HostSpec {
  std::string name;
  std::string backend;
  std::map<std::string, std::string> options;
  bool operator==(const HostSpec&) const = default;
};

// What a host reports of itself (vmctl hosts). When it cannot be reached,
// `reachable` is false, `error` says why and the numbers are 0.
struct HostInfo {
  std::string name;
  std::string backend;
  std::string address;  // where it is reached (a libvirt URI)
  bool reachable = false;
  std::string error;
  std::uint32_t cpus = 0;
  std::uint64_t memory_mb = 0;
  std::uint64_t free_memory_mb = 0;
  std::vector<std::string> running_vms;  // the names of the vmctl VMs running there
  bool operator==(const HostInfo&) const = default;
};

// What a backend keeps of a VM for itself, inside the VM's handle: opaque to
// everything but that backend, which reads and writes `data` (a JSON object)
// and brings an older `version` of it up to date.
struct BackendState {
  int version = 0;  // 0: nothing recorded yet
  nlohmann::json data = nlohmann::json::object();
  bool operator==(const BackendState&) const = default;
};

// Where a VM's password-protected VNC listens ("127.0.0.1:5901") and its
// password (at most 8 characters: VNC authentication uses no more).
struct VncPassword {
  std::string address;
  std::string password;
  bool operator==(const VncPassword&) const = default;
};

// Everything needed to find and control a prepared VM again, from any
// process; persisted as JSON. The fields are what code other than the
// backend reads (the store, SSH, the CLI): every backend fills those it has.
// What only the backend itself reads (paths of its disks and sockets, its
// process, its zone…) is in backend_state.
struct VmHandle {
  std::string id;  // random UUID, fixed at prepare
  std::string name;
  std::string backend;  // the id of the backend that made it
  std::string work_dir;

  std::uint32_t vcpus = 1;
  std::uint64_t memory_mb = 1024;
  std::optional<std::uint64_t> disk_gb;
  NetworkConfig network = UserNetwork{};
  // The forwards in force: the spec's, then those added or removed on the
  // running VM, so that the next start keeps them.
  std::vector<PortForward> port_forwards;
  std::vector<SharedFolder> shared_folders;
  std::vector<DataDisk> data_disks;

  std::string ssh_host;
  std::optional<std::uint16_t> ssh_port;
  // How vmctl logs in: the user, its private key, and a known_hosts file
  // holding the host key generated for this VM under ssh_host_key_alias
  // (an alias, so the entry holds whatever address and port the VM gets).
  std::string ssh_user;
  std::string ssh_identity_file;
  std::string ssh_known_hosts;
  std::string ssh_host_key_alias;
  // Set when the guest is reached through another machine (a remote libvirt
  // host): SSH connects there first, then on to ssh_host.
  std::optional<SshJumpHost> ssh_jump;
  // The machine the VM runs on, as the user named it (a VMFile host, or the
  // URI given to --connect); empty: this machine.
  std::string host;
  // The cloud-init NoCloud seed every backend's prepare writes (with
  // cloudinit::write_vm_seed); empty when the VM has none, so nothing waits
  // for cloud-init in it.
  std::string seed_iso_path;
  // A file the serial console's output is appended to, for backends that
  // keep one (qemu); empty for those that keep it themselves.
  std::string console_log;

  BackendState backend_state;

  // Set only in the handle a start returns, when the backend gave the VM's
  // VNC a new password (VncMode::tcp): for the caller to show once. It is
  // never persisted (to_json leaves it out, so a loaded handle has none):
  // the password exists in memory here and in QEMU, nowhere on disk.
  std::optional<VncPassword> vnc_password;

  bool operator==(const VmHandle&) const = default;
};

struct UnixSocketConsole {
  std::string path;
  bool operator==(const UnixSocketConsole&) const = default;
};
// A websocket console: connect to `url` sending `headers` on the upgrade.
struct WebSocketConsole {
  std::string url;
  std::vector<std::pair<std::string, std::string>> headers;
  bool operator==(const WebSocketConsole&) const = default;
};
// A console only the backend itself can open (a libvirt stream): ask it
// with Hypervisor::open_console.
struct BackendConsole {
  bool operator==(const BackendConsole&) const = default;
};
struct NoConsole {
  bool operator==(const NoConsole&) const = default;
};
using ConsoleEndpoint = std::variant<UnixSocketConsole, WebSocketConsole, BackendConsole, NoConsole>;

// What a console has shown so far, as its backend keeps it, and where to
// read on from: `follow` continues right after `data`, with no gap and no
// repeat.
struct ConsoleHistory {
  std::string data;
  ConsoleEndpoint follow = NoConsole{};
  bool operator==(const ConsoleHistory&) const = default;
};

}  // namespace vm_manager
