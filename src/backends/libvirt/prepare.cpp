// LibvirtBackend::prepare: the VM's volumes on its host, then its domain.
#include <random>

#include <fmt/format.h>

#include "backends/libvirt/domain_xml.hpp"
#include "backends/libvirt/libvirt_backend.hpp"
#include "backends/libvirt/storage.hpp"
#include "backends/libvirt/vm_record.hpp"
#include "cloudinit/vm_seed.hpp"
#include "core/handle_from_spec.hpp"
#include "image/sha256.hpp"
#include "util/rollback.hpp"
#include "vm_manager/error.hpp"
#include "vm_manager/spec_check.hpp"

namespace vm_manager::libvirt {
namespace fs = std::filesystem;

namespace {

constexpr std::uint64_t kGiB = 1024ull * 1024 * 1024;

[[noreturn]] void unsupported(std::string what, std::string hint) {
  throw Error(errc::spec_invalid, fmt::format("the libvirt backend does not support {}", what), std::move(hint));
}

// What this backend cannot honour, refused before anything is made.
void check_supported(const VmSpec& spec) {
  if (spec.image_path.empty()) {
    throw Error(errc::spec_invalid, "the libvirt backend needs a disk image", "give the path of a disk image");
  }
  if (!spec.port_forwards.empty()) {
    unsupported("published ports", "reach the guest at its own address, or use the qemu backend");
  }
  if (!spec.shared_folders.empty()) unsupported("shared folders", "copy files into the guest over SSH, or use the qemu backend");
  if (!spec.data_disks.empty()) unsupported("data disks", "give the VM a larger disk, or use the qemu backend");
  if (spec.vnc == VncMode::tcp) unsupported("VNC over TCP with a password", "use VNC on its default socket: it listens on the host's loopback");
  if (std::holds_alternative<VnicNetwork>(spec.network)) {
    unsupported("VNIC networking (illumos)", "use user (the host's libvirt network), tap (a bridge) or none");
  }
}

// kvm when the host offers it and the spec allows it, else qemu (TCG);
// libvirt's test driver offers only "test".
std::string choose_domain_type(const Connection& connection, Accel accel, const Logger& log) {
  char* caps = api().virConnectGetCapabilities(connection.get());
  if (caps == nullptr) connection.fail("read the host's capabilities");
  std::vector<std::string> types = domain_types(caps);
  free(caps);  // NOLINT: libvirt hands out malloc'd strings
  auto offers = [&](const char* type) { return std::find(types.begin(), types.end(), type) != types.end(); };
  if (accel != Accel::tcg && offers("kvm")) return "kvm";
  if (accel == Accel::kvm) {
    throw Error(errc::spec_invalid, fmt::format("{} offers no KVM", connection.uri().text),
                "let the accelerator be chosen automatically, or use TCG");
  }
  if (offers("qemu")) {
    if (accel == Accel::automatic) log.warn("{} offers no KVM: the VM runs under TCG (slow)", connection.uri().text);
    return "qemu";
  }
  if (types.empty()) {
    throw Error(errc::libvirt_failed, fmt::format("{} offers no x86_64 guests", connection.uri().text),
                "install QEMU on that host (qemu-system-x86), then restart libvirtd");
  }
  return types.front();
}

std::string random_mac() {
  std::random_device random;
  return fmt::format("52:54:00:{:02x}:{:02x}:{:02x}", random() & 0xff, random() & 0xff, random() & 0xff);
}

Nic nic_for(const NetworkConfig& network, const std::string& libvirt_network) {
  if (std::holds_alternative<UserNetwork>(network)) return NetworkNic{libvirt_network};
  if (const auto* tap = std::get_if<TapNetwork>(&network)) return BridgeNic{tap->bridge};
  return NoNic{};
}

std::string existing_file(const std::string& path, std::string_view what) {
  std::error_code ec;
  if (!fs::is_regular_file(path, ec)) {
    throw Error(errc::spec_invalid, fmt::format("{} {} does not exist or is not a file", what, path),
                fmt::format("give the path of the {}", what));
  }
  return fs::absolute(path).lexically_normal().string();
}

}  // namespace

VmHandle LibvirtBackend::prepare(const VmSpec& spec) {
  validate_spec(spec);
  check_supported(spec);
  const Placement place = placement_from(spec.backend_options, config_);
  const LibvirtUri uri = parse_uri(place.uri);
  const std::string image = existing_file(spec.image_path, "image");
  const ImageFormat format = image_format(image);
  if (spec.disk_gb && *spec.disk_gb * kGiB < format.virtual_size) {
    throw Error(errc::spec_invalid,
                fmt::format("a disk of {} GB is smaller than the image ({:.1f} GB)", *spec.disk_gb,
                            double(format.virtual_size) / double(kGiB)),
                "leave the disk size out to keep the image's size, or give a larger one");
  }
  auto connection = connect(uri.text);
  if (connection->find_domain(spec.name)) {
    throw Error(errc::vm_already_exists, fmt::format("{} already has a domain '{}'", uri.text, spec.name),
                "pick another name; vmctl never touches a domain it did not make");
  }
  Storage storage(connection, place.pool);
  DomainDefinition d;
  const Accel accel = spec.accel == Accel::automatic ? config_.accel_override.value_or(Accel::automatic) : spec.accel;
  d.type = choose_domain_type(*connection, accel, config_.log);

  fs::path work_dir = data_dir_.create_vm_dir(spec.name);
  util::Rollback undo_dir([&] { data_dir_.remove_inside(work_dir); });
  VmHandle h = handle_from_spec(spec, kBackendId, work_dir);
  std::vector<std::string> made;  // volumes, deleted again when a later step fails
  util::Rollback undo_volumes([&] {
    for (const auto& volume : made) storage.remove(volume);
  });
  d.name = spec.name;
  d.vm_id = h.id;
  d.vcpus = spec.vcpus;
  d.memory_mb = spec.memory_mb;
  d.uefi = spec.uefi;
  d.nic = nic_for(spec.network, place.network);
  d.mac = std::holds_alternative<NoNic>(d.nic) ? "" : random_mac();
  cloudinit::write_vm_seed(spec, work_dir, h, d.mac);

  const std::string base = storage.ensure_base(image, image::sha256_file(image), data_dir_.root() / "libvirt-locks",
                                               config_.log);
  std::uint64_t capacity = spec.disk_gb ? *spec.disk_gb * kGiB : format.virtual_size;
  made.push_back(overlay_volume(h.id));
  Vol overlay = storage.create(volume_xml(made.back(), capacity, "qcow2", base, format.format), "the VM's disk");
  d.disk_path = storage.volume_path(overlay.get());
  auto upload = [&](const std::string& volume, const std::string& file) {
    made.push_back(volume);
    return storage.volume_path(storage.upload(volume, file).get());
  };
  if (!h.seed_iso_path.empty()) d.seed_path = upload(seed_volume(h.id), h.seed_iso_path);
  if (spec.kernel) d.kernel_path = upload(kernel_volume(h.id), existing_file(*spec.kernel, "kernel"));
  if (spec.initrd) d.initrd_path = upload(initrd_volume(h.id), existing_file(*spec.initrd, "initrd"));
  d.cmdline = spec.cmdline.value_or("");
  made.push_back(console_log_volume(h.id));
  d.console_log = storage.volume_path(storage.create(volume_xml(made.back(), 0, "raw"), "the console log").get());

  Domain domain(api().virDomainDefineXML(connection->get(), domain_xml(d).c_str()));
  if (!domain) connection->fail(fmt::format("define domain '{}'", spec.name));

  h.host = place.host;
  h.ssh_jump = ssh_jump_for(uri);
  h.console_log = uri.remote() ? "" : d.console_log;
  if (const StaticAddress* fixed = static_address(h.network)) h.ssh_host = address_ip(fixed->address);
  write_record({uri.text, place.pool, place.network, storage.path(), spec.uefi}, h);
  undo_volumes.commit();
  undo_dir.commit();
  return h;
}

}  // namespace vm_manager::libvirt
