#include <filesystem>

#include <fmt/format.h>

#include "core/host_uri.hpp"
#include "os/files.hpp"
#include "vm_manager/error.hpp"
#include "vm_manager/names.hpp"
#include "vm_manager/spec_check.hpp"
#include "vmctl/commands.hpp"
#include "vmctl/publish.hpp"
#include "vmctl/data_disk_flag.hpp"
#include "vmctl/mount_flag.hpp"
#include "vmctl/vm_view.hpp"
#include "vmctl/wait_ready.hpp"

namespace vmctl {
using namespace vm_manager;
namespace fs = std::filesystem;
namespace {

struct CreateFlags {
  std::string name;
  std::string backend;
  std::string image;
  std::uint32_t vcpus = 1;
  std::uint64_t memory_mb = 1024;
  std::optional<std::uint64_t> disk_gb;
  std::string network = "user";
  std::string bridge;
  std::string vnic;
  std::string ip;  // a static guest address, ADDR/PREFIX
  std::string gateway;
  std::vector<std::string> dns;
  std::string accel = "auto";
  std::string vnc = "unix";
  bool uefi = false;
  std::string kernel;
  std::string initrd;
  std::optional<std::string> append;
  bool start = false;
  bool force = false;  // a raw image with nothing recognisable in it
  WaitFlags wait;
  // Images from a cache (URL, OCI reference or path).
  std::string image_url;
  std::string sha256;
  // Cloud-init and SSH.
  std::string ssh_user = "vm";
  std::string ssh_key;
  std::string ssh_private_key;
  std::string cloud_init;
  std::string hostname;
  std::string propolis_api;
  std::optional<std::string> connect;  // a libvirt URI: the host the VM is placed on
  std::vector<std::string> publish;  // [HOST_IP:]HOST_PORT:GUEST_PORT[/tcp|/udp]
  std::vector<std::string> mounts;  // HOST[:GUEST][:ro]
  std::vector<std::string> data_disks;  // SIZE[:NAME]
};

std::optional<std::string> existing_path(const std::string& path, std::string_view what) {
  if (path.empty()) return std::nullopt;
  fs::path absolute = fs::absolute(path);
  if (!fs::is_regular_file(absolute)) {
    throw Error(errc::spec_invalid, fmt::format("{} {} does not exist or is not a file", what, absolute.string()),
                fmt::format("pass the path of an existing {}", what));
  }
  return absolute.string();
}

// --ip and its companions; validate_spec checks the addresses themselves.
std::optional<StaticAddress> static_address_from(const CreateFlags& o) {
  if (o.ip.empty()) {
    if (!o.gateway.empty() || !o.dns.empty()) {
      throw Error(errc::spec_invalid, "--gateway and --dns need --ip: they are part of a static guest address",
                  "add --ip ADDR/PREFIX, or drop --gateway and --dns (DHCP gives them)");
    }
    return std::nullopt;
  }
  if (o.network == "user") {
    throw Error(errc::spec_invalid,
                "--ip needs --network tap or vnic: with user networking QEMU gives the guest its own private "
                "address, which vmctl reaches through a forwarded port",
                "add --network tap (or vnic), or drop --ip");
  }
  if (o.network == "none") {
    throw Error(errc::spec_invalid, "--ip needs --network tap or vnic: a VM with --network none has no NIC",
                "add --network tap (or vnic), or drop --ip");
  }
  return StaticAddress{o.ip, o.gateway, o.dns};
}

NetworkConfig network_from(const CreateFlags& o) {
  if (!o.bridge.empty() && o.network != "tap") {
    throw Error(errc::spec_invalid, "--bridge only applies to --network tap", "add --network tap, or drop --bridge");
  }
  if (!o.vnic.empty() && o.network != "vnic") {
    throw Error(errc::spec_invalid, "--vnic only applies to --network vnic", "add --network vnic, or drop --vnic");
  }
  std::optional<StaticAddress> fixed = static_address_from(o);
  if (o.network == "tap") return TapNetwork{o.bridge, fixed};
  if (o.network == "vnic") return VnicNetwork{o.vnic, fixed};
  if (o.network == "none") return NoNetwork{};
  return UserNetwork{};
}

// `--bridge BR` alone means TAP networking on BR, as in the first vmctl; an
// explicit other --network with --bridge stays an error (network_from).
void imply_tap_for_bridge(CreateFlags& o, const CLI::Option& network_option) {
  if (!o.bridge.empty() && network_option.count() == 0) o.network = "tap";
}

// `--connect URI` places the VM on a libvirt host, so it means --backend
// libvirt; another --backend with it is a contradiction on the command line.
void imply_libvirt_for_connect(CreateFlags& o) {
  if (!o.connect) return;
  if (!o.backend.empty() && o.backend != "libvirt") {
    throw CLI::ValidationError(fmt::format(
        "--connect places the VM on a libvirt host, but --backend is {}: drop --backend, or use --backend libvirt",
        o.backend));
  }
  o.backend = "libvirt";
}

// Bounded: a FIFO, a device or a huge file is refused before it is read.
std::string read_user_data(const std::string& path) {
  return os::read_regular_file(fs::absolute(path), kMaxUserDataBytes, "cloud-init user-data");
}

// The private key beside a public key file "KEY.pub", when the user gave
// only the public half.
std::string private_key_beside(const std::string& public_key_path) {
  fs::path pub = fs::absolute(public_key_path);
  if (pub.extension() != ".pub") return {};
  fs::path key = fs::path(pub).replace_extension();
  return fs::is_regular_file(key) ? key.string() : std::string();
}

SshConfig ssh_from(const CreateFlags& o) {
  if (!o.ssh_private_key.empty() && o.ssh_key.empty()) {
    throw Error(errc::spec_invalid, "--ssh-private-key needs --ssh-key", "pass the matching public key with --ssh-key PUB");
  }
  SshConfig ssh;
  ssh.user = o.ssh_user;
  if (!o.ssh_key.empty()) {
    ssh.public_key = read_ssh_public_key(*existing_path(o.ssh_key, "public key"));
    ssh.private_key_path = o.ssh_private_key.empty() ? private_key_beside(o.ssh_key)
                                                     : *existing_path(o.ssh_private_key, "private key");
  }
  return ssh;
}

std::optional<CloudInitConfig> cloud_init_from(const CreateFlags& o) {
  if (o.cloud_init.empty() && o.hostname.empty()) return std::nullopt;
  CloudInitConfig ci;
  if (!o.cloud_init.empty()) ci.user_data = read_user_data(o.cloud_init);
  ci.hostname = o.hostname;
  return ci;
}

// The image, for the manager to resolve: --image as the backend takes it (a
// file, or a propolis snapshot's name), or --image-url through the cache.
std::vector<SharedFolder> shared_folders_from(const CreateFlags& o) {
  std::vector<SharedFolder> folders;
  for (const std::string& mount : o.mounts) folders.push_back(parse_mount_flag(mount, fs::current_path()));
  return folders;
}

std::vector<DataDisk> data_disks_from(const CreateFlags& o) {
  std::vector<DataDisk> disks;
  for (const std::string& text : o.data_disks) disks.push_back(parse_data_disk_flag(text, disks.size() + 1));
  return disks;
}

std::string image_from(const CreateFlags& o) {
  if (!o.image.empty() && !o.image_url.empty()) {
    throw Error(errc::spec_invalid, "--image and --image-url exclude each other", "pass only one of them");
  }
  if (o.image_url.empty() && !o.sha256.empty()) {
    throw Error(errc::spec_invalid, "--sha256 needs --image-url", "add --image-url SRC");
  }
  return o.image_url.empty() ? o.image : o.image_url;
}

// --publish, each with its warning when other machines can reach it.
std::vector<PortForward> forwards_from(const CreateFlags& o) {
  std::vector<PortForward> forwards;
  for (const std::string& text : o.publish) forwards.push_back(parse_publish(text));
  return forwards;
}

void warn_about_reachable_ports(const VmSpec& spec) {
  for (const PortForward& forward : spec.port_forwards) warn_if_reachable_from_outside(forward);
}

VmSpec spec_from(const CreateFlags& o) {
  VmSpec spec;
  spec.name = o.name;
  if (!o.backend.empty()) spec.backend = o.backend;
  spec.ssh = ssh_from(o);
  spec.cloud_init = cloud_init_from(o);
  spec.image_path = image_from(o);
  spec.kernel = existing_path(o.kernel, "kernel");
  spec.initrd = existing_path(o.initrd, "initrd");
  spec.cmdline = o.append;
  if ((spec.initrd || spec.cmdline) && !spec.kernel) {
    throw Error(errc::spec_invalid, "--initrd and --append need --kernel", "add --kernel FILE for direct kernel boot");
  }
  spec.accel = parse_accel(o.accel).value_or(Accel::automatic);
  spec.uefi = o.uefi;
  spec.allow_unrecognised_raw_image = o.force;
  spec.vnc = parse_vnc_mode(o.vnc).value_or(VncMode::unix_socket);
  spec.vcpus = o.vcpus;
  spec.memory_mb = o.memory_mb;
  spec.disk_gb = o.disk_gb;
  spec.network = network_from(o);
  spec.port_forwards = forwards_from(o);
  if (!o.propolis_api.empty()) spec.backend_options["propolis_api"] = o.propolis_api;
  if (o.connect) {
    validate_host_uri(*o.connect);
    spec.backend_options["connect"] = *o.connect;
  }
  spec.shared_folders = shared_folders_from(o);
  spec.data_disks = data_disks_from(o);
  return spec;
}

VmRecord create_and_start(Context& ctx, const VmSpec& spec, const CreateFlags& o) {
  vm_manager::CreateOptions options;
  options.start = o.start;
  options.through_cache = !o.image_url.empty();
  if (!o.sha256.empty()) options.image_sha256 = o.sha256;
  options.progress = ctx.download_progress();
  options.on_created = [&](const VmRecord& created) {
    ctx.say(fmt::format("Created VM '{}' ({} backend)", spec.name, created.handle.backend));
  };
  VmRecord record = ctx.manager().create(spec, options);
  if (o.start) {
    ctx.say(fmt::format("Started VM '{}'", spec.name));
    show_vnc_password(record.handle);
  }
  return record;
}

void run_create(Context& ctx, const CreateFlags& o) {
  validate_vm_name(o.name);  // before anything touches the disk
  if (o.wait.wait && !o.start) {
    throw Error(errc::spec_invalid, "--wait needs --start", "add --start, or wait later with 'vmctl start --wait'");
  }
  if (ctx.manager().exists(o.name)) {  // with vmctl's advice, before a possibly long image download
    throw Error(errc::vm_already_exists, fmt::format("a VM named '{}' already exists", o.name),
                "choose another name, or remove it first with 'vmctl destroy " + o.name + "'");
  }
  VmSpec spec = spec_from(o);
  validate_spec(spec);  // a bad --hostname or user-data, before a possibly long image download
  warn_about_reachable_ports(spec);
  VmRecord record = create_and_start(ctx, spec, o);
  // The lock is released: others may use the VM while it boots.
  if (o.wait.wait) wait_until_ready(ctx, record.handle, o.wait);
}

// The --backend choices: what this build registers.
std::vector<std::string> backend_names() { return BackendRegistry::builtin().ids(); }

}  // namespace

void add_create_command(CLI::App& app, Context& ctx) {
  auto o = std::make_shared<CreateFlags>();
  auto* cmd = app.add_subcommand("create", "Create a VM (and start it with --start)");
  cmd->add_option("--name", o->name, "VM name: 1-63 of [A-Za-z0-9_.-], starting alphanumeric")->required();
  cmd->add_option("--backend", o->backend, "Backend to run it on (default: this platform's)")
      ->check(CLI::IsMember(backend_names()));
  cmd->add_option("--image", o->image, "Base disk image");
  cmd->add_option("--vcpus", o->vcpus, "Virtual CPUs")->capture_default_str()->check(CLI::Range(1u, 512u));
  cmd->add_option("--memory", o->memory_mb, "Memory in MB")
      ->capture_default_str()
      ->check(CLI::Range(std::uint64_t{16}, std::uint64_t{16} * 1024 * 1024));
  cmd->add_option("--disk", o->disk_gb, "Disk size in GB (default: the image's size)")
      ->check(CLI::Range(std::uint64_t{1}, std::uint64_t{64} * 1024));
  auto* network_option = cmd->add_option("--network", o->network, "Networking")
      ->capture_default_str()
      ->check(CLI::IsMember({"user", "tap", "vnic", "none"}));
  cmd->add_option("--bridge", o->bridge, "Bridge for --network tap (alone, it means --network tap)");
  cmd->add_option("--vnic", o->vnic, "VNIC for --network vnic");
  cmd->add_option("--ip", o->ip,
                  "Static guest address ADDR/PREFIX for --network tap or vnic (IPv4 or IPv6), set through "
                  "cloud-init's network-config instead of DHCP; vmctl reaches the guest there");
  cmd->add_option("--gateway", o->gateway, "Default gateway for --ip (a plain IP)");
  cmd->add_option("--dns", o->dns, "Name server for --ip (a plain IP; repeat for more, up to 3)")
      ->allow_extra_args(false);
  cmd->add_option("--accel", o->accel, "Accelerator: auto uses KVM when it works, else TCG")
      ->capture_default_str()
      ->check(CLI::IsMember({"auto", "kvm", "tcg"}));
  cmd->add_option("--vnc", o->vnc, "VNC console: unix (a socket only you can open) or tcp (127.0.0.1, password)")
      ->capture_default_str()
      ->check(CLI::IsMember({"unix", "tcp"}));
  cmd->add_flag("--uefi", o->uefi, "Boot with UEFI firmware (OVMF) instead of BIOS");
  cmd->add_option("--kernel", o->kernel, "Boot this kernel directly");
  cmd->add_option("--initrd", o->initrd, "Initial ramdisk for --kernel");
  cmd->add_option("--append", o->append, "Kernel command line for --kernel");
  cmd->add_option("--image-url", o->image_url, "Image to pull into the cache: http(s):// URL, oci:// reference or path");
  cmd->add_option("--sha256", o->sha256, "Expected SHA-256 of the --image-url download");
  cmd->add_option("--ssh-user", o->ssh_user, "Login user cloud-init creates")->capture_default_str();
  cmd->add_option("--ssh-key", o->ssh_key, "Public key to log in with (default: a new key pair for this VM)");
  cmd->add_option("--ssh-private-key", o->ssh_private_key,
                  "Private key matching --ssh-key (default: the --ssh-key path without .pub)");
  cmd->add_option("--cloud-init", o->cloud_init, "User-data file, merged with vmctl's own cloud-config");
  cmd->add_option("--hostname", o->hostname, "Guest hostname (default: the VM's name)");
  cmd->add_option("--publish,-p", o->publish,
                  "Publish a guest port on the host (user networking), [HOST_IP:]HOST_PORT:GUEST_PORT[/tcp|/udp]; "
                  "HOST_IP defaults to 127.0.0.1; repeatable")
      ->allow_extra_args(false);
  cmd->add_option("--propolis-api", o->propolis_api, "propolis: the zone's API address, IP/PREFIX");
  cmd->add_option("--connect", o->connect,
                  "libvirt URI of the host to place the VM on, e.g. qemu+ssh://USER@HOST/system (means --backend "
                  "libvirt)");
  cmd->add_option("--mount", o->mounts,
                  "Share a host folder over virtiofs: HOST[:GUEST][:ro] (GUEST defaults to HOST; repeatable)");
  cmd->add_option("--data-disk", o->data_disks,
                  "Add an empty disk of SIZE GB, serial NAME (default data1, data2…): SIZE[:NAME]; repeatable")
      ->allow_extra_args(false);
  cmd->add_flag("--start", o->start, "Start the VM once created");
  cmd->add_flag("--force", o->force,
                "Use a raw image with no partition table, filesystem or boot sector (or under 512 bytes)");
  add_wait_options(*cmd, o->wait);
  cmd->callback([&ctx, o, network_option] {
    imply_tap_for_bridge(*o, *network_option);
    imply_libvirt_for_connect(*o);
    run_create(ctx, *o);
  });
}

}  // namespace vmctl
